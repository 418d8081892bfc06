"""Signing on the tablet in a real browser: the canvas draws with pointer events under the strict CSP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from prpclinic.consents.models import SignedConsent
from tests.browser import sign_in_with_password
from tests.conftest import Personas, make_patient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def draw_on(page: Page, canvas_id: str) -> None:
    canvas = page.locator(f"#{canvas_id}")
    canvas.scroll_into_view_if_needed()  # the mouse works in viewport coordinates
    box = canvas.bounding_box()
    assert box is not None
    x, y = box["x"], box["y"] + box["height"] / 2
    page.mouse.move(x + 20, y)
    page.mouse.down()
    for step in range(1, 25):
        page.mouse.move(x + 20 + step * 12, y + (15 if step % 2 else -15))
    page.mouse.up()


def test_a_patient_signs_with_a_finger_on_the_tablet_and_the_record_shows_the_signature(
    live_server: Any, personas: Personas, page: Page, console_errors: list[str]
) -> None:
    base = str(live_server)
    patient = make_patient(personas.clinic_a, given_name="Clara", family_name="Weber")
    sign_in_with_password(page, base, personas.nurse)
    page.goto(f"{base}/consents/patients/{patient.pk}/sign/microneedling_prp/")
    expect(page.get_by_test_id("consent-text")).to_contain_text("How PRP differs from mesotherapy")
    expect(page.get_by_test_id("meaning")).to_contain_text("I consent to micro-needling with PRP")

    # Nothing drawn: refused, next to the signature box.
    page.get_by_label("Full name of the person signing").fill("Clara Weber")
    page.get_by_role("button", name="Sign and store").click()
    expect(page.locator("#id_signature_error")).to_contain_text("the signature is missing")

    # Drawn, cleared, drawn again; the name forgotten: the signature survives the refused form.
    draw_on(page, "pad-signature")
    page.get_by_role("button", name="Clear").first.click()
    assert page.locator("#id_signature").input_value() == ""
    draw_on(page, "pad-signature")
    assert page.locator("#id_signature").input_value().startswith("data:image/png;base64,")
    page.get_by_label("Full name of the person signing").fill("")
    page.get_by_role("button", name="Sign and store").click()
    expect(page.locator("#id_signer_name_error")).to_contain_text("Type the signer's full name.")
    assert SignedConsent.objects.count() == 0

    page.get_by_label("Full name of the person signing").fill("Clara Weber")
    page.get_by_role("button", name="Sign and store").click()

    expect(page.get_by_test_id("consent-record")).to_contain_text("Clara Weber — The patient")
    expect(page.get_by_role("img", name="Signature of Clara Weber")).to_be_visible()
    consent = SignedConsent.objects.get()
    assert bytes(consent.signature_png).startswith(b"\x89PNG")
    # The two refusals answer 400, which Chromium reports on the console: caused on purpose.
    assert [error for error in console_errors if "status of 400 (Bad Request)" not in error] == []
