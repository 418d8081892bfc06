"""Scheduling test set-up: rooms, working hours, a small centrifuge, appointment types; and the placeholders
of the rows in permission_matrix_scheduling.csv (clinic A's objects, made directly)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from prpclinic.prp.models import Centrifuge
from prpclinic.scheduling.models import Absence, Appointment, AppointmentType, Room, WorkingHours
from prpclinic.scheduling.resources import appointment_types_seed
from prpclinic.treatments.models import PlannedSession, Protocol, Treatment, TreatmentPlan
from prpclinic.treatments.seeding import seed_catalogue

VIENNA = ZoneInfo("Europe/Vienna")
# A Monday in winter time (CET, UTC+1); 2027's clocks change on 28 March and 31 October.
MONDAY = dt.date(2027, 3, 1)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """A local Vienna clock time as an aware datetime."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=VIENNA)


@dataclass
class Schedule:
    room_1: Room
    room_2: Room
    centrifuge: Centrifuge
    types: dict[str, AppointmentType]


def schedule_setup(personas: Any, *, tube_slots: int = 2, hours: tuple[int, int] = (9, 17)) -> Schedule:
    """Clinic A: two rooms, the physician and the nurse working Monday to Friday ``hours`` (local),
    one centrifuge of ``tube_slots`` slots, and appointment types of 15 + 15 + 30 minutes (PRP: 1 tube)."""
    clinic = personas.clinic_a
    room_1 = Room.objects.create(clinic=clinic, name="Room 1")
    room_2 = Room.objects.create(clinic=clinic, name="Room 2")
    for user in (personas.physician, personas.nurse):
        for weekday in range(5):
            WorkingHours.objects.create(
                clinic=clinic, user=user, weekday=weekday, starts=dt.time(hours[0]), ends=dt.time(hours[1])
            )
    centrifuge = Centrifuge.objects.create(
        clinic=clinic, name="Centrifuge 1", make="Hettich", model="EBA 200", serial_number="SCHED-1",
        rotor_radius_cm=Decimal("8.6"), max_rpm=6000, tube_slots=tube_slots, calibration_due=dt.date(2099, 1, 1),
    )  # fmt: skip
    types = {t.treatment: t for t in appointment_types_seed(clinic=clinic)}
    return Schedule(room_1=room_1, room_2=room_2, centrifuge=centrifuge, types=types)


def colleague(personas: Any, n: int) -> Any:
    """Another nurse of clinic A (no working hours): for appointments made directly beside the personas'."""
    from prpclinic.clinics.roles import Role
    from tests.conftest import make_user

    return make_user(f"nurse{n}@a.test", f"Nurse Number{n}", personas.clinic_a, Role.NURSE)


def make_plan(personas: Any, patient: Any, *, kind: str = "prp_scalp", start: dt.date = MONDAY, sessions: int = 4,
              interval_days: int = 7) -> TreatmentPlan:  # fmt: skip
    """An active plan of ``sessions`` sessions ``interval_days`` apart, made directly."""
    clinic = personas.clinic_a
    seed_catalogue(clinic=clinic)
    treatment = Treatment.objects.get(clinic=clinic, kind=kind)
    protocol = Protocol.objects.get(clinic=clinic, treatment=treatment, is_current=True)
    plan = TreatmentPlan.objects.create(
        clinic=clinic, patient=patient, treatment=treatment, kind=kind, protocol=protocol, start_date=start,
        created_by=personas.nurse,
    )  # fmt: skip
    for n in range(sessions):
        PlannedSession.objects.create(
            clinic=clinic, plan=plan, number=n + 1, due_date=start + dt.timedelta(days=interval_days * n)
        )
    return plan


def make_appointment(personas: Any, patient: Any, schedule: Schedule, *, starts_at: dt.datetime,
                     treatment: str = "prp_scalp", status: str = "booked", **fields: Any) -> Appointment:  # fmt: skip
    """An appointment made directly (no checks), as a type's segments say."""
    kind = schedule.types[treatment]
    values: dict[str, Any] = {
        "clinic": personas.clinic_a, "patient": patient, "treatment": treatment, "clinician": personas.physician,
        "room": schedule.room_1, "starts_at": starts_at,
        "ends_at": starts_at + dt.timedelta(minutes=kind.total_minutes),
        "prep_minutes": kind.prep_minutes, "spin_minutes": kind.spin_minutes,
        "treatment_minutes": kind.treatment_minutes, "tubes": kind.tubes, "status": status,
        "centrifuge": schedule.centrifuge if kind.spin_minutes else None, "created_by": personas.front_desk,
    }  # fmt: skip
    values.update(fields)
    return Appointment.objects.create(**values)


def placeholders(personas: Any, patient: Any) -> dict[str, int]:
    schedule = schedule_setup(personas)
    clinic = personas.clinic_a
    future = dt.date.today() + dt.timedelta(days=(7 - dt.date.today().weekday()) + 7)  # a Monday 1-2 weeks ahead
    booked = make_appointment(personas, patient, schedule, starts_at=at(future, 10))
    # Mesotherapy: the treatments matrix books a scalp plan for the same patient, one active plan per kind.
    plan = make_plan(personas, patient, kind="mesotherapy", start=future + dt.timedelta(days=1), sessions=2)
    hours = WorkingHours.objects.filter(clinic=clinic, user=personas.nurse).first()
    absence = Absence.objects.create(
        clinic=clinic, user=personas.nurse, starts_at=at(future, 12), ends_at=at(future, 13), reason="Training"
    )
    return {
        "scheduling_appointment_a": booked.pk,
        "scheduling_room_a": schedule.room_2.pk,
        "scheduling_hours_a": hours.pk,  # type: ignore[union-attr]
        "scheduling_absence_a": absence.pk,
        "scheduling_type_a": schedule.types["mesotherapy"].pk,
        "scheduling_plan_a": plan.pk,
        "scheduling_physician_a": personas.physician.pk,
        "scheduling_nurse_a": personas.nurse.pk,
    }
