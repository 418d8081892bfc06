"""The PRP chain in a real browser: Debian's Chromium driven by Playwright against the live server.

One patient's PRP from the draw to the application, entered through the pages a nurse uses,
with a deliberate wrong-patient scan at the bedside that must be stopped (full-screen red
stop naming both patients, product quarantined) until a physician releases the product.
A second, shorter test watches the day board's countdown tick.

Every page must load without console errors and without Content-Security-Policy violations;
the only errors allowed are the HTTP statuses we cause on purpose (409 for the stop page).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from prpclinic.clinics.models import User
from prpclinic.prp.models import Incident, Product, ProductStatus
from tests.browser import current_code, sign_in_with_password
from tests.conftest import Chain, Personas, clinic_request, make_patient
from tests.test_prp_chain import prepared_product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
expect.set_options(timeout=10_000)

BARCODE = re.compile(r"PRP-[A-Z0-9]+")


# --- helpers --------------------------------------------------------------------------------


def minutes_ago(minutes: int) -> str:
    """A ``datetime-local`` value ``minutes`` ago, as a nurse in the clinic types it."""
    # Forms read times in the clinic's zone (the chain fixture's clinic is in Europe/Vienna).
    vienna = zoneinfo.ZoneInfo("Europe/Vienna")
    return timezone.localtime(timezone.now() - dt.timedelta(minutes=minutes), vienna).strftime("%Y-%m-%dT%H:%M")


def unexpected(console_errors: list[str], *allowed: str) -> list[str]:
    """The console errors that are not one of the ``allowed`` endings (statuses caused on purpose)."""
    return [e for e in console_errors if not any(e.endswith(ending) for ending in allowed)]


def expect_clean(page: Page, console_errors: list[str], *allowed: str) -> None:
    """The page is fully loaded and nothing but the ``allowed`` errors reached the console."""
    page.wait_for_load_state("load")
    assert unexpected(console_errors, *allowed) == [], f"console errors by {page.url}"


def sign_in_nurse(page: Page, base: str, nurse: User) -> None:
    """The nurse has no second factor: email and password lead straight into the clinic."""
    sign_in_with_password(page, base, nurse)
    expect(page).to_have_url(base + "/")
    expect(page.get_by_test_id("active-clinic")).to_contain_text("Clinic A")
    expect(page.get_by_test_id("active-clinic")).to_contain_text("Nurse")


def sign_in_physician(page: Page, base: str, physician: User) -> None:
    sign_in_with_password(page, base, physician)
    expect(page).to_have_url(re.compile(r"/account/two-factor/$"))
    page.get_by_label("Six-digit code").fill(current_code(physician))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(base + "/")
    expect(page.get_by_test_id("active-clinic")).to_contain_text("Physician")


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/account/login/$"))
    expect(page.get_by_test_id("active-clinic")).to_have_count(0)


def scan(page: Page, code: str) -> None:
    """What a keyboard-wedge scanner does: type the code into the scan field, then Enter."""
    field = page.locator("#scan")
    expect(field).to_be_focused()
    field.press_sequentially(code)
    field.press("Enter")


def product_card(page: Page) -> Locator:
    cards = page.locator("section.product")
    expect(cards).to_have_count(1)
    return cards.first


def expect_status(page: Page, label: str) -> None:
    expect(product_card(page).locator("h3 .badge")).to_have_text(label)


def history(page: Page) -> list[tuple[str, str]]:
    """(from, to) of each row of the trace page's History table, oldest first."""
    section = page.locator("section.card", has=page.get_by_role("heading", name="History", exact=True))
    rows = section.locator("tr", has=page.locator("td"))
    moves = []
    for row in rows.all():
        cells = row.locator("td").all_inner_texts()
        moves.append((cells[2].strip(), cells[3].strip()))
    return moves


# --- the whole chain ------------------------------------------------------------------------


def test_the_whole_chain_for_one_patient_with_a_wrong_patient_scan_that_is_stopped(
    live_server: object, personas: Personas, chain: Chain, page: Page, console_errors: list[str]
) -> None:
    base = str(live_server)
    make_patient(
        personas.clinic_a, given_name="Paul", family_name="Novak", mrn="A000555", date_of_birth=dt.date(1972, 11, 2)
    )
    visit_url = f"{base}/visits/{chain.visit.pk}/"
    # The stop page answers 409 (Conflict), which Chromium reports on the console: caused on purpose.
    stopped = f"status of 409 (Conflict) ({base}/prp/verify/)"

    # 1. Sign in as the nurse; find the patient, open the chart, then the visit from its Visits table.
    sign_in_nurse(page, base, personas.nurse)
    page.get_by_role("navigation").get_by_role("link", name="Patients").click()
    expect(page).to_have_url(re.compile(r"/patients/$"))
    page.locator("#q").press_sequentially("Weber", delay=30)
    results = page.get_by_test_id("search-results")
    results.get_by_role("link", name="Weber, Clara").click()
    expect(page).to_have_url(f"{base}/patients/{chain.patient.pk}/")
    expect(page.get_by_test_id("patient-head")).to_contain_text("MRN A000100")
    expect_clean(page, console_errors)
    page.get_by_test_id("visits").get_by_role("link").first.click()
    expect(page).to_have_url(visit_url)
    expect(page.get_by_test_id("patient-head")).to_contain_text("Clara Weber")
    expect(page.get_by_text("No blood drawn yet for this visit.")).to_be_visible()
    expect_clean(page, console_errors)

    # 2. Draw blood, identity by wristband scan (the section is open while nothing was drawn).
    draw = page.locator(f"form[action$='/prp/draw/{chain.visit.pk}/']")
    expect(draw).to_be_visible()
    draw.get_by_label("Wristband scanned").check()
    draw.locator("[name=scanned_code]").fill("PT-A000100")
    draw.get_by_label("Drawn at").fill(minutes_ago(60))
    draw.get_by_label("Site").select_option("antecubital_left")
    draw.get_by_label("Whole blood drawn (mL)").fill("18")
    draw.get_by_label("Number of tubes").fill("2")
    draw.get_by_label("Tube lot").select_option(str(chain.tube_lot.pk))
    draw.get_by_label("Kit lot").select_option(str(chain.kit_lot.pk))
    draw.get_by_label("Anticoagulant").select_option("sodium_citrate_3_2")
    draw.get_by_label("Platelets (10³/µL)").fill("220")
    draw.get_by_role("button", name="Record the draw").click()

    expect(page).to_have_url(visit_url)
    expect(page.get_by_role("status")).to_contain_text("Blood drawn: product PRP-")
    expect_status(page, "Drawn")
    heading = product_card(page).locator("h3").inner_text()
    match = BARCODE.search(heading)
    assert match is not None, heading
    barcode = match.group(0)
    product = Product.objects.get()
    assert product.barcode == barcode and product.patient_id == chain.patient.pk
    expect(product_card(page)).to_contain_text("18.0 mL in 2 tube(s) · lot T-2026-01, kit K-77")
    expect(product_card(page)).to_contain_text("by Nina Nurse")
    expect_clean(page, console_errors)

    # 3. Spin 1 and spin 2 with the program, then prepare the PRP.
    spin_form = page.locator(f"form[action$='/prp/products/{product.pk}/spin/']")
    for number, started in ((1, 55), (2, 44)):
        page.locator("summary", has_text=f"Start spin {number}").click()
        expect(spin_form).to_be_visible()
        spin_form.get_by_label("Centrifuge").select_option(label=str(chain.centrifuge))
        spin_form.get_by_label("Program").select_option(label=str(chain.program))
        spin_form.get_by_label("Started at").fill(minutes_ago(started))
        spin_form.get_by_role("button", name="Start spin").click()
        expect(page).to_have_url(visit_url)
        expect(page.get_by_role("status")).to_contain_text(f"Spin started for {barcode}.")
        expect_status(page, "Spun")
        expect_clean(page, console_errors)
    card = product_card(page)
    expect(card).to_contain_text(re.compile(r"Spin 1\s*200 g \(14\d\d RPM\) × 10 min on Room 1"))
    expect(card).to_contain_text(re.compile(r"Spin 2\s*600 g \(24\d\d RPM\) × 10 min on Room 1"))
    expect(card.locator("[data-countdown]")).to_have_text(["done", "done"])  # both spins are over
    expect(page.locator("summary", has_text="Start spin")).to_have_count(0)  # a program has two spins

    prepare = page.locator(f"form[action$='/prp/products/{product.pk}/prepare/']")
    page.locator("summary", has_text="Prepare PRP").click()
    expect(prepare).to_be_visible()
    prepare.get_by_label("Prepared at").fill(minutes_ago(30))
    prepare.get_by_label("PRP volume (mL)").fill("3")
    prepare.get_by_label("PRP platelets (10³/µL)").fill("1100")
    prepare.get_by_role("button", name="Record preparation").click()
    expect(page).to_have_url(visit_url)
    expect(page.get_by_role("status")).to_contain_text(f"{barcode} prepared.")
    expect_status(page, "Prepared")
    expect(product_card(page)).to_contain_text("CF 5.00")  # 1100 / 220
    expect(product_card(page)).to_contain_text(re.compile(r"3\.00 mL at \d\d:\d\d · expires"))
    expect(product_card(page).locator("[data-countdown][data-done-text=EXPIRED]")).to_have_text(
        re.compile(r"^3:\d\d:\d\d left$")  # prepared 30 min ago, usable for 4 h
    )
    expect_clean(page, console_errors)

    # 4. At the bedside, the wrong wristband first: a full-screen stop, the product quarantined.
    page.get_by_role("navigation").get_by_role("link", name="Bedside").click()
    expect(page).to_have_url(f"{base}/prp/verify/")
    expect(page.get_by_role("heading", name="Bedside verification")).to_be_visible()
    expect_clean(page, console_errors)
    scan(page, "PT-A000555")
    expect(page.locator("[data-scan-message]")).to_have_text("Wristband read: PT-A000555")
    expect(page.locator("#id_patient_code")).to_have_value("PT-A000555")
    expect(page.locator("#id_product_code")).to_have_value("")
    scan(page, barcode)  # both slots filled: the form submits itself

    stop = page.get_by_test_id("wrong-patient")
    expect(stop).to_be_visible()
    expect(stop).to_have_attribute("role", "alertdialog")
    expect(stop.get_by_role("heading", name="STOP — WRONG PATIENT")).to_be_visible()
    expect(stop).to_contain_text("This PRP belongs to Clara Weber, born 1985-04-30, MRN A000100.")
    expect(stop).to_contain_text("The wristband scanned is Paul Novak, born 1972-11-02, MRN A000555.")
    expect(stop).to_contain_text(f"The product {barcode} is quarantined")
    expect(page.get_by_test_id("verified")).to_have_count(0)
    expect(page.get_by_role("link", name="Record the application")).to_have_count(0)
    box = stop.bounding_box()
    assert box is not None and box["width"] >= 1200 and box["height"] >= 800, f"the stop is not full-screen: {box}"
    expect_clean(page, console_errors, stopped)
    incident = Incident.objects.get()
    assert (incident.donor.mrn, incident.scanned_patient.mrn, incident.status) == ("A000100", "A000555", "open")

    # A tube label is refused by the scan field itself and fills no slot.
    stop.get_by_role("link", name="I have stopped — scan again").click()
    expect(page.get_by_test_id("wrong-patient")).to_have_count(0)
    scan(page, f"{barcode}-T1")
    expect(page.locator("[data-scan-message]")).to_contain_text("That is a tube label")
    expect(page.locator("[data-scan-message]")).to_have_class(re.compile(r"\bbad\b"))
    expect(page.locator("#id_patient_code")).to_have_value("")
    expect(page.locator("#id_product_code")).to_have_value("")
    # ...not even once the wristband is in: nothing is submitted.
    scan(page, "PT-A000100")
    scan(page, f"{barcode}-T2")
    expect(page.locator("[data-scan-message]")).to_contain_text("That is a tube label")
    expect(page.locator("#id_patient_code")).to_have_value("PT-A000100")
    expect(page.locator("#id_product_code")).to_have_value("")
    page.get_by_role("button", name="Clear").click()
    expect(page.locator("#id_patient_code")).to_have_value("")
    expect_clean(page, console_errors, stopped)

    page.goto(visit_url)
    expect_status(page, "Quarantined")
    expect(page.get_by_role("link", name="Verify at the bedside")).to_have_count(0)
    expect_clean(page, console_errors, stopped)

    # 5. A physician releases the product from the incident list.
    sign_out(page)
    sign_in_physician(page, base, personas.physician)
    page.get_by_role("navigation").get_by_role("link", name="Incidents").click()
    expect(page).to_have_url(f"{base}/prp/incidents/")
    incidents = page.get_by_test_id("incidents")
    row = incidents.locator("tr", has_text=barcode)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Weber, Clara (A000100)")
    expect(row).to_contain_text("Novak, Paul (A000555)")
    expect(row).to_contain_text("Nina Nurse")
    expect(row).to_contain_text("Open")
    expect_clean(page, console_errors, stopped)
    release = row.locator(f"form[action$='/prp/products/{product.pk}/release/']")
    release.get_by_placeholder("Why it is safe").fill("Label checked with Clara Weber; the scan was of the neighbour")
    release.get_by_role("button", name="Release").click()
    expect(page).to_have_url(f"{base}/prp/incidents/")
    expect(page.get_by_role("status")).to_contain_text(f"{barcode} released.")
    row = page.get_by_test_id("incidents").locator("tr", has_text=barcode)
    expect(row).to_contain_text("Product released — Phil Physician: Label checked with Clara Weber")
    expect(row.get_by_role("button")).to_have_count(0)
    expect_clean(page, console_errors, stopped)
    sign_out(page)

    # 6. The nurse again, at the right bedside: a match, then the application.
    sign_in_nurse(page, base, personas.nurse)
    page.goto(visit_url)
    expect_status(page, "Prepared")
    page.get_by_role("link", name="Verify at the bedside").click()
    expect(page).to_have_url(f"{base}/prp/verify/")
    scan(page, barcode)  # the order does not matter
    expect(page.locator("[data-scan-message]")).to_have_text(f"Syringe read: {barcode}")
    scan(page, "PT-A000100")
    verified = page.get_by_test_id("verified")
    expect(verified).to_be_visible()
    expect(verified.get_by_role("heading")).to_have_text("✓ Match — Clara Weber")
    expect(verified).to_contain_text(f"{barcode} · 3.00 mL autologous PRP")
    expect(page.get_by_test_id("wrong-patient")).to_have_count(0)
    expect_clean(page, console_errors, stopped)

    verified.get_by_role("link", name="Record the application").click()
    expect(page).to_have_url(f"{base}/prp/products/{product.pk}/apply/")
    expect(page.get_by_role("heading", name=f"Apply {barcode}")).to_be_visible()
    expect(page.locator(".card.ok")).to_contain_text("Clara Weber")
    expect(page.locator(".card.ok")).to_contain_text("CF 5.00")
    expect_clean(page, console_errors, stopped)
    page.locator("[name=zone_0]").fill("vertex")
    page.locator("[name=volume_0]").fill("2")
    page.locator("[name=zone_1]").fill("temples")
    page.locator("[name=volume_1]").fill("0.8")
    page.get_by_role("button", name="Record the application").click()

    expect(page).to_have_url(visit_url)
    expect(page.get_by_role("status")).to_contain_text(f"{barcode} applied and recorded.")
    expect_status(page, "Applied")
    expect(product_card(page).get_by_role("button", name="Discard")).to_have_count(0)
    expect_clean(page, console_errors, stopped)

    # The trace: every move of the product, the stop and its release, and the application.
    product_card(page).get_by_role("link", name="Trace").click()
    expect(page).to_have_url(f"{base}/prp/products/{product.pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Trace of {barcode}")
    expect(page.get_by_role("heading", level=1).locator(".badge")).to_have_text("Applied")
    expect_clean(page, console_errors, stopped)
    # The wrong scan met a prepared product (nothing was verified yet), and the release returns
    # it to the state it left: prepared.
    assert history(page) == [
        ("—", ProductStatus.DRAWN),
        (ProductStatus.DRAWN, ProductStatus.SPUN),
        (ProductStatus.SPUN, ProductStatus.PREPARED),
        (ProductStatus.PREPARED, ProductStatus.QUARANTINED),
        (ProductStatus.QUARANTINED, ProductStatus.PREPARED),
        (ProductStatus.PREPARED, ProductStatus.VERIFIED),
        (ProductStatus.VERIFIED, ProductStatus.APPLIED),
    ]
    history_table = page.locator("section.card", has=page.get_by_role("heading", name="History", exact=True))
    expect(history_table).to_contain_text("wrong patient scanned at the bedside (A000555 instead of A000100)")
    expect(history_table).to_contain_text("released: Label checked with Clara Weber")
    expect(history_table).to_contain_text("Phil Physician")

    scans = page.locator("section.card", has=page.get_by_role("heading", name="Bedside scans"))
    expect(scans.locator("tr", has_text="PT-A000555")).to_contain_text("Wrong patient")
    expect(scans.locator("tr", has_text="PT-A000100")).to_contain_text("Match")
    expect(page.locator("section.card", has=page.get_by_role("heading", name="Incidents"))).to_contain_text(
        "wrong patient A000555 scanned by Nina Nurse — Product released by Phil Physician"
    )
    application = page.locator("section.card", has=page.get_by_role("heading", name="Application"))
    expect(application).to_contain_text("by Nina Nurse: vertex 2.00 mL, temples 0.80 mL (total 2.80 mL)")
    expect(application).to_contain_text("Remainder 0.20 mL disposed by Nina Nurse")
    spins = page.locator("section.card", has=page.get_by_role("heading", name="Spins"))
    expect(spins).to_contain_text(re.compile(r"Spin 1: 200 g \(14\d\d RPM at 8\.60 cm\) × 10 min"))
    expect(spins).to_contain_text(re.compile(r"Spin 2: 600 g \(24\d\d RPM at 8\.60 cm\) × 10 min"))
    expect(spins).to_contain_text("program “Double spin”")

    product.refresh_from_db()
    assert product.status == ProductStatus.APPLIED
    # 7. Nothing on the console but the 409 of the stop page.
    assert unexpected(console_errors, stopped) == []
    assert any(e.endswith(stopped) for e in console_errors), "the stop page should have answered 409"


# --- the day board --------------------------------------------------------------------------


def test_the_day_board_shows_the_product_with_a_live_countdown(
    live_server: object, personas: Personas, chain: Chain, page: Page, console_errors: list[str]
) -> None:
    base = str(live_server)
    product = prepared_product(clinic_request(personas.nurse, personas.clinic_a), chain)

    sign_in_nurse(page, base, personas.nurse)
    page.get_by_role("navigation").get_by_role("link", name="PRP board").click()
    expect(page).to_have_url(f"{base}/prp/board/")
    expect(page.get_by_role("heading", name="PRP day board")).to_be_visible()
    row = page.get_by_test_id("board").locator("tr", has_text=product.barcode)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Weber, Clara")
    expect(row.locator(".badge")).to_have_text("Prepared")
    expect(row.locator("td").nth(3).locator("[data-countdown]")).to_have_text("done ✓")  # spin 2 ended long ago

    countdown = row.locator("[data-countdown][data-done-text=EXPIRED]")
    expect(countdown).to_have_text(re.compile(r"^3:\d\d:\d\d left$"))  # prepared 30 min ago, 4 h to use
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first, timeout=2_500)  # ticks every second
    second = countdown.inner_text()
    assert re.fullmatch(r"3:\d\d:\d\d left", second), second
    assert second < first, (first, second)  # counting down, not up
    expect(countdown).not_to_have_class(re.compile(r"countdown-(warn|done)"))
    expect_clean(page, console_errors)
    assert console_errors == []
