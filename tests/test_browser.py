"""End to end in a real browser: Debian's Chromium driven by Playwright against the live server.

The scenario of the issue: log in with two-factor, create a patient, find them by typing part
of the name, open the chart, log out. Assertions are on what a user sees. Every page must load
without console errors and without Content-Security-Policy violations.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from prpclinic.patients.models import Patient
from tests.browser import current_code, sign_in_with_password
from tests.conftest import Personas, make_patient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
expect.set_options(timeout=10_000)


def expect_clean_page_of_clinic(page: Page, name: str, console_errors: list[str]) -> None:
    """The page shows the active clinic and loaded without console errors or CSP violations."""
    expect(page.get_by_test_id("active-clinic")).to_contain_text(name)
    page.wait_for_load_state("load")
    assert console_errors == [], f"console errors by {page.url}"


def test_a_physician_signs_in_with_two_factor_registers_finds_and_opens_a_patient_and_signs_out(
    live_server: object, personas: Personas, page: Page, console_errors: list[str]
) -> None:
    base = str(live_server)
    # Someone else's patients: the Clinic A search must not show Clinic B's "Kowalczyk".
    make_patient(personas.clinic_a)
    make_patient(personas.clinic_b, given_name="Karl", family_name="Kowalczyk")

    # Log in with two-factor: the password alone leads to the code step, not into the clinic.
    sign_in_with_password(page, base, personas.physician)
    expect(page).to_have_url(re.compile(r"/account/two-factor/$"))
    expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
    expect(page.get_by_test_id("active-clinic")).to_have_count(0)
    page.get_by_label("Six-digit code").fill(current_code(personas.physician))
    page.get_by_role("button", name="Verify").click()

    expect(page).to_have_url(base + "/")
    expect_clean_page_of_clinic(page, "Clinic A", console_errors)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    # Create a patient.
    page.get_by_role("navigation").get_by_role("link", name="Patients").click()
    expect(page).to_have_url(re.compile(r"/patients/$"))
    expect_clean_page_of_clinic(page, "Clinic A", console_errors)
    page.get_by_role("link", name="Register a patient").click()
    expect(page).to_have_url(re.compile(r"/patients/new/$"))
    expect(page.get_by_role("heading", name="Register a patient")).to_be_visible()
    expect_clean_page_of_clinic(page, "Clinic A", console_errors)
    page.fill("#id_given_name", "Zofia")
    page.fill("#id_family_name", "Kowalczyk-Brenner")
    page.fill("#id_date_of_birth", "1979-03-14")
    page.select_option("#id_sex", "female")
    page.fill("#id_phone", "+43 660 1234567")
    page.fill("#id_email", "zofia@example.test")
    page.fill("#id_allergies", "Chlorhexidine")
    page.get_by_role("button", name="Register").click()

    patient = Patient.objects.get(clinic=personas.clinic_a, family_name="Kowalczyk-Brenner")
    assert patient.mrn.startswith("A"), patient.mrn
    expect(page).to_have_url(f"{base}/patients/{patient.pk}/")
    expect_clean_page_of_clinic(page, "Clinic A", console_errors)
    expect(page.get_by_role("status")).to_contain_text(f"Zofia Kowalczyk-Brenner registered as {patient.mrn}")
    head = page.get_by_test_id("patient-head")
    expect(head).to_contain_text("Zofia Kowalczyk-Brenner")
    expect(head).to_contain_text("born 1979-03-14")
    expect(head).to_contain_text(f"MRN {patient.mrn}")

    # Find them by typing part of the name (typed key by key, so htmx's input trigger fires).
    page.get_by_role("link", name="Today").click()
    expect(page).to_have_url(base + "/")
    expect_clean_page_of_clinic(page, "Clinic A", console_errors)
    results = page.locator("#results")
    expect(results).to_be_empty()
    page.locator("#q").press_sequentially("owalcz", delay=40)
    rows = results.get_by_test_id("search-results").locator("tr", has=page.get_by_role("link"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Kowalczyk-Brenner, Zofia")
    expect(rows.first).to_contain_text("1979-03-14")
    expect(rows.first).to_contain_text(patient.mrn)
    expect(results).not_to_contain_text("Karl")
    expect(results).not_to_contain_text("Berger")

    # Open the chart from the result.
    rows.first.get_by_role("link", name="Kowalczyk-Brenner, Zofia").click()
    expect(page).to_have_url(f"{base}/patients/{patient.pk}/")
    expect_clean_page_of_clinic(page, "Clinic A", console_errors)
    expect(page.get_by_test_id("patient-head")).to_contain_text(f"MRN {patient.mrn}")
    expect(page.get_by_role("heading", name="Allergies")).to_be_visible()
    expect(page.locator("section.allergy")).to_contain_text("Chlorhexidine")

    # Log out: the login page, and the patient list is closed again.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/account/login/$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_test_id("active-clinic")).to_have_count(0)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    page.goto(base + "/patients/")
    expect(page).to_have_url(re.compile(r"/account/login/\?next=/patients/$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    assert console_errors == []


def test_a_wrong_two_factor_code_shows_an_error_and_does_not_let_the_user_in(
    live_server: object, personas: Personas, page: Page, console_errors: list[str]
) -> None:
    base = str(live_server)
    make_patient(personas.clinic_a)
    # A six-digit code the authenticator does not show now, nor one step before or after.
    valid = {current_code(personas.physician, offset) for offset in range(-3, 4)}
    wrong = next(code for code in ("000000", "123456", "999999", "424242") if code not in valid)

    sign_in_with_password(page, base, personas.physician)
    expect(page).to_have_url(re.compile(r"/account/two-factor/$"))
    page.get_by_label("Six-digit code").fill(wrong)
    page.get_by_role("button", name="Verify").click()

    expect(page).to_have_url(re.compile(r"/account/two-factor/$"))
    expect(page.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
    expect(page.locator(".errorlist")).to_contain_text("That code is not right")
    expect(page.get_by_test_id("active-clinic")).to_have_count(0)

    # Typing a URL does not get around the code step.
    for path in ("/", "/patients/"):
        page.goto(base + path)
        expect(page).to_have_url(re.compile(r"/account/two-factor/$"))
        expect(page.get_by_test_id("active-clinic")).to_have_count(0)
        expect(page.get_by_text("Anna")).to_have_count(0)

    # The rejected form answers 400, which Chromium reports on the console; nothing else may.
    rejected = f"status of 400 (Bad Request) ({base}/account/two-factor/)"
    assert [e for e in console_errors if not e.endswith(rejected)] == []
