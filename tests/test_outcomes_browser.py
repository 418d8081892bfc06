"""Outcomes in a real browser: photos of two sessions, their comparison, hair density twice and its chart.

Every page must load without console errors or Content-Security-Policy violations.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from prpclinic.outcomes.models import Photo, Score
from tests.browser import sign_in_with_password
from tests.conftest import Personas, make_patient
from tests.factories_consents import consent_signed
from tests.test_outcomes_photos import jpeg

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
expect.set_options(timeout=10_000)


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def clean(page: Page, console_errors: list[str]) -> None:
    page.wait_for_load_state("load")
    assert console_errors == [], f"console errors by {page.url}"


def take_photo(page: Page, base: str, patient_id: int, session: str, color: str) -> None:
    page.goto(f"{base}/outcomes/patients/{patient_id}/photos/new/")
    page.get_by_label("View").select_option(label="Scalp, vertex")
    page.get_by_label("Session number").fill(session)
    page.locator("[data-photo-input]").set_input_files(
        {"name": f"vertex-{session}.jpg", "mimeType": "image/jpeg", "buffer": jpeg(400, 300, exif=True, color=color)}
    )
    page.get_by_role("button", name="Save photo").click()
    expect(page.get_by_role("status")).to_contain_text("Photo saved: Scalp, vertex.")


def test_a_nurse_photographs_two_sessions_compares_them_and_charts_hair_density(
    live_server: object, personas: Personas, page: Page, console_errors: list[str]
) -> None:
    base = str(live_server)
    patient = make_patient(personas.clinic_a, given_name="Clara", family_name="Weber")
    consent_signed(clinic=personas.clinic_a, patient=patient, treatment="photography", by=personas.nurse)
    sign_in_with_password(page, base, personas.nurse)
    expect(page).to_have_url(base + "/")

    take_photo(page, base, patient.pk, "1", "#603020")
    clean(page, console_errors)
    # The second time, the first vertex photo is the camera's framing guide.
    page.goto(f"{base}/outcomes/patients/{patient.pk}/photos/new/")
    expect(page.get_by_role("heading", name="Live camera")).to_be_visible()
    page.get_by_label("View").select_option(label="Scalp, vertex")
    first = Photo.objects.get()
    expect(page.locator("[data-camera-guide]")).to_have_attribute("src", f"/outcomes/photos/{first.pk}/outline/")
    clean(page, console_errors)
    take_photo(page, base, patient.pk, "3", "#a07050")
    expect(page.get_by_test_id("photos-scalp_vertex").get_by_role("img")).to_have_count(2)
    clean(page, console_errors)

    page.get_by_role("link", name="Compare", exact=True).first.click()
    side = page.get_by_test_id("side-by-side")
    expect(side).to_contain_text(re.compile(r"Before: \d{4}-\d\d-\d\d · session 1"))
    expect(side).to_contain_text(re.compile(r"After: \d{4}-\d\d-\d\d · session 3"))
    after = page.locator("[data-compare-after]")
    page.get_by_label("Before ◀ ▶ after").fill("80")
    expect(after).to_have_attribute("style", re.compile(r"clip-path: inset\(0px 0px 0px 80%\)"))
    page.get_by_label("Overlay").check()
    expect(after).to_have_attribute("style", re.compile(r"opacity: 0\.8"))
    clean(page, console_errors)

    for on, value in ((dt.date.today() - dt.timedelta(days=90), "141.9"), (dt.date.today(), "177.5")):
        page.goto(f"{base}/outcomes/patients/{patient.pk}/scores/hair_density/")
        expect(page.get_by_test_id("scale-definition")).to_contain_text("Hairs per square centimetre")
        page.get_by_label("Hair density (hairs/cm²)").fill(value)
        page.get_by_label("Date").fill(on.isoformat())
        page.get_by_role("button", name="Record").click()
        expect(page.get_by_role("status")).to_contain_text("Hair density recorded.")
        clean(page, console_errors)
    assert Score.objects.filter(patient=patient).count() == 2

    page.get_by_role("link", name="Progress charts").click()
    chart = page.get_by_test_id("chart-hair_density")
    expect(chart.locator("svg")).to_be_visible()
    expect(chart.locator("svg circle")).to_have_count(2)
    expect(chart.locator("svg")).to_contain_text("141.9")
    expect(chart.locator("svg")).to_contain_text("177.5")
    clean(page, console_errors)

    # On a tablet held upright the chart fits the screen; printed, only the charts remain.
    page.set_viewport_size({"width": 768, "height": 1024})
    box = chart.locator("svg").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 768
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    page.emulate_media(media="print")
    expect(chart.locator("svg")).to_be_visible()
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    expect(page.get_by_role("navigation", name="Outcomes")).to_be_hidden()
    page.emulate_media(media="screen")
