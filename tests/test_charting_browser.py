"""The body map in a real browser: a zone tapped with a finger, clicked, or chosen with the keyboard.

Debian's Chromium driven by Playwright against the live server; no console errors and no
Content-Security-Policy violations allowed, except the 400 of a form that warns on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from prpclinic.treatments.selectors import current_protocol
from prpclinic.visits.models import Visit, ZoneEntry
from tests.browser import REPORT_CSP_VIOLATIONS, sign_in_with_password
from tests.conftest import Personas, make_patient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
expect.set_options(timeout=10_000)


def microneedling_visit(personas: Personas) -> Visit:
    clinic = personas.clinic_a
    return Visit.objects.create(
        clinic=clinic,
        patient=make_patient(clinic, given_name="Clara", family_name="Weber"),
        treatment="microneedling_prp",
        clinician=personas.physician,
        protocol=current_protocol(clinic_id=clinic.pk, kind="microneedling_prp"),
    )


def clean(errors: list[str]) -> list[str]:
    return [e for e in errors if "status of 400" not in e]


def test_a_nurse_charts_zones_by_click_and_keyboard_and_acknowledges_a_warning(
    live_server: object, personas: Personas, page: Page, console_errors: list[str]
) -> None:
    base = str(live_server)
    visit = microneedling_visit(personas)
    sign_in_with_password(page, base, personas.nurse)
    expect(page).to_have_url(base + "/")
    page.goto(f"{base}/visits/{visit.pk}/")

    forehead = page.locator('[data-zone="forehead"]')
    expect(forehead).to_have_attribute("aria-label", "Forehead, not charted")
    forehead.click()
    form = page.get_by_test_id("zone-form")
    expect(form).to_contain_text("Forehead")
    expect(forehead).to_have_attribute("aria-pressed", "true")
    form.get_by_label("Device").select_option("pen")
    form.get_by_label("Depth (mm)").fill("1.0")
    form.get_by_label("Passes").fill("3")
    form.get_by_label("PRP applied on this zone (mL)").fill("1")
    form.get_by_role("button", name="Chart Forehead").click()
    # Outside the protocol's range: warned, not saved, until acknowledged.
    expect(page.get_by_test_id("zone-warnings")).to_contain_text("1 mm is outside the protocol's range for Forehead")
    assert ZoneEntry.objects.count() == 0
    page.get_by_label("I have checked: record it anyway").check()
    page.get_by_role("button", name="Chart Forehead").click()
    expect(page).to_have_url(re.compile(rf"/visits/{visit.pk}/#entry-face-forehead$"))
    expect(page.locator('[data-zone="forehead"]')).to_have_attribute("aria-label", "Forehead, charted with a warning")

    # Keyboard only: focus the chin and press Enter.
    chin = page.locator('[data-zone="chin"]')
    chin.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("zone-form")).to_contain_text("Chin")
    expect(page.get_by_label("Device")).to_be_focused()
    page.get_by_label("Device").select_option("pen")
    page.get_by_label("Depth (mm)").fill("0.75")
    page.get_by_label("Passes").fill("2")
    page.get_by_role("button", name="Chart Chin").click()
    expect(page.locator('[data-zone="chin"]')).to_have_attribute("aria-label", "Chin, charted")
    assert ZoneEntry.objects.count() == 2
    page.wait_for_load_state("load")
    assert clean(console_errors) == [], console_errors


@pytest.fixture
def tablet(browser: Browser, console_errors: list[str]) -> Iterator[Page]:
    """A touch screen the size of a tablet (no hover, no mouse)."""
    context = browser.new_context(viewport={"width": 820, "height": 1180}, has_touch=True, is_mobile=True)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(str(e)))
    yield page
    context.close()


def test_a_zone_is_tapped_with_a_finger_on_a_tablet(
    live_server: object, personas: Personas, tablet: Page, console_errors: list[str]
) -> None:
    base = str(live_server)
    visit = microneedling_visit(personas)
    sign_in_with_password(tablet, base, personas.nurse)
    expect(tablet).to_have_url(base + "/")
    tablet.goto(f"{base}/visits/{visit.pk}/")
    cheek = tablet.locator('[data-zone="cheek_left"]')
    box = cheek.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 44  # a fingertip's target
    cheek.tap()
    expect(tablet.get_by_test_id("zone-form")).to_contain_text("Cheek, left")
    assert [e for e in console_errors if "favicon" not in e] == []
