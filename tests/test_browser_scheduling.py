"""Issue #5 end to end in a real browser (Debian's Chromium, Playwright, the live server): a nurse
books a four-session series, drags one session to another day in the week calendar, checks the
patient in from today's list, opens and charts the visit, completes it and then the appointment.

Every page must load without console errors and without Content-Security-Policy violations.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from prpclinic.prp.models import Centrifuge
from prpclinic.scheduling.models import Appointment, AppointmentStatus, WorkingHours
from prpclinic.treatments.models import PlannedSession, Protocol, Treatment, TreatmentPlan
from prpclinic.treatments.seeding import seed_catalogue
from prpclinic.visits.models import Visit, VisitStatus
from tests.browser import sign_in_with_password
from tests.conftest import Personas, make_patient
from tests.matrix_calendar import make_room
from tests.ready import ready_for_visit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
expect.set_options(timeout=10_000)

KIND = "microneedling_prp"
FIRST_HOUR, LAST_HOUR = 6, 23


def clean(page: Page, console_errors: list[str]) -> None:
    page.wait_for_load_state("load")
    assert console_errors == [], console_errors


def test_a_nurse_books_a_series_drags_a_session_checks_the_patient_in_and_completes_the_visit(
    live_server: object, personas: Personas, page: Page, console_errors: list[str]
) -> None:
    clinic = personas.clinic_a
    # The clinic's zone is chosen so that it is late morning there now, whenever the test runs: the
    # first session must still fit into today. (Etc/GMT-3 is UTC+3: POSIX signs are inverted.)
    offset = 11 - timezone.now().hour
    clinic.timezone = f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"
    clinic.save()
    zone = zoneinfo.ZoneInfo(clinic.timezone)
    now = timezone.now().astimezone(zone)
    assert FIRST_HOUR < now.hour < LAST_HOUR - 2
    base = str(live_server)
    today = now.date()

    # The clinic: two rooms, a centrifuge, the nurse working every day; a patient screened and
    # consented, with a four-session plan whose first session is due today.
    make_room(clinic, "Room 1")
    make_room(clinic, "Room 2")
    Centrifuge.objects.create(
        clinic=clinic, name="Centrifuge 1", make="Hettich", model="EBA 200", serial_number="BRW-1",
        rotor_radius_cm=Decimal("8.6"), max_rpm=6000, tube_slots=4, calibration_due=today + dt.timedelta(days=365),
    )  # fmt: skip
    for weekday in range(7):
        WorkingHours.objects.create(
            clinic=clinic, user=personas.nurse, weekday=weekday, starts=dt.time(FIRST_HOUR), ends=dt.time(LAST_HOUR)
        )
    patient = make_patient(clinic, given_name="Ilse", family_name="Brandauer", email="ilse@example.test")
    seed_catalogue(clinic=clinic)
    treatment = Treatment.objects.get(clinic=clinic, kind=KIND)
    protocol = Protocol.objects.get(clinic=clinic, treatment=treatment, is_current=True)
    plan = TreatmentPlan.objects.create(
        clinic=clinic, patient=patient, treatment=treatment, kind=KIND, protocol=protocol, start_date=today,
        created_by=personas.nurse,
    )  # fmt: skip
    for n in range(4):
        PlannedSession.objects.create(
            clinic=clinic, plan=plan, number=n + 1, due_date=today + dt.timedelta(days=protocol.interval_days * n)
        )
    ready_for_visit(clinic=clinic, patient=patient, treatment=KIND, by=personas.physician)

    sign_in_with_password(page, base, personas.nurse)
    expect(page).to_have_url(base + "/")

    # 1. Book the four sessions through the series page.
    page.goto(f"{base}/schedule/series/{plan.pk}/")
    search = page.get_by_test_id("series-search")
    search.get_by_label("Clinician").select_option(label="Nina Nurse")
    search.get_by_role("button", name="Propose times").click()
    expect(page.get_by_test_id("series-row")).to_have_count(4)
    clean(page, console_errors)
    page.get_by_role("button", name="Book the ticked sessions").click()
    expect(page).to_have_url(re.compile(rf"/patients/{patient.pk}/"))
    booked = list(Appointment.objects.filter(clinic=clinic, patient=patient).order_by("starts_at"))
    assert [a.plan_session.number for a in booked] == [1, 2, 3, 4]  # type: ignore[union-attr]
    assert booked[0].starts_at.astimezone(zone).date() == today
    clean(page, console_errors)

    # 2. Drag session 2 to the next day (the day before, if it falls on a Sunday) at the same time.
    second = booked[1]
    second_local = second.starts_at.astimezone(zone)
    target_day = second_local.date() + dt.timedelta(days=-1 if second_local.weekday() == 6 else 1)
    page.goto(f"{base}/calendar/week/?date={second_local:%Y-%m-%d}&clinician={personas.nurse.pk}")
    expect(page.get_by_role("heading", name=re.compile("Week of .*: Nina Nurse"))).to_be_visible()
    block = page.locator(f'[data-testid="cal-appointment"][data-appointment="{second.pk}"]')
    expect(block).to_contain_text("Ilse Brandauer")
    expect(block.locator("[data-segment]")).to_have_count(3)  # preparation, spin, treatment
    block.scroll_into_view_if_needed()
    source_box = block.bounding_box()
    source_body = page.locator(f'[data-drop-day="{second_local:%Y-%m-%d}"]').bounding_box()
    target = page.locator(f'[data-drop-day="{target_day:%Y-%m-%d}"]')
    assert source_box is not None and source_body is not None
    block.drag_to(
        target,
        source_position={"x": source_box["width"] / 2, "y": 4},
        target_position={"x": 30, "y": source_box["y"] - source_body["y"] + 4},
    )
    expect(page.get_by_role("status")).to_contain_text(f"Moved to {target_day:%a %d %b %Y} {second_local:%H:%M}")
    second.refresh_from_db()
    assert second.starts_at.astimezone(zone) == dt.datetime.combine(target_day, second_local.time(), tzinfo=zone)
    moved = page.locator(f'[data-testid="cal-appointment"][data-appointment="{second.pk}"]')
    expect(page.locator(f'[data-drop-day="{target_day:%Y-%m-%d}"]').locator(moved)).to_have_count(1)
    clean(page, console_errors)

    # 3. Check the patient in from today's list.
    page.goto(f"{base}/calendar/today/")
    row = page.get_by_test_id("today-row").filter(has_text="Ilse Brandauer")
    expect(row).to_contain_text("Booked")
    row.get_by_role("button", name="Check in").click()
    first_local = booked[0].starts_at.astimezone(zone)
    expect(page.get_by_role("status")).to_contain_text(f"Ilse Brandauer checked in for {first_local:%H:%M}.")
    expect(page.get_by_test_id("today-row").filter(has_text="Ilse Brandauer")).to_contain_text("Checked in")
    clean(page, console_errors)

    # 4. Start the treatment (opens the visit), chart a zone, complete the visit, then the appointment.
    page.goto(f"{base}/schedule/appointments/{booked[0].pk}/")
    page.get_by_role("button", name="Start the treatment (open the visit)").click()
    expect(page).to_have_url(re.compile(r"/visits/\d+/$"))
    visit = Visit.objects.get(clinic=clinic, patient=patient)
    chin = page.locator('[data-zone="chin"]')
    chin.click()
    form = page.get_by_test_id("zone-form")
    expect(form).to_contain_text("Chin")
    form.get_by_label("Device").select_option("pen")
    form.get_by_label("Depth (mm)").fill("0.75")
    form.get_by_label("Passes").fill("2")
    form.get_by_role("button", name="Chart Chin").click()
    expect(page.locator('[data-zone="chin"]')).to_have_attribute("aria-label", "Chin, charted")
    page.get_by_role("button", name="Complete the visit").click()
    expect(page.get_by_role("button", name="Complete the visit")).to_have_count(0)
    visit.refresh_from_db()
    assert visit.status == VisitStatus.COMPLETED
    clean(page, console_errors)

    page.goto(f"{base}/schedule/appointments/{booked[0].pk}/")
    page.get_by_role("button", name="Complete the appointment").click()
    expect(page.get_by_test_id("status")).to_contain_text("Completed")
    booked[0].refresh_from_db()
    assert booked[0].status == AppointmentStatus.COMPLETED and booked[0].visit == visit
    assert PlannedSession.objects.get(plan=plan, number=1).visit == visit

    # The day in the calendar shows the completed appointment with its three segments.
    page.goto(f"{base}/calendar/?date={today:%Y-%m-%d}")
    done = page.locator(f'[data-testid="cal-appointment"][data-appointment="{booked[0].pk}"]')
    expect(done).to_have_class(re.compile("cal-status-completed"))
    clean(page, console_errors)
