"""The scheduling pages as staff use them: booking (refusals next to the field), the appointment's actions,
moving a series session (a page asks about the later ones), the series page, set-up; the chart panel and
timeline; query counts that do not grow with the number of appointments."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext

from prpclinic.scheduling import selectors, series
from prpclinic.scheduling.models import Absence, Appointment, AppointmentType, Room, WorkingHours
from prpclinic.visits.models import Visit, VisitStatus
from tests.conftest import Personas, clinic_request, make_patient
from tests.matrix_scheduling import MONDAY, VIENNA, at, make_appointment, make_plan, schedule_setup
from tests.ready import ready_for_visit


@pytest.fixture
def setup(personas: Personas) -> Any:
    return schedule_setup(personas)


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_a_refused_booking_shows_the_conflict_next_to_the_time_and_saves_nothing(
    personas: Personas, setup: Any, signed_in: Any
) -> None:
    desk = signed_in("front_desk")
    patient = make_patient(personas.clinic_a)
    other = make_patient(personas.clinic_a, given_name="Karl", family_name="Bauer", mrn="A000321")
    make_appointment(personas, other, setup, starts_at=at(MONDAY, 10))
    data = {"treatment": "prp_scalp", "date": "2027-03-01", "time": "10:30", "clinician": personas.physician.pk}
    response = desk.post(f"/schedule/book/{patient.pk}/", data)
    assert response.status_code == 400
    page = text(response)
    assert "Phil Physician is already booked: Mon 01 Mar 2027 10:00-11:00, K.B. (MRN A000321)" in page
    assert Appointment.objects.filter(patient=patient).count() == 0

    response = desk.post(f"/schedule/book/{patient.pk}/", data | {"time": "11:00"})
    appt = Appointment.objects.get(patient=patient)
    assert response.status_code == 302 and response["Location"] == f"/schedule/appointments/{appt.pk}/"
    page = text(desk.get(response["Location"]))
    assert "Booked for Mon 01 Mar 2027 11:00." in page
    assert "11:00–12:00" in page and "11:15–11:30 (15 min), 1 tube in Centrifuge 1" in page


def test_a_clock_time_skipped_by_the_change_to_summer_time_is_refused(
    personas: Personas, setup: Any, signed_in: Any
) -> None:
    patient = make_patient(personas.clinic_a)
    data = {"treatment": "mesotherapy", "date": "2027-03-28", "time": "02:30", "clinician": personas.physician.pk}
    response = signed_in("front_desk").post(f"/schedule/book/{patient.pk}/", data)
    assert response.status_code == 400
    assert "02:30 does not exist on 28 Mar 2027: the clocks skip that hour." in text(response)


def test_booking_from_a_calendar_slot_carries_its_time_to_the_patients_form(
    personas: Personas, setup: Any, signed_in: Any
) -> None:
    desk = signed_in("front_desk")
    patient = make_patient(personas.clinic_a)
    slot = f"date=2027-03-01&time=14:00&clinician={personas.nurse.pk}&room={setup.room_2.pk}"
    page = text(desk.get(f"/schedule/book/?{slot}&q=Berger"))
    link = f"/schedule/book/{patient.pk}/?date=2027-03-01&amp;time=14%3A00&amp;clinician={personas.nurse.pk}"
    assert link in page
    form = text(desk.get(f"/schedule/book/{patient.pk}/?{slot}"))
    assert 'value="2027-03-01"' in form and 'value="14:00"' in form
    assert f'<option value="{personas.nurse.pk}" selected>Nina Nurse</option>' in form


def test_the_appointment_page_walks_the_day_and_shows_each_refusal(
    personas: Personas, setup: Any, signed_in: Any
) -> None:
    patient = make_patient(personas.clinic_a)
    appt = make_appointment(personas, patient, setup, starts_at=at(MONDAY, 10))
    nurse = signed_in("nurse")
    url = f"/schedule/appointments/{appt.pk}/"
    assert nurse.post(url + "check-in/").status_code == 302
    assert "Checked in." in text(nurse.get(url))
    refused = nurse.post(url + "start/")  # neither screened nor consented
    assert refused.status_code == 400
    assert "consent" in text(refused).lower()
    ready_for_visit(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse)
    started = nurse.post(url + "start/")
    visit = Visit.objects.get(patient=patient)
    assert started.status_code == 302 and started["Location"] == f"/visits/{visit.pk}/"
    refused = nurse.post(url + "complete/")
    assert refused.status_code == 400
    assert "The visit is still open: chart and complete the visit first." in text(refused)
    Visit.objects.filter(pk=visit.pk).update(status=VisitStatus.COMPLETED)
    assert nurse.post(url + "complete/").status_code == 302
    assert "Completed" in text(nurse.get(url))


def test_cancelling_without_a_reason_is_refused_next_to_the_reason(
    personas: Personas, setup: Any, signed_in: Any
) -> None:
    appt = make_appointment(personas, make_patient(personas.clinic_a), setup, starts_at=at(MONDAY, 10))
    response = signed_in("front_desk").post(f"/schedule/appointments/{appt.pk}/cancel/", {"reason": ""})
    assert response.status_code == 400
    assert 'id="id_reason_error"' in response.content.decode()
    assert Appointment.objects.get(pk=appt.pk).status == "booked"


def book_series(personas: Personas, plan: Any) -> list[Appointment]:
    request = clinic_request(personas.front_desk, personas.clinic_a)
    proposals = series.series_propose(
        request=request, plan_id=plan.pk, clinician_id=personas.physician.pk, preferred_time=dt.time(10)
    )
    rows = [series.SeriesRow(p.session.pk, p.starts_at, p.room_id) for p in proposals]
    return series.series_book(request=request, plan_id=plan.pk, clinician_id=personas.physician.pk, rows=rows)


def local(appointment: Appointment) -> str:
    appointment.refresh_from_db()
    return f"{appointment.starts_at.astimezone(VIENNA):%Y-%m-%d %H:%M}"


def test_moving_a_series_session_asks_about_the_later_ones_then_moves_them_together(
    personas: Personas, setup: Any, signed_in: Any
) -> None:
    first, second, third = book_series(personas, make_plan(personas, make_patient(personas.clinic_a), sessions=3))
    desk = signed_in("front_desk")
    url = f"/schedule/appointments/{second.pk}/move/"
    asking = desk.post(url, {"date": "2027-03-10", "time": "11:00"})
    assert asking.status_code == 200
    page = text(asking)
    assert "Move the later sessions too?" in page
    assert "Mon 15 Mar 2027 10:00</td><td>Wed 17 Mar 2027 11:00" in page
    assert local(second) == "2027-03-08 10:00"  # nothing moved yet
    done = desk.post(url, {"date": "2027-03-10", "time": "11:00", "shift": "later"})
    assert done.status_code == 302
    assert [local(a) for a in (first, second, third)] == ["2027-03-01 10:00", "2027-03-10 11:00", "2027-03-17 11:00"]
    assert "and 1 later session(s) by the same amount" in text(desk.get(done["Location"]))


def test_moving_only_this_session_leaves_the_later_ones(personas: Personas, setup: Any, signed_in: Any) -> None:
    _, second, third = book_series(personas, make_plan(personas, make_patient(personas.clinic_a), sessions=3))
    response = signed_in("front_desk").post(
        f"/schedule/appointments/{second.pk}/move/", {"date": "2027-03-09", "time": "10:00", "shift": "this"}
    )
    assert response.status_code == 302
    assert [local(second), local(third)] == ["2027-03-09 10:00", "2027-03-15 10:00"]


def test_the_series_page_proposes_lets_staff_adjust_and_books_all(
    personas: Personas, setup: Any, signed_in: Any
) -> None:
    patient = make_patient(personas.clinic_a)
    plan = make_plan(personas, patient, sessions=3)
    desk = signed_in("front_desk")
    url = f"/schedule/series/{plan.pk}/"
    page = text(desk.get(url, {"clinician": personas.physician.pk, "time": "10:00"}))
    sessions = list(plan.sessions.order_by("number"))
    for session, day in zip(sessions, ("2027-03-01", "2027-03-08", "2027-03-15"), strict=True):
        assert f'name="s{session.pk}-date" value="{day}"' in page
        assert f'name="s{session.pk}-time" value="10:00"' in page
    data: dict[str, Any] = {"clinician": personas.physician.pk, "time": "10:00"}
    for session, day in zip(sessions, ("2027-03-01", "2027-03-09", "2027-03-15"), strict=True):  # session 2 adjusted
        data |= {f"s{session.pk}-book": "on", f"s{session.pk}-date": day, f"s{session.pk}-time": "10:00"}
    data[f"s{sessions[2].pk}-time"] = "16:30"  # outside the working hours: refused, and so are the others
    refused = desk.post(url, data)
    assert refused.status_code == 400
    assert "Mon 15 Mar 2027 16:30-17:30 is outside Phil Physician&#x27;s working hours" in text(refused)
    assert Appointment.objects.filter(patient=patient).count() == 0
    data[f"s{sessions[2].pk}-time"] = "14:00"
    assert desk.post(url, data).status_code == 302
    booked = Appointment.objects.filter(patient=patient).order_by("starts_at")
    assert [local(a) for a in booked] == ["2027-03-01 10:00", "2027-03-09 10:00", "2027-03-15 14:00"]
    assert [a.plan_session.number for a in booked] == [1, 2, 3]


def test_the_admin_sets_up_rooms_hours_absences_and_lengths(personas: Personas, signed_in: Any) -> None:
    admin = signed_in("admin")
    assert admin.post("/schedule/setup/rooms/", {"name": "Laser room"}).status_code == 302
    refused = admin.post("/schedule/setup/rooms/", {"name": "laser  room"})
    assert refused.status_code == 400 and "There is already a room called laser room." in text(refused)
    hours = {"user": personas.nurse.pk, "weekday": 0, "starts": "09:00", "ends": "13:00"}
    assert admin.post("/schedule/setup/hours/", hours).status_code == 302
    refused = admin.post("/schedule/setup/hours/", hours | {"starts": "12:00", "ends": "17:00"})
    assert refused.status_code == 400 and "This overlaps 09:00-13:00 that day." in text(refused)
    refused = admin.post("/schedule/setup/hours/", hours | {"user": personas.front_desk.pk})
    assert refused.status_code == 400
    absence = {"user": personas.nurse.pk, "start_date": "2027-05-03", "start_time": "00:00", "end_date": "2027-05-01",
               "end_time": "00:00", "reason": "Leave"}  # fmt: skip
    refused = admin.post("/schedule/setup/absences/", absence)
    assert refused.status_code == 400 and "The end must be after the start." in text(refused)
    assert admin.post("/schedule/setup/absences/", absence | {"end_date": "2027-05-08"}).status_code == 302
    meso = AppointmentType.objects.get(clinic=personas.clinic_a, treatment="mesotherapy")
    prefix = f"t{meso.pk}-"
    lengths = {prefix + "prep_minutes": 10, prefix + "spin_minutes": 15, prefix + "treatment_minutes": 40,
               prefix + "tubes": 1}  # fmt: skip
    refused = admin.post(f"/schedule/setup/types/{meso.pk}/", lengths)
    assert refused.status_code == 400 and "Mesotherapy uses no PRP: no spin and no tubes." in text(refused)
    lengths |= {prefix + "spin_minutes": 0, prefix + "tubes": 0}
    assert admin.post(f"/schedule/setup/types/{meso.pk}/", lengths).status_code == 302
    meso.refresh_from_db()
    assert (meso.total_minutes, meso.is_placeholder) == (50, False)
    page = text(admin.get("/schedule/setup/"))
    assert "Laser room" in page and "Mon 03 May 2027 00:00" in page and "placeholder values" in page
    assert Room.objects.filter(clinic=personas.clinic_a).count() == 1
    assert WorkingHours.objects.filter(user=personas.nurse).count() == 1
    assert Absence.objects.filter(user=personas.nurse, is_active=True).count() == 1


def render_panel(request: Any, patient: Any) -> str:
    template = Template("{% load scheduling_tags %}{% scheduling_chart_panel patient %}")
    return re.sub(r"\s+", " ", template.render(Context({"request": request, "patient": patient})))


def test_the_chart_panel_lists_the_next_appointments_in_two_queries(personas: Personas, setup: Any) -> None:
    patient = make_patient(personas.clinic_a)
    make_plan(personas, patient, start=dt.date.today() + dt.timedelta(days=30), sessions=2)
    soon = dt.datetime.now(tz=VIENNA).replace(hour=10, minute=0, second=0, microsecond=0) + dt.timedelta(days=7)
    make_appointment(personas, patient, setup, starts_at=soon)
    make_appointment(personas, patient, setup, starts_at=soon - dt.timedelta(days=30))  # past: not listed
    request = clinic_request(personas.front_desk, personas.clinic_a, method="get")
    with CaptureQueriesContext(connection) as one:
        html = render_panel(request, patient)
    assert f"{soon:%a %d %b %Y} 10:00" in html and html.count("/schedule/appointments/") == 1
    assert "Book an appointment" in html and "Book the PRP for hair loss series" in html
    for n in range(3):
        make_appointment(personas, patient, setup, starts_at=soon + dt.timedelta(days=n + 1))
    with CaptureQueriesContext(connection) as four:
        html = render_panel(request, patient)
    assert html.count("/schedule/appointments/") == 4
    assert len(one) == len(four) == 2


def test_timeline_items_name_each_appointment_in_one_query(
    personas: Personas, setup: Any, django_assert_num_queries: Any
) -> None:
    patient = make_patient(personas.clinic_a)
    for n in range(3):
        make_appointment(personas, patient, setup, starts_at=at(MONDAY + dt.timedelta(days=n), 10),
                         status="cancelled" if n == 0 else "booked", status_reason="Ill" if n == 0 else "")  # fmt: skip
    with django_assert_num_queries(1):
        items = selectors.timeline_items(clinic_id=personas.clinic_a.pk, patient_id=patient.pk)
    assert [i["title"] for i in items] == ["Appointment: PRP for hair loss (booked)"] * 2 + [
        "Appointment: PRP for hair loss (cancelled)"
    ]
    assert items[-1]["detail"] == "10:00, Phil Physician, Room 1 (Ill)"
    assert items[0]["at"] > items[1]["at"] > items[2]["at"]


def test_the_appointment_and_series_pages_run_the_same_queries_for_more_sessions(
    personas: Personas, setup: Any, signed_in: Any
) -> None:
    desk = signed_in("front_desk")
    counts = []
    for sessions in (2, 4):
        patient = make_patient(personas.clinic_a)
        first = book_series(personas, make_plan(personas, patient, sessions=sessions))[0]
        desk.get(f"/schedule/appointments/{first.pk}/")  # warm the session and caches
        with CaptureQueriesContext(connection) as queries:
            assert desk.get(f"/schedule/appointments/{first.pk}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_appointments_between_is_one_query_and_sees_overlaps_only(
    personas: Personas, setup: Any, django_assert_num_queries: Any
) -> None:
    for hour in (9, 11, 15):
        make_appointment(personas, make_patient(personas.clinic_a), setup, starts_at=at(MONDAY, hour))
    with django_assert_num_queries(1):
        found = [
            (a.patient.mrn, a.clinician.full_name, a.room.name)
            for a in selectors.appointments_between(
                clinic_id=personas.clinic_a.pk, start=at(MONDAY, 9, 30), end=at(MONDAY, 12)
            )
        ]
    assert [name for _, name, _ in found] == ["Phil Physician", "Phil Physician"]
    assert (
        selectors.appointments_between(clinic_id=personas.clinic_b.pk, start=at(MONDAY, 0), end=at(MONDAY, 23)).count()
        == 0
    )


def test_another_clinics_appointment_plan_and_patient_answer_404(
    personas: Personas, setup: Any, signed_in: Any
) -> None:
    patient = make_patient(personas.clinic_a)
    appt = make_appointment(personas, patient, setup, starts_at=at(MONDAY, 10))
    plan = make_plan(personas, patient, sessions=1)
    other = signed_in("other_physician")
    for url in (f"/schedule/appointments/{appt.pk}/", f"/schedule/appointments/{appt.pk}/move/",
                f"/schedule/series/{plan.pk}/", f"/schedule/book/{patient.pk}/"):  # fmt: skip
        assert other.get(url).status_code == 404
    assert other.post(f"/schedule/appointments/{appt.pk}/check-in/").status_code == 404
    assert Appointment.objects.get(pk=appt.pk).status == "booked"
