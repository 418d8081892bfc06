"""Booking and moving appointments: each kind of conflict is refused naming the other appointment;
the centrifuge's tube slots during the spin; working hours in the clinic's local time across DST."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404

from prpclinic.audit.models import AuditEvent
from prpclinic.scheduling import services
from prpclinic.scheduling.models import Absence, Appointment, Room
from tests.conftest import Personas, clinic_request, make_patient
from tests.matrix_scheduling import MONDAY, at, colleague, make_appointment, schedule_setup


def book(personas: Personas, patient: Any, starts_at: dt.datetime, *, by: str = "front_desk", **kw: Any) -> Any:
    values: dict[str, Any] = {
        "treatment": "prp_scalp", "clinician_id": personas.physician.pk, "room_id": None, "starts_at": starts_at,
    }  # fmt: skip
    values.update(kw)
    return services.appointment_book(
        request=clinic_request(getattr(personas, by), personas.clinic_a), patient_id=patient.pk, **values
    )


def refusal(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return exc.value.message_dict


@pytest.fixture
def setup(personas: Personas) -> Any:
    return schedule_setup(personas)


def test_a_booking_takes_the_treatments_segments_and_is_audited(personas: Personas, setup: Any) -> None:
    patient = make_patient(personas.clinic_a)
    appt = book(personas, patient, at(MONDAY, 10), room_id=setup.room_1.pk)
    assert (appt.prep_minutes, appt.spin_minutes, appt.treatment_minutes, appt.tubes) == (15, 15, 30, 1)
    assert appt.ends_at - appt.starts_at == dt.timedelta(minutes=60)
    assert (appt.spin_starts_at, appt.spin_ends_at) == (at(MONDAY, 10, 15), at(MONDAY, 10, 30))
    assert appt.centrifuge_id == setup.centrifuge.pk  # the PRP went into the centrifuge in service
    assert Appointment.objects.get().starts_at == dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)  # stored UTC
    assert AuditEvent.objects.filter(action="appointment.book", object_id=str(appt.pk)).count() == 1


def test_mesotherapy_uses_no_centrifuge(personas: Personas, setup: Any) -> None:
    appt = book(personas, make_patient(personas.clinic_a), at(MONDAY, 10), room_id=setup.room_1.pk,
                treatment="mesotherapy")  # fmt: skip
    assert (appt.spin_minutes, appt.tubes, appt.centrifuge_id) == (0, 0, None)


def test_double_booking_the_clinician_is_refused_naming_the_other_appointment(personas: Personas, setup: Any) -> None:
    first = make_patient(personas.clinic_a, given_name="Maria", family_name="Huber", mrn="A000777")
    make_appointment(personas, first, setup, starts_at=at(MONDAY, 10), room=setup.room_1)
    with pytest.raises(ValidationError) as exc:
        book(personas, make_patient(personas.clinic_a), at(MONDAY, 10, 30), room_id=setup.room_2.pk)
    assert refusal(exc)["clinician"] == [
        "Phil Physician is already booked: Mon 01 Mar 2027 10:00-11:00, M.H. (MRN A000777), "
        "PRP for hair loss with Phil Physician in Room 1."
    ]
    assert "Huber" not in str(exc.value) and "Maria" not in str(exc.value)
    assert Appointment.objects.count() == 1


def test_double_booking_the_room_is_refused_naming_the_other_appointment(personas: Personas, setup: Any) -> None:
    other = make_patient(personas.clinic_a, given_name="Maria", family_name="Huber", mrn="A000777")
    make_appointment(personas, other, setup, starts_at=at(MONDAY, 10), clinician=personas.nurse,
                     treatment="mesotherapy")  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        book(personas, make_patient(personas.clinic_a), at(MONDAY, 9, 30), room_id=setup.room_1.pk)
    assert refusal(exc)["room"] == [
        "Room 1 is taken: Mon 01 Mar 2027 10:00-10:45, M.H. (MRN A000777), Mesotherapy with Nina Nurse in Room 1."
    ]


def test_back_to_back_appointments_do_not_conflict(personas: Personas, setup: Any) -> None:
    make_appointment(personas, make_patient(personas.clinic_a), setup, starts_at=at(MONDAY, 10), room=setup.room_1)
    appt = book(personas, make_patient(personas.clinic_a), at(MONDAY, 11), room_id=setup.room_1.pk)
    assert appt.starts_at == at(MONDAY, 11)


def test_cancelled_and_no_show_appointments_hold_nothing(personas: Personas, setup: Any) -> None:
    for status in ("cancelled", "no_show"):
        make_appointment(personas, make_patient(personas.clinic_a), setup, starts_at=at(MONDAY, 10), status=status)
    assert book(personas, make_patient(personas.clinic_a), at(MONDAY, 10), room_id=setup.room_1.pk).pk


def test_the_patient_cannot_be_in_two_appointments_at_once(personas: Personas, setup: Any) -> None:
    patient = make_patient(personas.clinic_a)
    make_appointment(personas, patient, setup, starts_at=at(MONDAY, 10), clinician=personas.nurse,
                     treatment="mesotherapy")  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        book(personas, patient, at(MONDAY, 10, 15), room_id=setup.room_2.pk)
    assert refusal(exc)["starts_at"][0].startswith("The patient already has an appointment then: Mon 01 Mar 2027 10:00")


def test_outside_working_hours_is_refused_with_the_hours(personas: Personas, setup: Any) -> None:
    patient = make_patient(personas.clinic_a)
    with pytest.raises(ValidationError) as exc:
        book(personas, patient, at(MONDAY, 16, 30), room_id=setup.room_1.pk)
    assert refusal(exc)["starts_at"] == [
        "Mon 01 Mar 2027 16:30-17:30 is outside Phil Physician's working hours on Mondays (09:00-17:00)."
    ]
    with pytest.raises(ValidationError) as exc:
        book(personas, patient, at(MONDAY + dt.timedelta(days=5), 10), room_id=setup.room_1.pk)
    assert refusal(exc)["starts_at"] == [
        "Phil Physician does not work on Saturdays (no working hours set): Sat 06 Mar 2027 10:00-11:00."
    ]


def test_an_absence_refuses_bookings_inside_it(personas: Personas, setup: Any) -> None:
    Absence.objects.create(clinic=personas.clinic_a, user=personas.physician, starts_at=at(MONDAY, 12),
                           ends_at=at(MONDAY, 14), reason="Conference")  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        book(personas, make_patient(personas.clinic_a), at(MONDAY, 13), room_id=setup.room_1.pk)
    assert refusal(exc)["clinician"] == ["Phil Physician is away Mon 01 Mar 2027 12:00-14:00 (Conference)."]


def test_the_centrifuge_holds_its_tube_slots_during_the_spin(personas: Personas, setup: Any) -> None:
    """Two slots: one tube spinning 10:15-10:30 and another 10:20-10:35 fill it from 10:20 to 10:30."""
    room_3 = Room.objects.create(clinic=personas.clinic_a, name="Room 3")
    make_appointment(personas, make_patient(personas.clinic_a, mrn="A000501", given_name="Eva", family_name="Gruber"),
                     setup, starts_at=at(MONDAY, 10), clinician=personas.nurse)  # fmt: skip
    other_nurse = colleague(personas, 2)
    make_appointment(personas, make_patient(personas.clinic_a, mrn="A000502", given_name="Olga", family_name="Moser"),
                     setup, starts_at=at(MONDAY, 10, 5), clinician=other_nurse, room=setup.room_2)  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        book(personas, make_patient(personas.clinic_a), at(MONDAY, 10, 10), room_id=room_3.pk)
    assert refusal(exc) == {
        "centrifuge": [
            "Centrifuge 1 holds 2 tubes: during the spin Mon 01 Mar 2027 10:25-10:40 2 tubes already spin "
            "(Mon 01 Mar 2027 10:00-11:00, E.G. (MRN A000501), PRP for hair loss with Nina Nurse in Room 1 (1 tube); "
            "Mon 01 Mar 2027 10:05-11:05, O.M. (MRN A000502), PRP for hair loss with Nurse Number2 in Room 2 "
            "(1 tube)), "
            "so 1 more do not fit."
        ]
    }
    # After the first spin ends (10:30), a spin from 10:30 fits beside the second one.
    assert book(personas, make_patient(personas.clinic_a), at(MONDAY, 10, 15), room_id=room_3.pk).pk


def test_spins_that_never_run_together_share_the_centrifuge(personas: Personas, setup: Any) -> None:
    """Spins 10:15-10:30 and 10:40-10:55 both overlap 10:27-10:42 but never run at once: the peak is 1 tube."""
    room_3 = Room.objects.create(clinic=personas.clinic_a, name="Room 3")
    make_appointment(personas, make_patient(personas.clinic_a), setup, starts_at=at(MONDAY, 10),
                     clinician=personas.nurse)  # fmt: skip
    make_appointment(personas, make_patient(personas.clinic_a), setup, starts_at=at(MONDAY, 10, 25),
                     clinician=colleague(personas, 2), room=setup.room_2)  # fmt: skip
    with pytest.raises(ValidationError) as exc:  # 1 + 2 tubes > 2 slots
        book(personas, make_patient(personas.clinic_a), at(MONDAY, 10, 12), room_id=room_3.pk, tubes=2)
    assert "1 tube already spins" in refusal(exc)["centrifuge"][0]
    appt = book(personas, make_patient(personas.clinic_a), at(MONDAY, 10, 12), room_id=room_3.pk, tubes=1)
    assert appt.centrifuge_id == setup.centrifuge.pk


def test_without_a_room_chosen_the_first_free_room_is_taken(personas: Personas, setup: Any) -> None:
    make_appointment(personas, make_patient(personas.clinic_a), setup, starts_at=at(MONDAY, 10),
                     clinician=personas.nurse, treatment="mesotherapy")  # fmt: skip
    appt = book(personas, make_patient(personas.clinic_a), at(MONDAY, 10), room_id=None, treatment="mesotherapy")
    assert appt.room_id == setup.room_2.pk
    with pytest.raises(ValidationError) as exc:
        book(personas, make_patient(personas.clinic_a), at(MONDAY, 10), room_id=None, treatment="mesotherapy",
             clinician_id=personas.physician.pk, by="admin")  # fmt: skip
    assert refusal(exc)["room"][0].startswith("No room is free then: Room 1 is taken: Mon 01 Mar 2027 10:00-10:45")


def test_working_hours_are_local_on_both_sides_of_the_spring_change(personas: Personas, setup: Any) -> None:
    """09:00-17:00 Vienna is 08:00-16:00 UTC before 28 March 2027 and 07:00-15:00 UTC after."""
    patient = make_patient(personas.clinic_a)
    before, after = dt.date(2027, 3, 26), dt.date(2027, 3, 29)  # Friday before, Monday after
    early_winter = dt.datetime(2027, 3, 26, 8, 0, tzinfo=dt.UTC)  # 09:00 CET
    early_summer = dt.datetime(2027, 3, 29, 7, 0, tzinfo=dt.UTC)  # 09:00 CEST
    assert book(personas, patient, early_winter, room_id=setup.room_1.pk).starts_at == at(before, 9)
    assert book(personas, patient, early_summer, room_id=setup.room_1.pk).starts_at == at(after, 9)
    with pytest.raises(ValidationError) as exc:  # 08:00 UTC + 1 h = 10:00 local is fine; 15:30 UTC = 17:30 local is not
        book(personas, patient, dt.datetime(2027, 3, 29, 15, 30, tzinfo=dt.UTC), room_id=setup.room_1.pk)
    assert "Mon 29 Mar 2027 17:30-18:30 is outside" in refusal(exc)["starts_at"][0]
    late_winter = dt.datetime(2027, 3, 26, 15, 30, tzinfo=dt.UTC)  # 16:30 CET: ends 17:30, refused too
    with pytest.raises(ValidationError):
        book(personas, patient, late_winter, room_id=setup.room_1.pk)


def test_working_hours_are_local_on_both_sides_of_the_autumn_change(personas: Personas, setup: Any) -> None:
    patient = make_patient(personas.clinic_a)
    # Friday 29 October 2027 (CEST, UTC+2) and Monday 1 November 2027 (CET, UTC+1): 16:00 local both days.
    friday = book(personas, patient, dt.datetime(2027, 10, 29, 14, 0, tzinfo=dt.UTC), room_id=setup.room_1.pk)
    monday = book(personas, patient, dt.datetime(2027, 11, 1, 15, 0, tzinfo=dt.UTC), room_id=setup.room_1.pk)
    assert (
        friday.starts_at.astimezone(at(MONDAY, 0).tzinfo).hour
        == monday.starts_at.astimezone(at(MONDAY, 0).tzinfo).hour
        == 16
    )
    with pytest.raises(ValidationError):  # 16:30 UTC on 1 November is 17:30 local
        book(personas, patient, dt.datetime(2027, 11, 1, 16, 30, tzinfo=dt.UTC), room_id=setup.room_1.pk)


def test_moving_checks_conflicts_without_counting_itself(personas: Personas, setup: Any) -> None:
    patient = make_patient(personas.clinic_a)
    appt = book(personas, patient, at(MONDAY, 10), room_id=setup.room_1.pk)
    request = clinic_request(personas.front_desk, personas.clinic_a)
    moved = services.appointment_move(request=request, appointment_id=appt.pk, starts_at=at(MONDAY, 10, 30))
    assert moved[0].starts_at == at(MONDAY, 10, 30) and moved[0].ends_at == at(MONDAY, 11, 30)
    other = make_appointment(personas, make_patient(personas.clinic_a, mrn="A000900"), setup,
                             starts_at=at(MONDAY, 14), room=setup.room_2)  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        services.appointment_move(request=request, appointment_id=appt.pk, starts_at=at(MONDAY, 14, 30))
    assert "(MRN A000900)" in refusal(exc)["clinician"][0]
    assert Appointment.objects.get(pk=appt.pk).starts_at == at(MONDAY, 10, 30)
    assert other.pk


def test_another_clinics_appointment_answers_404(personas: Personas, setup: Any) -> None:
    appt = make_appointment(personas, make_patient(personas.clinic_a), setup, starts_at=at(MONDAY, 10))
    request = clinic_request(personas.other_physician, personas.clinic_b)
    with pytest.raises(Http404):
        services.appointment_check_in(request=request, appointment_id=appt.pk)
    with pytest.raises(Http404):
        services.appointment_book(
            request=request, patient_id=appt.patient_id, treatment="prp_scalp",
            clinician_id=personas.other_physician.pk, room_id=None, starts_at=at(MONDAY, 10),
        )  # fmt: skip


def test_a_clinician_of_another_clinic_or_the_front_desk_cannot_be_booked(personas: Personas, setup: Any) -> None:
    patient = make_patient(personas.clinic_a)
    for user in (personas.other_physician, personas.front_desk):
        with pytest.raises(ValidationError) as exc:
            book(personas, patient, at(MONDAY, 10), clinician_id=user.pk, room_id=setup.room_1.pk)
        assert refusal(exc)["clinician"] == ["Choose a physician or nurse of this clinic."]
