"""The live camera path in a real browser: Chromium's fake camera, the first photo as framing guide, a shot saved.

This module launches its own Chromium with a fake camera device (the shared one has none).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from prpclinic.outcomes.models import Photo
from tests.browser import CHROMIUM_ARGS, sign_in_with_password
from tests.conftest import Personas, make_patient
from tests.factories_consents import consent_signed
from tests.test_outcomes_browser import take_photo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Chromium is not installed (apt-get install -y chromium).", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS + FAKE_CAMERA
        )
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_a_photo_taken_with_the_live_camera_over_the_first_photos_guide_is_saved(
    live_server: object, personas: Personas, page: Page, console_errors: list[str]
) -> None:
    base = str(live_server)
    patient = make_patient(personas.clinic_a)
    consent_signed(clinic=personas.clinic_a, patient=patient, treatment="photography", by=personas.nurse)
    sign_in_with_password(page, base, personas.nurse)
    expect(page).to_have_url(base + "/")
    take_photo(page, base, patient.pk, "1", "#603020")
    first = Photo.objects.get()

    page.goto(f"{base}/outcomes/patients/{patient.pk}/photos/new/")
    page.get_by_label("View").select_option(label="Scalp, vertex")
    guide = page.locator("[data-camera-guide]")
    expect(guide).to_have_attribute("src", f"/outcomes/photos/{first.pk}/outline/")
    expect(guide).to_be_visible()
    # The outline loads (a PNG made by the server from the first photo).
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-camera-guide]'); return i.complete && i.naturalWidth > 0; }"
    )
    page.get_by_label("Photo", exact=True).check()
    expect(guide).to_have_attribute("src", f"/outcomes/photos/{first.pk}/full/")
    page.get_by_label("Outline", exact=True).check()
    expect(guide).to_have_attribute("src", f"/outcomes/photos/{first.pk}/outline/")
    page.get_by_role("button", name="Open the live camera").click()
    shoot = page.get_by_role("button", name="Take the photo")
    expect(shoot).to_be_enabled()
    shoot.click()
    expect(page.locator("[data-camera-status]")).to_have_text("Photo taken: check it below, then save.")
    expect(page.locator("[data-camera-canvas]")).to_be_visible()
    page.get_by_label("Session number").fill("2")
    page.get_by_role("button", name="Save photo").click()
    expect(page.get_by_role("status")).to_contain_text("Photo saved: Scalp, vertex.")
    shot = Photo.objects.exclude(pk=first.pk).get()
    assert (shot.session_number, shot.view, shot.content_type) == (2, "scalp_vertex", "image/jpeg")
    assert shot.width > 0 and shot.height > 0
    page.wait_for_load_state("load")
    assert console_errors == [], f"console errors by {page.url}"
