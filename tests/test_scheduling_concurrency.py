"""Two bookings at once: one wins, the other hears which appointment it collides with (never a 500).

Each race runs two ``appointment_book`` calls in two threads, each with its own PostgreSQL
connection, released together by a barrier. The clinician and room races are decided by the
exclusion constraints (migration 0002), the centrifuge race by the centrifuge row lock.
PostgreSQL only: SQLite serialises whole transactions, so it proves nothing.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, connections

from prpclinic.clinics.roles import Role
from prpclinic.scheduling import services
from prpclinic.scheduling.models import Appointment, Room
from tests.conftest import Personas, clinic_request, make_patient, make_user
from tests.matrix_scheduling import MONDAY, at, make_appointment, schedule_setup

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 4


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None


def race(*calls: Callable[[], Any]) -> list[Outcome]:
    barrier = threading.Barrier(len(calls))
    outcomes = [Outcome() for _ in calls]

    def run(call: Callable[[], Any], outcome: Outcome) -> None:
        try:
            connection.ensure_connection()
            barrier.wait(timeout=10)
            outcome.value = call()
        except BaseException as exc:  # judged in the main thread
            outcome.error = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=pair) for pair in zip(calls, outcomes, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racer never finished (a deadlock?)"
    unexpected = [o.error for o in outcomes if o.error is not None and not isinstance(o.error, ValidationError)]
    assert unexpected == [], unexpected
    return outcomes


def booking(personas: Personas, patient: Any, starts_at: dt.datetime, **kw: Any) -> Callable[[], Any]:
    request = clinic_request(personas.front_desk, personas.clinic_a)
    values: dict[str, Any] = {"treatment": "mesotherapy", "clinician_id": personas.physician.pk} | kw
    return lambda: services.appointment_book(request=request, patient_id=patient.pk, starts_at=starts_at, **values)


def one_wins(outcomes: list[Outcome]) -> str:
    winners = [o for o in outcomes if o.error is None]
    losers = [o for o in outcomes if o.error is not None]
    assert (len(winners), len(losers)) == (1, 1)
    return " ".join(losers[0].error.messages)  # type: ignore[union-attr]


def test_two_bookings_of_one_clinician_at_once_one_wins_the_other_is_named(personas: Personas) -> None:
    setup = schedule_setup(personas)
    for n in range(ROUNDS):
        first = make_patient(personas.clinic_a, mrn=f"A0010{n}1", given_name="Ida", family_name="Lang")
        second = make_patient(personas.clinic_a, mrn=f"A0010{n}2", given_name="Ida", family_name="Lang")
        start = at(MONDAY, 9 + 2 * n)
        message = one_wins(
            race(
                booking(personas, first, start, room_id=setup.room_1.pk),
                booking(personas, second, start, room_id=setup.room_2.pk),
            )
        )
        assert "Phil Physician is already booked: Mon 01 Mar 2027" in message
        assert "I.L. (MRN A0010" in message
    assert Appointment.objects.count() == ROUNDS


def test_two_bookings_of_one_room_at_once_one_wins(personas: Personas) -> None:
    setup = schedule_setup(personas)
    for n in range(ROUNDS):
        start = at(MONDAY, 9 + 2 * n)
        message = one_wins(
            race(
                booking(personas, make_patient(personas.clinic_a), start, room_id=setup.room_1.pk),
                booking(
                    personas,
                    make_patient(personas.clinic_a),
                    start,
                    room_id=setup.room_1.pk,
                    clinician_id=personas.nurse.pk,
                ),
            )
        )
        assert "Room 1 is taken: Mon 01 Mar 2027" in message
    assert Appointment.objects.count() == ROUNDS


def test_two_spins_for_the_last_tube_slot_at_once_one_wins(personas: Personas) -> None:
    setup = schedule_setup(personas, tube_slots=2)
    room_3 = Room.objects.create(clinic=personas.clinic_a, name="Room 3")
    colleague = make_user("nurse2@a.test", "Nora Second", personas.clinic_a, Role.NURSE)
    for n in range(ROUNDS):
        start = at(MONDAY + dt.timedelta(days=n), 10)
        # One tube already spins then: one slot is left for two bookings of one tube each, by two
        # clinicians in two rooms, so only the centrifuge (its row lock) can decide.
        make_appointment(personas, make_patient(personas.clinic_a), setup, starts_at=start,
                         clinician=colleague, room=room_3)  # fmt: skip
        message = one_wins(
            race(
                booking(
                    personas,
                    make_patient(personas.clinic_a),
                    start,
                    room_id=setup.room_1.pk,
                    treatment="prp_scalp",
                    centrifuge_id=setup.centrifuge.pk,
                ),
                booking(
                    personas,
                    make_patient(personas.clinic_a),
                    start + dt.timedelta(minutes=5),
                    room_id=setup.room_2.pk,
                    treatment="prp_scalp",
                    centrifuge_id=setup.centrifuge.pk,
                    clinician_id=personas.nurse.pk,
                ),
            )
        )
        assert message.startswith("Centrifuge 1 holds 2 tubes: during the spin")
    assert Appointment.objects.count() == 2 * ROUNDS


def test_the_database_itself_refuses_an_overlapping_clinician_row(personas: Personas) -> None:
    setup = schedule_setup(personas)
    make_appointment(personas, make_patient(personas.clinic_a), setup, starts_at=at(MONDAY, 10))
    with pytest.raises(IntegrityError):
        make_appointment(personas, make_patient(personas.clinic_a), setup, starts_at=at(MONDAY, 10, 30),
                         room=setup.room_2)  # fmt: skip
