"""Issue #4's four flows in a real browser: Debian's Chromium driven by Playwright against the live server.

(a) a first visit of micro-needling with PRP, from registering the patient to aftercare;
(b) a scalp PRP visit; (c) a mesotherapy visit by a physician; (d) a patient on anticoagulants
whose visit start is refused until a physician clears the screening.

Everything the issue names is done by clicking through the pages a nurse or physician uses.
Only the clinic's equipment (centrifuge, spin program, tube and kit lots) is made with the ORM,
as the other browser tests do. Every page must load without console errors or CSP violations;
the only errors allowed are the HTTP statuses a refused form answers on purpose (400).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from prpclinic.clinics.models import Clinic, User
from prpclinic.patients.models import Patient
from prpclinic.prp.models import Product, ProductStatus
from prpclinic.visits.models import Visit, VisitStatus, ZoneEntry
from tests.browser import current_code, sign_in_with_password
from tests.conftest import Lab, Personas, make_lab, make_patient
from tests.test_consents_browser import draw_on

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
expect.set_options(timeout=10_000)

BARCODE = re.compile(r"PRP-[A-Z0-9]+")
# A refused form answers 400, which Chromium reports on the console: caused on purpose.
REFUSED = "status of 400 (Bad Request)"


# --- set-up made with the ORM: the clinic's equipment ------------------------------------------


@pytest.fixture
def lab(personas: Personas) -> Lab:
    """A centrifuge with a two-spin program, a tube lot and a kit lot (as in conftest's ``chain``)."""
    return make_lab(personas.clinic_a)


# --- helpers: what a user does ------------------------------------------------------------------


def minutes_ago(clinic: Clinic, minutes: int) -> str:
    """A ``datetime-local`` value ``minutes`` ago in the clinic's zone, as a nurse types it."""
    zone = zoneinfo.ZoneInfo(clinic.timezone)
    return timezone.localtime(timezone.now() - dt.timedelta(minutes=minutes), zone).strftime("%Y-%m-%dT%H:%M")


def flash(page: Page) -> Locator:
    """The message the page shows after an action (the list of messages at the top)."""
    return page.locator(".messages").get_by_role("status")


def expect_clean(page: Page, console_errors: list[str]) -> None:
    """The page is loaded and nothing but the 400s of forms refused on purpose reached the console."""
    page.wait_for_load_state("load")
    unexpected = [e for e in console_errors if REFUSED not in e]
    assert unexpected == [], f"console errors by {page.url}"


def sign_in_nurse(page: Page, base: str, nurse: User) -> None:
    sign_in_with_password(page, base, nurse)
    expect(page).to_have_url(base + "/")
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


def open_chart(page: Page, base: str, patient: Patient) -> None:
    """Find the patient by typing part of the family name, then open the chart from the result."""
    page.get_by_role("navigation").get_by_role("link", name="Patients").click()
    page.locator("#q").press_sequentially(patient.family_name[:5], delay=20)
    page.get_by_test_id("search-results").get_by_role(
        "link", name=f"{patient.family_name}, {patient.given_name}"
    ).click()
    expect(page).to_have_url(f"{base}/patients/{patient.pk}/")


def panel_row(page: Page, panel: str, label: str) -> Locator:
    return page.get_by_test_id(panel).locator("tr", has_text=label)


def screen(page: Page, treatment_label: str, *, yes: tuple[str, ...] = ()) -> None:
    """From the chart: Screen now for the treatment, answer every question "No" (the risk accepted)
    except the questions whose text contains one of ``yes``, and record it."""
    panel_row(page, "intake-panel", treatment_label).get_by_role("link", name="Screen now").click()
    expect(page.get_by_role("heading", name=f"Screening for {treatment_label}")).to_be_visible()
    groups = page.locator("[role=radiogroup]")
    for group in groups.all():
        question = page.locator(f"#{group.get_attribute('aria-labelledby')}").inner_text()
        answer = "Yes" if question.startswith("Do you accept the risks") or any(y in question for y in yes) else "No"
        group.get_by_text(answer, exact=True).click()  # the large button is the label
    page.get_by_role("button", name="Record the screening").click()
    expect(page.get_by_test_id("screening-result")).to_be_visible()


def sign_consent(page: Page, treatment_label: str, signer: str) -> None:
    """From the chart: Sign the treatment's consent on the tablet page with a drawn signature."""
    panel_row(page, "consents-panel", treatment_label).get_by_role("link", name="Sign").click()
    expect(page.get_by_test_id("consent-text")).to_contain_text("How PRP differs from mesotherapy")
    page.get_by_label("Full name of the person signing").fill(signer)
    draw_on(page, "pad-signature")
    page.get_by_role("button", name="Sign and store").click()
    expect(page.get_by_test_id("consent-record")).to_contain_text(f"{signer} — The patient")


def start_visit(page: Page, treatment_label: str) -> None:
    page.locator("#treatment").select_option(label=treatment_label)
    page.get_by_role("button", name="Start a visit").click()


def make_prp(page: Page, clinic: Clinic, lab: Lab, patient: Patient, *, volume: str) -> Product:
    """On the visit page: draw blood (wristband scanned), spin twice, prepare ``volume`` mL of PRP."""
    visit_url = page.url
    draw = page.locator("form[action*='/prp/draw/']")
    expect(draw).to_be_visible()  # open while nothing was drawn
    draw.get_by_label("Wristband scanned").check()
    draw.locator("[name=scanned_code]").fill(f"PT-{patient.mrn}")
    draw.get_by_label("Drawn at").fill(minutes_ago(clinic, 60))
    draw.get_by_label("Site").select_option("antecubital_left")
    draw.get_by_label("Whole blood drawn (mL)").fill("18")
    draw.get_by_label("Number of tubes").fill("2")
    draw.get_by_label("Tube lot").select_option(str(lab.tube_lot.pk))
    draw.get_by_label("Kit lot").select_option(str(lab.kit_lot.pk))
    draw.get_by_label("Anticoagulant").select_option("sodium_citrate_3_2")
    draw.get_by_label("Platelets (10³/µL)").fill("220")
    draw.get_by_role("button", name="Record the draw").click()
    expect(flash(page)).to_contain_text("Blood drawn: product PRP-")
    product = Product.objects.get(patient=patient, status=ProductStatus.DRAWN)

    spin_form = page.locator(f"form[action$='/prp/products/{product.pk}/spin/']")
    for number, started in ((1, 55), (2, 44)):
        page.locator("summary", has_text=f"Start spin {number}").click()
        spin_form.get_by_label("Centrifuge").select_option(label=str(lab.centrifuge))
        spin_form.get_by_label("Program").select_option(label=str(lab.program))
        spin_form.get_by_label("Started at").fill(minutes_ago(clinic, started))
        spin_form.get_by_role("button", name="Start spin").click()
        expect(flash(page)).to_contain_text(f"Spin started for {product.barcode}.")

    prepare = page.locator(f"form[action$='/prp/products/{product.pk}/prepare/']")
    page.locator("summary", has_text="Prepare PRP").click()
    prepare.get_by_label("Prepared at").fill(minutes_ago(clinic, 30))
    prepare.get_by_label("PRP volume (mL)").fill(volume)
    prepare.get_by_label("PRP platelets (10³/µL)").fill("1100")
    prepare.get_by_role("button", name="Record preparation").click()
    expect(flash(page)).to_contain_text(f"{product.barcode} prepared.")
    expect(page).to_have_url(visit_url)
    return product


def scan(page: Page, code: str) -> None:
    """What a keyboard-wedge scanner does: type the code into the scan field, then Enter."""
    field = page.locator("#scan")
    expect(field).to_be_focused()
    field.press_sequentially(code)
    field.press("Enter")


def verify_and_apply(page: Page, product: Product, patient: Patient, zones: list[tuple[str, str]]) -> None:
    """From the visit page: verify at the bedside (wristband and syringe scanned), then apply."""
    visit_url = page.url
    page.get_by_role("link", name="Verify at the bedside").click()
    expect(page.get_by_role("heading", name="Bedside verification")).to_be_visible()
    scan(page, f"PT-{patient.mrn}")
    scan(page, product.barcode)
    verified = page.get_by_test_id("verified")
    expect(verified.get_by_role("heading")).to_have_text(f"✓ Match — {patient.given_name} {patient.family_name}")
    verified.get_by_role("link", name="Record the application").click()
    expect(page.get_by_role("heading", name=f"Apply {product.barcode}")).to_be_visible()
    for i, (zone, volume) in enumerate(zones):
        page.locator(f"[name=zone_{i}]").fill(zone)
        page.locator(f"[name=volume_{i}]").fill(volume)
    page.get_by_role("button", name="Record the application").click()
    expect(page).to_have_url(visit_url)
    expect(flash(page)).to_contain_text(f"{product.barcode} applied and recorded.")


def chart_zone(
    page: Page, zone: str, label: str, fields: dict[str, str], *, selects: dict[str, str] | None = None
) -> None:
    """Tap the zone on the body map, fill its form and chart it; the map marks it charted."""
    page.locator(f'[data-zone="{zone}"]').click()
    form = page.get_by_test_id("zone-form")
    expect(form.get_by_role("heading", level=3)).to_have_text(label)
    for name, value in (selects or {}).items():
        form.get_by_label(name).select_option(label=value)
    for name, value in fields.items():
        form.get_by_label(name).fill(value)
    form.get_by_role("button", name=f"Chart {label}").click()
    expect(flash(page)).to_contain_text(f"{label} charted.")
    expect(page.locator(f'[data-zone="{zone}"]')).to_have_attribute("aria-label", f"{label}, charted")


def complete_visit(page: Page) -> None:
    page.get_by_test_id("completion").get_by_role("button", name="Complete the visit").click()
    expect(flash(page)).to_contain_text("Visit completed. Its chart is now read-only.")
    expect(page.get_by_test_id("visit-status")).to_have_text("Completed")
    expect(page.get_by_test_id("zone-form")).to_have_count(0)


# --- (a) micro-needling with PRP: a first visit from screening to aftercare ---------------------


def test_a_first_micro_needling_visit_with_prp_from_registration_to_aftercare(
    live_server: object, personas: Personas, lab: Lab, page: Page, console_errors: list[str]
) -> None:
    base = str(live_server)
    clinic = personas.clinic_a
    sign_in_nurse(page, base, personas.nurse)

    # 1. Register the patient.
    page.get_by_role("navigation").get_by_role("link", name="Patients").click()
    page.get_by_role("link", name="Register a patient").click()
    page.fill("#id_given_name", "Lena")
    page.fill("#id_family_name", "Hofbauer")
    page.fill("#id_date_of_birth", "1988-06-12")
    page.select_option("#id_sex", "female")
    page.fill("#id_email", "lena@example.test")
    page.get_by_role("button", name="Register").click()
    patient = Patient.objects.get(clinic=clinic, family_name="Hofbauer")
    expect(page).to_have_url(f"{base}/patients/{patient.pk}/")
    chart_url = page.url
    expect_clean(page, console_errors)

    # 2. Screen for micro-needling with PRP: nothing found, eligible.
    screen(page, "Micro-needling with PRP")
    expect(page.get_by_test_id("screening-result").get_by_role("heading")).to_have_text("Eligible")
    expect(page.get_by_text("None of the rules for this treatment fired.")).to_be_visible()
    expect_clean(page, console_errors)
    page.goto(chart_url)
    expect(panel_row(page, "intake-panel", "Micro-needling with PRP")).to_contain_text("Eligible")

    # 3. The patient signs the consent on the tablet page (signature drawn with the mouse).
    sign_consent(page, "Micro-needling with PRP", "Lena Hofbauer")
    expect(page.get_by_role("img", name="Signature of Lena Hofbauer")).to_be_visible()
    expect_clean(page, console_errors)
    page.goto(chart_url)
    expect(panel_row(page, "consents-panel", "Micro-needling with PRP")).to_contain_text("valid")

    # 4. The treatment plan: the protocol's series from today.
    plans = page.get_by_test_id("treatments-panel")
    plans.get_by_label("Treatment").select_option(label="Micro-needling with PRP")
    plans.get_by_role("button", name="New plan").click()
    expect(flash(page)).to_contain_text("Treatment plan created.")
    expect(page.get_by_test_id("progress")).to_have_text("session 0 of 3")
    expect(page.get_by_test_id("sessions").locator("tr", has=page.locator("td"))).to_have_count(3)
    plan_url = page.url
    expect_clean(page, console_errors)

    # 5. Start the visit: screening and consent allow it.
    page.goto(chart_url)
    start_visit(page, "Micro-needling with PRP")
    visit = Visit.objects.get(patient=patient)
    expect(page).to_have_url(f"{base}/visits/{visit.pk}/")
    expect(page.get_by_test_id("patient-head")).to_contain_text("Micro-needling with PRP")
    expect(page.get_by_role("link", name="Plan the spin")).to_be_visible()
    expect_clean(page, console_errors)

    # 6. The PRP chain: draw, spin, prepare, verify at the bedside, apply 3 mL.
    product = make_prp(page, clinic, lab, patient, volume="3")
    expect_clean(page, console_errors)
    verify_and_apply(page, product, patient, [("forehead", "1"), ("cheeks", "2")])
    sums = page.get_by_test_id("prp-sums")
    expect(sums).to_contain_text("PRP applied in this visit: 3.00 mL")
    expect(sums).to_contain_text("✗ 3.00 mL applied is not charted on a zone yet")
    expect_clean(page, console_errors)

    # 7. Chart three face zones with the pen: depths inside the protocol, PRP adding up to 3 mL.
    pen = {"Device": "Micro-needling pen"}
    chart_zone(
        page,
        "forehead",
        "Forehead",
        {"Depth (mm)": "0.5", "Passes": "3", "Needle cartridge lot": "NC-2207", "PRP applied on this zone (mL)": "1"},
        selects=pen,
    )
    chart_zone(
        page,
        "cheek_left",
        "Cheek, left",
        {"Depth (mm)": "1.0", "Passes": "3", "Needle cartridge lot": "NC-2207", "PRP applied on this zone (mL)": "1"},
        selects=pen,
    )
    expect(sums).to_contain_text("✗ 1.00 mL applied is not charted on a zone yet")
    chart_zone(
        page,
        "cheek_right",
        "Cheek, right",
        {"Depth (mm)": "1.0", "Passes": "3", "Needle cartridge lot": "NC-2207", "PRP applied on this zone (mL)": "1"},
        selects=pen,
    )
    expect(sums).to_contain_text("PRP charted on the zones: 3.00 mL")
    expect(sums).to_contain_text("✓ They add up")
    entries = page.get_by_test_id("zone-entries")
    expect(entries.locator("tr", has_text="Forehead")).to_contain_text(
        f"0.5 mm · 3 pass(es) · Micro-needling pen · cartridge lot NC-2207 · 1.00 mL PRP from {product.barcode}"
    )
    assert ZoneEntry.objects.filter(visit=visit, application__product=product).count() == 3
    expect_clean(page, console_errors)

    # 8. Aftercare: printed (a PDF in a new tab) and e-mailed to the patient.
    handouts = page.get_by_test_id("aftercare-handouts")
    # The form posts into a new tab: its response is the context's, not this page's.
    with (
        page.context.expect_event(
            "response", lambda r: r.url.endswith(f"/aftercare/visits/{visit.pk}/print/")
        ) as printed,
        page.expect_popup() as popup_info,
    ):
        handouts.get_by_role("button", name="Print aftercare").click()
    assert printed.value.status == 200
    assert printed.value.header_value("content-type") == "application/pdf"
    popup_info.value.close()
    page.reload()  # the handout is listed once the page is loaded again
    expect(handouts).to_contain_text("Printed")
    handouts.get_by_role("button", name="E-mail aftercare to the patient").click()
    expect(flash(page)).to_contain_text("lena@example.test")
    expect(handouts).to_contain_text("to lena@example.test")
    assert [m.to for m in mail.outbox] == [["lena@example.test"]]
    expect_clean(page, console_errors)

    # 9. Complete the visit: the chart becomes read-only.
    complete_visit(page)
    expect_clean(page, console_errors)

    # 10. The chart: the plan shows session 1 of 3; the timeline has every step.
    page.get_by_role("link", name="Chart", exact=True).click()
    expect(page).to_have_url(chart_url)
    expect(page.get_by_test_id("treatments-panel").get_by_test_id("plan-progress")).to_have_text("session 1 of 3")
    timeline = page.get_by_test_id("timeline")
    for kind in ("screening", "consent", "plan", "visit", "PRP", "aftercare"):
        expect(timeline.locator(f"[data-kind='{kind}']").first).to_be_visible()
    expect_clean(page, console_errors)
    page.goto(plan_url)
    expect(page.get_by_test_id("progress")).to_have_text("session 1 of 3")
    expect(page.get_by_test_id("sessions").locator("tr", has_text="Completed")).to_have_count(1)
    visit.refresh_from_db()
    assert visit.status == VisitStatus.COMPLETED
    expect_clean(page, console_errors)


# --- (b) PRP for hair loss: a scalp visit --------------------------------------------------------


def test_a_scalp_prp_visit_charts_injections_and_technique_per_zone_on_the_scalp_map(
    live_server: object, personas: Personas, lab: Lab, page: Page, console_errors: list[str]
) -> None:
    base = str(live_server)
    clinic = personas.clinic_a
    patient = make_patient(clinic, given_name="Markus", family_name="Steiner", sex="male", allergies="")
    sign_in_nurse(page, base, personas.nurse)
    open_chart(page, base, patient)
    chart_url = page.url

    screen(page, "PRP for hair loss")
    expect(page.get_by_test_id("screening-result").get_by_role("heading")).to_have_text("Eligible")
    page.goto(chart_url)
    sign_consent(page, "PRP for hair loss", "Markus Steiner")
    page.goto(chart_url)
    start_visit(page, "PRP for hair loss")
    visit = Visit.objects.get(patient=patient)
    expect(page).to_have_url(f"{base}/visits/{visit.pk}/")
    expect(page.get_by_test_id("bodymap-scalp")).to_be_visible()
    expect(page.get_by_test_id("bodymap-face")).to_have_count(0)
    expect_clean(page, console_errors)

    product = make_prp(page, clinic, lab, patient, volume="3")
    verify_and_apply(page, product, patient, [("vertex", "2"), ("frontal", "1")])
    expect_clean(page, console_errors)

    technique = {"Technique": "Point by point injection"}
    chart_zone(
        page,
        "vertex",
        "Vertex",
        {"Injections": "25", "Depth (mm)": "3", "PRP injected in this zone (mL)": "2"},
        selects=technique,
    )
    chart_zone(
        page,
        "frontal",
        "Frontal",
        {"Injections": "15", "Depth (mm)": "2.5", "PRP injected in this zone (mL)": "1"},
        selects=technique,
    )
    sums = page.get_by_test_id("prp-sums")
    expect(sums).to_contain_text("PRP charted on the zones: 3.00 mL")
    expect(sums).to_contain_text("✓ They add up")
    entries = page.get_by_test_id("zone-entries")
    expect(entries.locator("tr", has_text="Vertex")).to_contain_text(
        f"3 mm · 25 injection(s) · Point by point injection · 2.00 mL PRP from {product.barcode}"
    )
    expect(entries.locator("tr", has_text="Frontal")).to_contain_text("2.5 mm · 15 injection(s)")
    expect(page.locator('[data-zone="occipital"]')).to_have_attribute("aria-label", "Occipital, not charted")
    expect_clean(page, console_errors)

    complete_visit(page)
    page.get_by_role("link", name="Chart", exact=True).click()
    expect(page.get_by_test_id("visits").locator("tr", has_text="PRP for hair loss")).to_contain_text("Completed")
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text(f"PRP product {product.barcode} applied")
    expect_clean(page, console_errors)
    assert {e.zone: e.injections for e in ZoneEntry.objects.filter(visit=visit)} == {"vertex": 25, "frontal": 15}


# --- (c) mesotherapy, by a physician --------------------------------------------------------------


def test_a_physician_registers_a_vial_lot_and_charts_mesotherapy_only_in_the_mid_dermis(
    live_server: object, personas: Personas, page: Page, console_errors: list[str]
) -> None:
    base = str(live_server)
    patient = make_patient(personas.clinic_a, given_name="Sofia", family_name="Lindner", allergies="")
    sign_in_physician(page, base, personas.physician)

    # The vial lot is registered through the formulary page.
    page.get_by_role("navigation").get_by_role("link", name="Treatments").click()
    page.get_by_role("link", name="Mesotherapy formulary and vial lots").click()
    expect(page.get_by_role("heading", name="Mesotherapy formulary")).to_be_visible()
    cocktail = "Face revitalising (example)"
    expiry = dt.date.today() + dt.timedelta(days=365)
    register = page.locator("form[action$='/treatments/formulary/lots/']")
    register.get_by_label("Cocktail").select_option(label=cocktail)
    register.get_by_label("Lot number").fill("MV-2031")
    register.get_by_label("Expiry date").fill(expiry.isoformat())
    register.get_by_role("button", name="Register lot").click()
    expect(flash(page)).to_contain_text(f"Lot MV-2031 of {cocktail} registered.")
    card = page.get_by_test_id("cocktail").filter(has=page.get_by_role("heading", name=cocktail))
    expect(card.locator("tr", has_text="MV-2031")).to_contain_text(expiry.isoformat())
    expect_clean(page, console_errors)

    # Screening (eligible) and consent, then the visit.
    open_chart(page, base, patient)
    chart_url = page.url
    screen(page, "Mesotherapy")
    expect(page.get_by_test_id("screening-result").get_by_role("heading")).to_have_text("Eligible")
    page.goto(chart_url)
    sign_consent(page, "Mesotherapy", "Sofia Lindner")
    page.goto(chart_url)
    start_visit(page, "Mesotherapy")
    visit = Visit.objects.get(patient=patient)
    expect(page).to_have_url(f"{base}/visits/{visit.pk}/")
    expect(page.get_by_role("heading", name="PRP for this visit")).to_have_count(0)  # no blood is drawn
    expect(page.get_by_role("link", name="Plan the spin")).to_have_count(0)
    expect(page.get_by_test_id("prp-sums")).to_have_count(0)
    expect_clean(page, console_errors)

    # Too shallow for the mid-dermis: refused next to the depth, nothing saved; then accepted.
    page.locator('[data-zone="forehead"]').click()
    form = page.get_by_test_id("zone-form")
    expect(form.get_by_role("heading", level=3)).to_have_text("Forehead")
    expect(form).to_contain_text("Protocol depth for this zone: 1.5–2.0 mm")
    form.get_by_label("Cocktail:", exact=True).select_option(label=cocktail)
    form.get_by_label("Vial lot").select_option(label=f"{cocktail}: lot MV-2031 (exp. {expiry.isoformat()})")
    form.get_by_label("Technique").select_option(label="Papule (micropapules)")
    form.get_by_label("Depth (mm)").fill("1")
    form.get_by_label("Cocktail injected in this zone (mL)").fill("0.5")
    form.get_by_role("button", name="Chart Forehead").click()
    form = page.get_by_test_id("zone-form")
    expect(form.locator("#id_zone_forehead_depth_mm_error")).to_have_text(
        "Mesotherapy goes into the mid-dermis: 1 mm is outside the protocol's 1.5–2 mm for Forehead."
    )
    assert ZoneEntry.objects.count() == 0
    expect(form.get_by_label("Vial lot")).to_have_value(re.compile(r"^\d+$"))  # the choices survive the refusal
    form.get_by_label("Depth (mm)").fill("1.5")
    form.get_by_role("button", name="Chart Forehead").click()
    expect(flash(page)).to_contain_text("Forehead charted.")
    expect(page.locator('[data-zone="forehead"]')).to_have_attribute("aria-label", "Forehead, charted")
    expect(page.get_by_test_id("zone-entries").locator("tr", has_text="Forehead")).to_contain_text(
        f"1.5 mm · Papule (micropapules) · {cocktail} lot MV-2031 · 0.50 mL cocktail"
    )
    expect_clean(page, console_errors)

    complete_visit(page)
    page.get_by_role("link", name="Chart", exact=True).click()
    expect(page.get_by_test_id("visits").locator("tr", has_text="Mesotherapy")).to_contain_text("Completed")
    expect_clean(page, console_errors)
    entry = ZoneEntry.objects.get()
    assert (entry.depth_mm, entry.vial_lot.lot_number) == (Decimal("1.5"), "MV-2031")
    assert any(REFUSED in e for e in console_errors), "the shallow depth should have been refused (400)"


# --- (d) anticoagulants: the start is refused until a physician clears the screening -------------


def test_a_patient_on_anticoagulants_cannot_start_until_a_physician_clears_the_screening_with_a_reason(
    live_server: object, personas: Personas, page: Page, console_errors: list[str]
) -> None:
    base = str(live_server)
    patient = make_patient(personas.clinic_a, given_name="Walter", family_name="Gruber", sex="male", allergies="")
    forbidden = f"status of 403 (Forbidden) ({base}/screening/review/)"
    sign_in_nurse(page, base, personas.nurse)
    open_chart(page, base, patient)
    chart_url = page.url

    # The nurse screens: on blood thinners, a physician must review.
    screen(page, "PRP for hair loss", yes=("blood thinners",))
    result = page.get_by_test_id("screening-result")
    expect(result.get_by_role("heading")).to_have_text("Needs physician review — Awaiting physician review")
    expect(page.get_by_test_id("fired-rules")).to_contain_text("Anticoagulant or antiplatelet drugs")
    screening_url = page.url
    # ...and cannot clear it: no review form for a nurse, and the review list is closed.
    expect(page.get_by_role("heading", name="Physician review", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Record the review")).to_have_count(0)
    expect(page.get_by_role("navigation").get_by_role("link", name="Reviews")).to_have_count(0)
    page.goto(f"{base}/screening/review/")
    expect(page.get_by_test_id("review-queue")).to_have_count(0)
    page.goto(chart_url)
    expect(panel_row(page, "intake-panel", "PRP for hair loss")).to_contain_text("Awaiting physician review")
    sign_consent(page, "PRP for hair loss", "Walter Gruber")

    # The visit start is refused with the sentence shown on the chart; no visit exists.
    page.goto(chart_url)
    start_visit(page, "PRP for hair loss")
    expect(page).to_have_url(chart_url)
    expect(page.locator(".messages li.error")).to_have_text(
        "The screening for PRP for hair loss awaits a physician's review (Anticoagulant or antiplatelet drugs "
        "(growth-factor release may be delayed with COX inhibitors))."
    )
    expect(page.get_by_test_id("visits")).to_contain_text("No visits yet.")
    assert not Visit.objects.exists()
    assert [e for e in console_errors if not e.endswith(forbidden)] == []
    sign_out(page)

    # The physician finds it in the review list and clears it, with a reason (refused without one).
    sign_in_physician(page, base, personas.physician)
    page.get_by_role("navigation").get_by_role("link", name="Reviews").click()
    row = page.get_by_test_id("review-queue").locator("tr", has_text="Gruber, Walter")
    expect(row).to_contain_text("Anticoagulant or antiplatelet drugs")
    expect(row).to_contain_text("Nina Nurse")
    row.get_by_role("link").click()
    expect(page).to_have_url(screening_url)
    review = page.locator("form.review-form")
    review.get_by_label("Clear: the patient may be treated").check()
    review.get_by_role("button", name="Record the review").click()
    expect(page.locator("#id_reason_error")).to_have_text("Write the reason for your decision.")
    reason = "Apixaban for atrial fibrillation; bruising discussed, PRP may be less effective; proceed."
    page.locator("form.review-form").get_by_label("Reason (written to the record)").fill(reason)
    page.locator("form.review-form").get_by_role("button", name="Record the review").click()
    result = page.get_by_test_id("screening-result")
    expect(result.get_by_role("heading")).to_have_text("Needs physician review — Cleared by a physician")
    expect(result).to_contain_text("Cleared by a physician by Phil Physician")
    expect(result).to_contain_text(reason)

    # Now the visit starts.
    page.goto(chart_url)
    expect(panel_row(page, "intake-panel", "PRP for hair loss")).to_contain_text("Cleared by a physician")
    expect(page.get_by_test_id("timeline").locator("[data-kind='review']")).to_contain_text("Cleared")
    start_visit(page, "PRP for hair loss")
    visit = Visit.objects.get(patient=patient)
    expect(page).to_have_url(f"{base}/visits/{visit.pk}/")
    expect(page.get_by_test_id("visit-status")).to_have_text("Open")
    page.wait_for_load_state("load")
    assert [e for e in console_errors if not e.endswith(forbidden) and REFUSED not in e] == []
