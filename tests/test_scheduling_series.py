"""Series booking: proposals at the protocol's interval on free slots, adjusted then booked all or nothing;
moving one session shifts the later ones by the same local-clock amount, in one transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from prpclinic.scheduling import series, services
from prpclinic.scheduling.models import Absence, Appointment
from tests.conftest import Personas, clinic_request, make_patient
from tests.matrix_scheduling import MONDAY, VIENNA, at, colleague, make_appointment, make_plan, schedule_setup


@pytest.fixture
def setup(personas: Personas) -> Any:
    return schedule_setup(personas)


def desk(personas: Personas) -> Any:
    return clinic_request(personas.front_desk, personas.clinic_a)


def propose(personas: Personas, plan: Any, **kw: Any) -> list[series.Proposal]:
    return series.series_propose(
        request=desk(personas), plan_id=plan.pk, clinician_id=personas.physician.pk,
        preferred_time=kw.pop("preferred_time", dt.time(10)), **kw,
    )  # fmt: skip


def local(instant: dt.datetime | None) -> str:
    assert instant is not None
    return f"{instant.astimezone(VIENNA):%Y-%m-%d %H:%M}"


def rows_of(proposals: list[series.Proposal]) -> list[series.SeriesRow]:
    return [series.SeriesRow(p.session.pk, p.starts_at, p.room_id, p.centrifuge_id) for p in proposals]


def test_proposals_follow_the_protocol_interval_at_the_preferred_local_time(personas: Personas, setup: Any) -> None:
    plan = make_plan(personas, make_patient(personas.clinic_a), sessions=4, interval_days=7)
    proposals = propose(personas, plan)
    assert [local(p.starts_at) for p in proposals] == [
        "2027-03-01 10:00", "2027-03-08 10:00", "2027-03-15 10:00", "2027-03-22 10:00",
    ]  # fmt: skip
    assert {p.room_id for p in proposals} == {setup.room_1.pk}
    assert {p.centrifuge_id for p in proposals} == {setup.centrifuge.pk}


def test_proposals_keep_the_local_hour_across_the_change_to_summer_time(personas: Personas, setup: Any) -> None:
    plan = make_plan(personas, make_patient(personas.clinic_a), start=dt.date(2027, 3, 22), sessions=3)
    proposals = propose(personas, plan)
    assert [local(p.starts_at) for p in proposals] == ["2027-03-22 10:00", "2027-03-29 10:00", "2027-04-05 10:00"]
    assert [p.starts_at.astimezone(dt.UTC).hour for p in proposals if p.starts_at] == [9, 8, 8]


def test_proposals_skip_busy_time_and_later_sessions_keep_the_interval(personas: Personas, setup: Any) -> None:
    patient = make_patient(personas.clinic_a)
    plan = make_plan(personas, patient, sessions=4, interval_days=7)
    # Away all of session 2's due day; another patient at 10:00 on session 4's day.
    Absence.objects.create(clinic=personas.clinic_a, user=personas.physician, starts_at=at(dt.date(2027, 3, 8), 0),
                           ends_at=at(dt.date(2027, 3, 9), 0), reason="Course")  # fmt: skip
    make_appointment(personas, make_patient(personas.clinic_a), setup, starts_at=at(dt.date(2027, 3, 16), 10))
    proposals = propose(personas, plan)
    # Session 2 slips to Tuesday 9 March; sessions 3 and 4 follow 7 days after it (16 and 23 March);
    # on the 16th 10:00 is taken, and 09:00 and 11:00 are as near: the earlier is proposed.
    assert [local(p.starts_at) for p in proposals] == [
        "2027-03-01 10:00", "2027-03-09 10:00", "2027-03-16 09:00", "2027-03-23 10:00",
    ]  # fmt: skip
    assert [p.due_date for p in proposals][1:] == [dt.date(2027, 3, 8), dt.date(2027, 3, 16), dt.date(2027, 3, 23)]


def test_taken_rooms_move_the_proposal_to_the_nearest_free_time(personas: Personas, setup: Any) -> None:
    plan = make_plan(personas, make_patient(personas.clinic_a), sessions=1)
    for n, room in enumerate((setup.room_1, setup.room_2)):  # both rooms taken 10:00-10:45 by other nurses
        make_appointment(personas, make_patient(personas.clinic_a), setup, starts_at=at(MONDAY, 10),
                         clinician=colleague(personas, n), room=room, treatment="mesotherapy")  # fmt: skip
    assert [local(p.starts_at) for p in propose(personas, plan)] == ["2027-03-01 10:45"]


def test_a_full_centrifuge_moves_the_proposal_off_its_spin(personas: Personas, setup: Any) -> None:
    plan = make_plan(personas, make_patient(personas.clinic_a), sessions=1)
    # Two tubes (all slots) spin 10:15-10:30: a 10:00 start would spin then; 09:45 spins 10:00-10:15.
    make_appointment(personas, make_patient(personas.clinic_a), setup, starts_at=at(MONDAY, 10),
                     clinician=personas.nurse, room=setup.room_2, tubes=2)  # fmt: skip
    (proposal,) = propose(personas, plan)
    assert (local(proposal.starts_at), proposal.room_id) == ("2027-03-01 09:45", setup.room_1.pk)


def test_nothing_free_leaves_the_session_for_staff_to_choose(personas: Personas, setup: Any) -> None:
    plan = make_plan(personas, make_patient(personas.clinic_a), sessions=1)
    away = dt.timedelta(days=20)
    Absence.objects.create(clinic=personas.clinic_a, user=personas.physician, starts_at=at(MONDAY, 0) - away,
                           ends_at=at(MONDAY, 0) + away)  # fmt: skip
    (proposal,) = propose(personas, plan)
    assert proposal.starts_at is None
    assert proposal.message == "Nothing free within 14 days of Mon 01 Mar 2027 for Phil Physician: choose a time."


def test_adjusted_proposals_are_booked_in_one_step_linked_to_their_sessions(personas: Personas, setup: Any) -> None:
    plan = make_plan(personas, make_patient(personas.clinic_a), sessions=4)
    rows = rows_of(propose(personas, plan))
    rows[1] = series.SeriesRow(rows[1].session_id, at(dt.date(2027, 3, 9), 14), setup.room_2.pk)  # staff adjust
    booked = series.series_book(request=desk(personas), plan_id=plan.pk, clinician_id=personas.physician.pk, rows=rows)
    assert [local(a.starts_at) for a in booked] == [
        "2027-03-01 10:00", "2027-03-09 14:00", "2027-03-15 10:00", "2027-03-22 10:00",
    ]  # fmt: skip
    assert [a.plan_session.number for a in booked] == [1, 2, 3, 4]
    assert booked[1].room_id == setup.room_2.pk
    # Booked sessions are no longer proposed.
    assert propose(personas, plan) == []


def test_one_conflicting_row_books_nothing_and_each_refused_row_is_named(personas: Personas, setup: Any) -> None:
    plan = make_plan(personas, make_patient(personas.clinic_a), sessions=3)
    rows = rows_of(propose(personas, plan))
    other = make_patient(personas.clinic_a, given_name="Karl", family_name="Bauer", mrn="A000321")
    make_appointment(personas, other, setup, starts_at=at(dt.date(2027, 3, 15), 10, 30), room=setup.room_2)
    rows[0] = series.SeriesRow(rows[0].session_id, at(MONDAY, 16, 30), setup.room_1.pk)  # past working hours
    with pytest.raises(series.SeriesRefused) as exc:
        series.series_book(request=desk(personas), plan_id=plan.pk, clinician_id=personas.physician.pk, rows=rows)
    sessions = {s.pk: s.number for s in plan.sessions.all()}
    by_number = {sessions[sid]: messages for sid, messages in exc.value.rows.items()}
    assert sorted(by_number) == [1, 3]
    assert by_number[1] == [
        "Mon 01 Mar 2027 16:30-17:30 is outside Phil Physician's working hours on Mondays (09:00-17:00)."
    ]
    assert by_number[3] == [
        "Phil Physician is already booked: Mon 15 Mar 2027 10:30-11:30, K.B. (MRN A000321), "
        "PRP for hair loss with Phil Physician in Room 2."
    ]
    assert "Session 3: Phil Physician is already booked" in " ".join(exc.value.messages)
    assert Appointment.objects.filter(plan_session__plan=plan).count() == 0


def booked_series(personas: Personas, plan: Any) -> list[Appointment]:
    rows = rows_of(propose(personas, plan))
    return series.series_book(request=desk(personas), plan_id=plan.pk, clinician_id=personas.physician.pk, rows=rows)


def test_moving_a_session_offers_the_later_ones_the_same_local_shift(personas: Personas, setup: Any) -> None:
    plan = make_plan(personas, make_patient(personas.clinic_a), start=dt.date(2027, 3, 15), sessions=4)
    first, second, _, _ = booked_series(personas, plan)
    planned = services.planned_shift(appointment=second, starts_at=at(dt.date(2027, 3, 23), 11), zone=VIENNA)
    assert [local(m.starts_at) for m in planned] == ["2027-03-30 11:00", "2027-04-06 11:00"]  # across the change
    moved = services.appointment_move(
        request=desk(personas), appointment_id=second.pk, starts_at=at(dt.date(2027, 3, 23), 11), shift_following=True
    )
    assert [local(a.starts_at) for a in moved] == ["2027-03-23 11:00", "2027-03-30 11:00", "2027-04-06 11:00"]
    first.refresh_from_db()
    assert local(first.starts_at) == "2027-03-15 10:00"


def test_shifting_by_the_series_interval_moves_each_into_the_time_its_successor_left(
    personas: Personas, setup: Any
) -> None:
    plan = make_plan(personas, make_patient(personas.clinic_a), sessions=3)
    first, second, _ = booked_series(personas, plan)
    moved = services.appointment_move(
        request=desk(personas), appointment_id=first.pk, starts_at=second.starts_at, shift_following=True
    )
    assert [local(a.starts_at) for a in moved] == ["2027-03-08 10:00", "2027-03-15 10:00", "2027-03-22 10:00"]


def test_a_conflict_of_a_later_session_moves_nothing_and_names_it(personas: Personas, setup: Any) -> None:
    plan = make_plan(personas, make_patient(personas.clinic_a), sessions=3)
    _, second, third = booked_series(personas, plan)
    make_appointment(personas, make_patient(personas.clinic_a, mrn="A000654"), setup,
                     starts_at=at(dt.date(2027, 3, 16), 10), room=setup.room_2)  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        services.appointment_move(
            request=desk(personas), appointment_id=second.pk, starts_at=at(dt.date(2027, 3, 9), 10),
            shift_following=True,
        )  # fmt: skip
    assert len(exc.value.messages) == 1
    assert exc.value.messages[0].startswith("Session 3 (Tue 16 Mar 2027 10:00): Phil Physician is already booked")
    assert "(MRN A000654)" in exc.value.messages[0]
    unmoved = Appointment.objects.filter(pk__in=[second.pk, third.pk]).order_by("starts_at")
    assert [local(a.starts_at) for a in unmoved] == ["2027-03-08 10:00", "2027-03-15 10:00"]


def test_booking_a_session_twice_is_refused_naming_the_first(personas: Personas, setup: Any) -> None:
    patient = make_patient(personas.clinic_a)
    plan = make_plan(personas, patient, sessions=2)
    (first, _) = booked_series(personas, plan)
    with pytest.raises(ValidationError) as exc:
        services.appointment_book(
            request=desk(personas), patient_id=patient.pk, treatment="prp_scalp", clinician_id=personas.nurse.pk,
            room_id=setup.room_2.pk, starts_at=at(MONDAY, 14), plan_session_id=first.plan_session_id,
        )  # fmt: skip
    assert exc.value.message_dict["plan_session"][0].startswith("Session 1 is already booked: Mon 01 Mar 2027 10:00")
