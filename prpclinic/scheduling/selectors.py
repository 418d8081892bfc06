"""Reads of the schedule, scoped to one clinic, each in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from prpclinic.clinics.models import Membership, User
from prpclinic.clinics.roles import Role
from prpclinic.db import compiled_read
from prpclinic.links import address
from prpclinic.scheduling.models import (
    Absence,
    Appointment,
    AppointmentStatus,
    AppointmentType,
    Room,
    WorkingHours,
)
from prpclinic.scheduling.slots import Stretch

# No appointment is longer than its type's limits allow (480 + 240 + 480 minutes): bounding the
# start from below lets "overlaps this window" use the (clinic, ..., starts_at) indexes as a range.
LONGEST = dt.timedelta(minutes=480 + 240 + 480)

# The chart's timeline shows this many; its panel's next appointments are taken from those rows.
TIMELINE_LIMIT = 50
# Appointments still to happen or happening: the chart's "next appointments".
OPEN_STATUSES = (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN, AppointmentStatus.IN_TREATMENT)

# Roles whose members treat patients and so can be booked.
CLINICAL_ROLES = (Role.PHYSICIAN, Role.NURSE)


def appointments_between(
    *,
    clinic_id: int,
    start: dt.datetime,
    end: dt.datetime,
    clinician_id: int | None = None,
    room_id: int | None = None,
    statuses: Iterable[str] | None = None,
) -> QuerySet[Appointment]:
    """Appointments of the clinic that overlap [start, end), earliest first, one query.

    Patient, clinician, room and centrifuge come with them. ``statuses`` limits the statuses
    (default: all, cancelled and no-show included, so a calendar can show them struck through).
    """
    appointments = Appointment.objects.filter(
        clinic_id=clinic_id, starts_at__gte=start - LONGEST, starts_at__lt=end, ends_at__gt=start
    )
    if clinician_id is not None:
        appointments = appointments.filter(clinician_id=clinician_id)
    if room_id is not None:
        appointments = appointments.filter(room_id=room_id)
    if statuses is not None:
        appointments = appointments.filter(status__in=list(statuses))
    return appointments.select_related("patient", "clinician", "room", "centrifuge").order_by("starts_at", "id")


def appointment_get(*, request: HttpRequest, appointment_id: int) -> Appointment:
    """The appointment of the active clinic with its people and places; another clinic's answers 404."""
    found = (
        Appointment.objects.filter(clinic=request.clinic, pk=appointment_id)
        .select_related("patient", "clinician", "room", "centrifuge", "visit", "plan_session__plan__treatment")
        .first()
    )
    if found is None:
        raise Http404("No such appointment in this clinic.")
    return found


def patient_appointments(*, clinic_id: int, patient_id: int, upcoming_only: bool = False, limit: int = 20) -> list[Any]:
    """A patient's appointments (one query): all newest first, or the active ones still to come, soonest first."""
    if not upcoming_only and limit == TIMELINE_LIMIT:
        return _patient_appointments(clinic_id=clinic_id, patient_id=patient_id)
    appointments = Appointment.objects.filter(clinic_id=clinic_id, patient_id=patient_id).select_related(
        "clinician", "room"
    )
    if upcoming_only:
        appointments = appointments.filter(ends_at__gte=timezone.now(), status__in=OPEN_STATUSES).order_by(
            "starts_at", "id"
        )
    else:
        appointments = appointments.order_by("-starts_at", "-id")
    return list(appointments[:limit])


@compiled_read()
def _patient_appointments(clinic_id: int, patient_id: int) -> QuerySet[Appointment]:
    return (
        Appointment.objects.filter(clinic_id=clinic_id, patient_id=patient_id)
        .select_related("clinician", "room")
        .order_by("-starts_at", "-id")[:TIMELINE_LIMIT]
    )


def upcoming_of(appointments: list[Any], *, clinic_id: int, patient_id: int, limit: int = 5) -> list[Any]:
    """The active appointments still to come, soonest first, from ``patient_appointments``' newest-first rows.

    Exact only when those rows are all the patient's appointments (fewer than were asked for):
    otherwise a long appointment begun before the oldest row may still be running, so it asks
    the database (one query).
    """
    if len(appointments) >= TIMELINE_LIMIT:
        return patient_appointments(clinic_id=clinic_id, patient_id=patient_id, upcoming_only=True, limit=limit)
    now = timezone.now()
    found = [a for a in appointments if a.ends_at >= now and a.status in OPEN_STATUSES]
    return sorted(found, key=lambda a: (a.starts_at, a.pk))[:limit]


def timeline_items(
    *, clinic_id: int, patient_id: int, limit: int = TIMELINE_LIMIT, appointments: list[Any] | None = None
) -> list[dict[str, Any]]:
    """The patient's appointments for the chart's timeline (1 query), newest first.

    Keys: ``at`` (the appointment's start), ``kind`` ("appointment"), ``title``, ``detail``, ``url``.
    ``appointments``: ``patient_appointments``' rows when the chart has read them already (no query then).
    """
    items: list[dict[str, Any]] = []
    if appointments is None:
        appointments = patient_appointments(clinic_id=clinic_id, patient_id=patient_id, limit=limit)
    for appt in appointments[:limit]:
        local = timezone.localtime(appt.starts_at)
        detail = f"{local:%H:%M}, {appt.clinician.full_name}, {appt.room.name}"
        if appt.status_reason:
            detail += f" ({appt.status_reason})"
        items.append(
            {
                "at": appt.starts_at,
                "kind": "appointment",
                "title": f"Appointment: {appt.get_treatment_display()} ({appt.get_status_display().lower()})",
                "detail": detail,
                "url": address("scheduling_appointment", appt.pk),
            }
        )
    return items


def later_in_series(*, appointment: Appointment) -> list[Appointment]:
    """Booked appointments of the same plan after ``appointment``, earliest first (one query)."""
    if appointment.plan_session_id is None:
        return []
    return list(
        Appointment.objects.filter(
            clinic_id=appointment.clinic_id,
            plan_session__plan_id=appointment.plan_session.plan_id,
            status=AppointmentStatus.BOOKED,
            starts_at__gt=appointment.starts_at,
        )
        .exclude(pk=appointment.pk)
        .select_related("patient", "clinician", "room", "centrifuge", "plan_session")
        .order_by("starts_at", "id")
    )


def rooms(*, clinic_id: int, active_only: bool = True) -> list[Room]:
    found = Room.objects.filter(clinic_id=clinic_id)
    if active_only:
        found = found.filter(is_active=True)
    return list(found.order_by("name"))


def clinicians(*, clinic_id: int) -> list[User]:
    """Active physicians and nurses of the clinic, by name (one query): the people who can be booked."""
    memberships = (
        Membership.objects.filter(clinic_id=clinic_id, is_active=True, role__in=CLINICAL_ROLES, user__is_active=True)
        .select_related("user")
        .order_by("user__full_name")
    )
    return [m.user for m in memberships]


def appointment_types(*, clinic_id: int) -> dict[str, AppointmentType]:
    """The clinic's appointment type per treatment kind (one query)."""
    return {t.treatment: t for t in AppointmentType.objects.filter(clinic_id=clinic_id)}


def working_hours(*, clinic_id: int, user_ids: Iterable[int] | None = None) -> dict[int, dict[int, list[Stretch]]]:
    """Working stretches per user and weekday: ``{user_id: {weekday: [(starts, ends), ...]}}`` (one query)."""
    rows = WorkingHours.objects.filter(clinic_id=clinic_id)
    if user_ids is not None:
        rows = rows.filter(user_id__in=list(user_ids))
    found: dict[int, dict[int, list[Stretch]]] = defaultdict(lambda: defaultdict(list))
    for row in rows.order_by("user_id", "weekday", "starts"):
        found[row.user_id][row.weekday].append((row.starts, row.ends))
    return found


def working_hours_rows(*, clinic_id: int) -> list[WorkingHours]:
    return list(
        WorkingHours.objects.filter(clinic_id=clinic_id)
        .select_related("user")
        .order_by("user__full_name", "weekday", "starts")
    )


def absences_between(
    *, clinic_id: int, start: dt.datetime, end: dt.datetime, user_ids: Iterable[int] | None = None
) -> list[Absence]:
    """Active absences overlapping [start, end) (one query)."""
    found = Absence.objects.filter(clinic_id=clinic_id, is_active=True, starts_at__lt=end, ends_at__gt=start)
    if user_ids is not None:
        found = found.filter(user_id__in=list(user_ids))
    return list(found.select_related("user").order_by("starts_at"))


def absences_upcoming(*, clinic_id: int, limit: int = 100) -> list[Absence]:
    return list(
        Absence.objects.filter(clinic_id=clinic_id, is_active=True, ends_at__gt=timezone.now())
        .select_related("user")
        .order_by("starts_at")[:limit]
    )
