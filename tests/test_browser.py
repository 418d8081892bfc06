"""End to end in a real browser: Debian's Chromium driven by Playwright against the live server.

The scenario of the issue: log in with two-factor, create a patient, find them by typing part
of the name, open the chart, log out. Assertions are on what a user sees. Every page must load
without console errors and without Content-Security-Policy violations.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, expect, sync_playwright

from prpclinic.clinics.models import User
from prpclinic.patients.models import Patient
from tests.conftest import PASSWORD, Personas, make_patient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
expect.set_options(timeout=10_000)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Injected before any page script; CSP does not apply to it. A blocked script, style or request
# fires `securitypolicyviolation`, which we turn into a console error the test collects.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "Chromium is not installed: the browser tests need Debian's chromium "
            "(apt-get install -y chromium). Do not run `playwright install`.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def console_errors() -> list[str]:
    """Console errors, uncaught exceptions and CSP violations seen by the page fixture."""
    return []


@pytest.fixture
def page(browser: Browser, console_errors: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    context.set_default_timeout(10_000)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        source = message.location.get("url", "")
        # Chromium asks for /favicon.ico on its own; the app does not serve one (not a page error).
        if message.type == "error" and not source.endswith("/favicon.ico"):
            console_errors.append(f"{page.url}: {message.text} ({source})")

    def on_page_error(error: Error) -> None:
        console_errors.append(f"{page.url}: uncaught {error.name}: {error.message}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    yield page
    context.close()


def current_code(user: User, offset: int = 0) -> str:
    """The code the user's authenticator shows now (``offset`` steps later or earlier)."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    code = totp(device.bin_key, step=device.step, t0=device.t0 - offset * device.step, digits=device.digits)
    return f"{code:0{device.digits}d}"


def sign_in_with_password(page: Page, base_url: str, user: User) -> None:
    page.goto(base_url + "/")
    expect(page).to_have_url(re.compile(r"/account/login/"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.fill("input[name=username]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()


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
