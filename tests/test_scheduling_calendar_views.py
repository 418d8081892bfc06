"""Calendar pages: day and week grids per clinician and per room, moving by drag (JSON) or by form,
today's list with check-in, and a bounded number of queries however full the calendar is."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from prpclinic.audit.models import AuditEvent
from prpclinic.reminders.models import LinkOutcome, PatientLink
from prpclinic.scheduling.models import Appointment, AppointmentStatus
from tests.conftest import Personas, make_patient
from tests.matrix_calendar import local, make_appointment, make_room, working_week

DAY = dt.date(2031, 3, 4)  # a Tuesday in winter time (CET); the same year's clocks change on 30 March


@pytest.fixture
def clinic(personas: Personas) -> Any:
    clinic = personas.clinic_a
    working_week(clinic, personas.physician)
    working_week(clinic, personas.nurse)
    make_room(clinic, "Room 1")
    make_room(clinic, "Room 2")
    return clinic


def appointment_at(personas: Personas, hour: int, minute: int = 0, *, day: dt.date = DAY, **fields: Any) -> Appointment:
    clinic = personas.clinic_a
    patient = fields.pop("patient", None) or make_patient(clinic, given_name="Greta", family_name="Huber")
    fields.setdefault("clinician", personas.physician)
    fields.setdefault("room", make_room(clinic, "Room 1"))
    return make_appointment(clinic=clinic, patient=patient, starts_at=local(clinic, day, hour, minute), **fields)


def blocks(html: str) -> list[str]:
    return re.findall(r'<a class="cal-appt [^"]*"', html)


def test_the_day_view_draws_each_appointment_in_its_clinicians_column_with_its_segments(
    clinic: Any, personas: Personas, signed_in: Any
) -> None:
    appointment_at(personas, 10)
    response = signed_in("front_desk").get(f"/calendar/?date={DAY:%Y-%m-%d}")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Tuesday 4 March 2031" in html
    columns = re.findall(r'<h2 class="cal-col-head">([^<]+)', html)
    assert columns == ["Nina Nurse", "Phil Physician"]
    # 10:00 is 24 five-minute slots below 08:00; 10 + 15 + 45 minutes are 14 slots: 2, 3 and 9.
    [block] = blocks(html)
    assert "cal-at-24 cal-len-14" in block
    assert re.findall(r'data-segment="(\w+)"', html) == ["prep", "spin", "treatment"]
    assert 'class="cal-seg cal-seg-spin cal-len-3"' in html
    assert "10:00 Greta Huber" in html
    # Off hours are shaded from the working hours: 08:00-18:00 leaves nothing off in an 08-18 window.
    assert 'title="Not working"' not in html


def test_the_day_view_by_room_has_a_column_per_room(clinic: Any, personas: Personas, signed_in: Any) -> None:
    appointment_at(personas, 9, room=make_room(clinic, "Room 2"))
    html = signed_in("nurse").get(f"/calendar/?date={DAY:%Y-%m-%d}&by=room").content.decode()
    columns = re.findall(r'<h2 class="cal-col-head">([^<]+)', html)
    assert columns == ["Room 1", "Room 2"]
    sections = html.split('data-testid="cal-column"')[1:]
    assert "Greta Huber" in sections[1] and "Greta Huber" not in sections[0]
    assert 'data-drop-room="' in html and 'data-drop-clinician="' not in html


def test_the_week_view_shows_one_clinicians_monday_to_sunday_with_the_appointment_on_its_day(
    clinic: Any, personas: Personas, signed_in: Any
) -> None:
    appointment_at(personas, 11, day=DAY + dt.timedelta(days=2))  # Thursday
    appointment_at(personas, 11, day=DAY, clinician=personas.nurse)  # someone else's: not in this week
    html = signed_in("physician").get(f"/calendar/week/?date={DAY:%Y-%m-%d}").content.decode()
    assert "Week of 3 March 2031: Phil Physician" in html
    heads = re.findall(r'<h2 class="cal-col-head">([^<]+)', html)
    assert heads == ["Mon 3 Mar", "Tue 4 Mar", "Wed 5 Mar", "Thu 6 Mar", "Fri 7 Mar", "Sat 8 Mar", "Sun 9 Mar"]
    sections = html.split('data-testid="cal-column"')[1:]
    assert [len(blocks(s)) for s in sections] == [0, 0, 0, 1, 0, 0, 0]


def test_the_week_view_of_a_room(clinic: Any, personas: Personas, signed_in: Any) -> None:
    room = make_room(clinic, "Room 2")
    appointment_at(personas, 9, room=room, clinician=personas.nurse)
    html = signed_in("admin").get(f"/calendar/week/?date={DAY:%Y-%m-%d}&room={room.pk}").content.decode()
    assert "Week of 3 March 2031: Room 2" in html
    assert len(blocks(html)) == 1


def test_across_the_change_to_summer_time_an_appointment_is_drawn_at_its_local_clock_time(
    clinic: Any, personas: Personas, signed_in: Any
) -> None:
    sunday = dt.date(2031, 3, 30)  # Vienna: 02:00 CET becomes 03:00 CEST
    appointment = appointment_at(personas, 10, day=sunday)
    assert appointment.starts_at == dt.datetime(2031, 3, 30, 8, 0, tzinfo=dt.UTC)  # stored in UTC
    html = signed_in("physician").get(f"/calendar/?date={sunday:%Y-%m-%d}").content.decode()
    [block] = blocks(html)
    assert "cal-at-24 " in block and "10:00 Greta Huber" in html


def test_cancelled_and_no_show_appointments_are_listed_under_the_grid_not_drawn(
    clinic: Any, personas: Personas, signed_in: Any
) -> None:
    appointment_at(personas, 9, status=AppointmentStatus.CANCELLED)
    html = signed_in("front_desk").get(f"/calendar/?date={DAY:%Y-%m-%d}").content.decode()
    assert blocks(html) == []
    assert 'data-testid="cal-inactive"' in html and "Cancelled" in html


def _queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


# Signing in costs 3 (session, user with memberships, second factor); the day page 5 more (its columns,
# appointments, working hours, absences, patients' confirmations); the week page 6 (clinicians and
# rooms for its choosers instead of columns).
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"/calendar/?date={DAY:%Y-%m-%d}", 8),
        (f"/calendar/?date={DAY:%Y-%m-%d}&by=room", 8),
        (f"/calendar/week/?date={DAY:%Y-%m-%d}", 9),
    ],
)
def test_the_calendar_runs_the_same_queries_with_one_appointment_and_with_a_full_week(
    url: str, expected: int, clinic: Any, personas: Personas, signed_in: Any
) -> None:
    client = signed_in("physician")
    appointment_at(personas, 8)
    one = _queries(client, url)
    patients = [make_patient(clinic, given_name="Jo", family_name=f"Kern{chr(97 + n)}") for n in range(6)]
    rooms = [make_room(clinic, f"Room {n}") for n in range(3, 6)]
    for day in range(7):
        for n, hour in enumerate((9, 11, 13, 15)):
            appointment = appointment_at(
                personas, hour, day=DAY - dt.timedelta(days=1) + dt.timedelta(days=day),
                patient=patients[n], room=rooms[n % 3], clinician=personas.physician if n % 2 else personas.nurse,
            )  # fmt: skip
            PatientLink.objects.create(
                clinic=clinic, appointment=appointment, token_hash=f"{appointment.pk:064d}",
                expires_at=appointment.starts_at, outcome=LinkOutcome.CONFIRMED,
            )  # fmt: skip
    assert one == expected
    assert _queries(client, url) == expected


def test_the_today_list_runs_the_same_queries_whatever_the_number_of_appointments(
    clinic: Any, personas: Personas, signed_in: Any
) -> None:
    from django.utils import timezone

    client = signed_in("front_desk")
    today = timezone.localdate(timezone=__import__("zoneinfo").ZoneInfo(clinic.timezone))
    appointment_at(personas, 8, day=today, treatment=30)
    one = _queries(client, "/calendar/today/")
    for hour in range(9, 17):
        appointment_at(personas, hour, day=today, treatment=30)  # 55 minutes: one an hour, back to back
    assert one == 4  # signing in 2 (session; user with memberships), appointments 1, confirmations 1
    assert _queries(client, "/calendar/today/") == one


def test_dragging_an_appointment_to_a_free_time_and_another_clinician_moves_it(
    clinic: Any, personas: Personas, signed_in: Any
) -> None:
    appointment = appointment_at(personas, 10)
    response = signed_in("front_desk").post(
        f"/calendar/appointments/{appointment.pk}/move/",
        {"date": f"{DAY:%Y-%m-%d}", "time": "14:30", "clinician": str(personas.nurse.pk)},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200
    assert json.loads(response.content) == {"ok": True, "message": "Moved to Tue 04 Mar 2031 14:30."}
    appointment.refresh_from_db()
    assert appointment.starts_at == local(clinic, DAY, 14, 30)
    assert appointment.clinician == personas.nurse
    assert AuditEvent.objects.filter(action="appointment.move", object_id=str(appointment.pk)).count() == 1


def test_a_drag_onto_a_booked_time_is_refused_naming_the_conflict_and_the_appointment_stays(
    clinic: Any, personas: Personas, signed_in: Any
) -> None:
    moving = appointment_at(personas, 10)
    appointment_at(personas, 14, patient=make_patient(clinic, given_name="Otto", family_name="Lang"))
    response = signed_in("front_desk").post(
        f"/calendar/appointments/{moving.pk}/move/",
        {"date": f"{DAY:%Y-%m-%d}", "time": "14:15"},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    answer = json.loads(response.content)
    assert answer["ok"] is False
    assert "Phil Physician" in answer["message"] and "14:00" in answer["message"]
    moving.refresh_from_db()
    assert moving.starts_at == local(clinic, DAY, 10)


def test_moving_by_the_form_goes_to_the_new_day_and_a_refusal_is_shown_above_the_form(
    clinic: Any, personas: Personas, signed_in: Any
) -> None:
    appointment = appointment_at(personas, 10)
    appointment_at(personas, 9, day=DAY + dt.timedelta(days=1), patient=make_patient(clinic, family_name="Lang"))
    client = signed_in("nurse")
    page = client.get(f"/calendar/appointments/{appointment.pk}/move/")
    assert page.status_code == 200
    assert 'value="2031-03-04"' in page.content.decode() and 'value="10:00"' in page.content.decode()

    refused = client.post(f"/calendar/appointments/{appointment.pk}/move/", {"date": "2031-03-05", "time": "09:30"})
    assert refused.status_code == 400
    assert 'class="errorlist nonfield"' in refused.content.decode()
    assert "09:00" in refused.content.decode()

    moved = client.post(f"/calendar/appointments/{appointment.pk}/move/", {"date": "2031-03-05", "time": "11:00"})
    assert moved.status_code == 302 and moved["Location"] == "/calendar/?date=2031-03-05"
    follow = client.get(moved["Location"])
    assert "Moved to Wed 05 Mar 2031 11:00." in follow.content.decode()


def test_a_time_the_clocks_skip_is_refused(clinic: Any, personas: Personas, signed_in: Any) -> None:
    appointment = appointment_at(personas, 10)
    response = signed_in("nurse").post(
        f"/calendar/appointments/{appointment.pk}/move/", {"date": "2031-03-30", "time": "02:30"},
        HTTP_ACCEPT="application/json",
    )  # fmt: skip
    assert response.status_code == 400
    assert "does not exist" in json.loads(response.content)["message"]


def test_the_front_desk_checks_a_patient_in_from_todays_list(clinic: Any, personas: Personas, signed_in: Any) -> None:
    from django.utils import timezone

    today = timezone.localdate(timezone=__import__("zoneinfo").ZoneInfo(clinic.timezone))
    appointment = appointment_at(personas, 10, day=today)
    client = signed_in("front_desk")
    html = client.get("/calendar/today/").content.decode()
    assert "Greta Huber" in html and f"/calendar/appointments/{appointment.pk}/check-in/" in html
    response = client.post(f"/calendar/appointments/{appointment.pk}/check-in/", follow=True)
    html = response.content.decode()
    assert "Greta Huber checked in for 10:00." in html
    assert "Checked in" in html and f"/calendar/appointments/{appointment.pk}/check-in/" not in html
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CHECKED_IN
    again = client.post(f"/calendar/appointments/{appointment.pk}/check-in/", follow=True)
    assert "cannot become checked in" in again.content.decode()


def test_another_clinics_appointment_cannot_be_moved_or_checked_in(
    clinic: Any, personas: Personas, signed_in: Any
) -> None:
    appointment = appointment_at(personas, 10)
    client = signed_in("other_physician")
    assert (
        client.post(
            f"/calendar/appointments/{appointment.pk}/move/", {"date": "2031-03-05", "time": "11:00"}
        ).status_code
        == 404
    )
    assert client.post(f"/calendar/appointments/{appointment.pk}/check-in/").status_code == 404
    html = client.get(f"/calendar/?date={DAY:%Y-%m-%d}").content.decode()
    assert "Greta Huber" not in html
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED and appointment.starts_at == local(clinic, DAY, 10)


@pytest.mark.postgres
def test_a_day_of_a_clinic_with_years_of_appointments_is_read_through_an_index(clinic: Any, personas: Personas) -> None:
    """Three years of a busy clinic: the day's appointments come by an index range, never a table scan."""
    from prpclinic.scheduling import selectors
    from prpclinic.scheduling.calendar_layout import day_bounds

    patient = make_patient(clinic)
    room_1, room_2 = make_room(clinic, "Room 1"), make_room(clinic, "Room 2")
    rows = []
    for day in range(3 * 365):
        date = DAY - dt.timedelta(days=day)
        for hour in (9, 11, 13, 15):
            for clinician, room in ((personas.physician, room_1), (personas.nurse, room_2)):
                start = local(clinic, date, hour)
                rows.append(
                    Appointment(
                        clinic=clinic,
                        patient=patient,
                        treatment="prp_scalp",
                        clinician=clinician,
                        room=room,
                        starts_at=start,
                        ends_at=start + dt.timedelta(minutes=70),
                        prep_minutes=10,
                        spin_minutes=15,
                        treatment_minutes=45,
                        status=AppointmentStatus.COMPLETED,
                        created_by=clinician,
                    )
                )
    Appointment.objects.bulk_create(rows, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE scheduling_appointment")
    start, end = day_bounds(DAY, __import__("zoneinfo").ZoneInfo(clinic.timezone))
    query = selectors.appointments_between(clinic_id=clinic.pk, start=start, end=end)
    plan = query.explain()
    assert "Seq Scan on scheduling_appointment" not in plan, plan
    assert "appt_clinic_start" in plan, plan  # the (clinic, starts_at) index
    assert len(list(query)) == 8
