"""Setting up what appointments use: rooms, clinicians' working hours and absences, appointment types.

Centrifuges and their tube slots are the PRP app's devices (``prp.devices``); booking reads them.
Every write needs ``schedule.resources`` (clinic admins) except the seeding of appointment types,
which any first use of the schedule triggers. All writes are audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest
from django.utils import timezone

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.clinics.models import Clinic, Membership
from prpclinic.scheduling.models import Absence, AppointmentType, Room, WorkingHours
from prpclinic.visits.models import TreatmentKind


@dataclass(frozen=True)
class TypeDefault:
    prep_minutes: int
    spin_minutes: int
    treatment_minutes: int
    tubes: int
    source: str


# Clinic settings, not clinical facts. The spin is the clinic's own "spun in a centrifuge for
# about 15 minutes" (PRP_REFERENCE §0 [clinic statement]); mesotherapy draws no blood and spins
# nothing (§7). Preparation and treatment minutes, and the tube count, have no source: they are
# placeholders (one tube is the least a blood draw fills) that the set-up page asks the clinic to set.
SPIN_SOURCE = "spin: the clinic's own statement, about 15 minutes (PRP_REFERENCE §0)"
PLACEHOLDER = "preparation, treatment and tubes: placeholders for the clinic to set"
DEFAULTS: dict[str, TypeDefault] = {
    TreatmentKind.MICRONEEDLING_PRP: TypeDefault(15, 15, 30, 1, f"{SPIN_SOURCE}; {PLACEHOLDER}"),
    TreatmentKind.PRP_SCALP: TypeDefault(15, 15, 30, 1, f"{SPIN_SOURCE}; {PLACEHOLDER}"),
    TreatmentKind.MESOTHERAPY: TypeDefault(
        15, 0, 30, 0, "no blood draw, no spin (PRP_REFERENCE §7); preparation and treatment: placeholders"
    ),
}


def appointment_types_seed(*, clinic: Clinic) -> list[AppointmentType]:
    """Give the clinic an appointment type per treatment where it has none (idempotent, race-safe)."""
    have = set(AppointmentType.objects.filter(clinic=clinic).values_list("treatment", flat=True))
    for kind, default in DEFAULTS.items():
        if kind in have:
            continue
        try:
            with transaction.atomic():
                AppointmentType.objects.create(
                    clinic=clinic,
                    treatment=kind,
                    prep_minutes=default.prep_minutes,
                    spin_minutes=default.spin_minutes,
                    treatment_minutes=default.treatment_minutes,
                    tubes=default.tubes,
                )
        except IntegrityError:
            pass  # another request seeded it first
    return list(AppointmentType.objects.filter(clinic=clinic).order_by("treatment"))


def appointment_type_update(
    *, request: HttpRequest, type_id: int, prep_minutes: int, spin_minutes: int, treatment_minutes: int, tubes: int
) -> AppointmentType:
    """Set a treatment's appointment length and tubes. Booked appointments keep the segments they were
    booked with. Side effects: the type (marked as set by the clinic); audit ``schedule.type_update``."""
    access.require(request, "schedule.resources")
    with transaction.atomic():
        found = AppointmentType.objects.select_for_update().filter(clinic=request.clinic, pk=type_id).first()
        if found is None:
            raise Http404("No such appointment type in this clinic.")
        before = {
            "prep_minutes": found.prep_minutes,
            "spin_minutes": found.spin_minutes,
            "treatment_minutes": found.treatment_minutes,
            "tubes": found.tubes,
        }
        found.prep_minutes, found.spin_minutes = prep_minutes, spin_minutes
        found.treatment_minutes, found.tubes = treatment_minutes, tubes
        if found.treatment == TreatmentKind.MESOTHERAPY and (spin_minutes or tubes):
            raise ValidationError({"spin_minutes": "Mesotherapy uses no PRP: no spin and no tubes."})
        found.updated_at, found.updated_by = timezone.now(), request.user
        found.full_clean()
        found.save()
        after = {k: getattr(found, k) for k in before}
        audit_record(action="schedule.type_update", request=request, obj=found, changes={"from": before, "to": after})
    return found


def room_save(*, request: HttpRequest, name: str, room_id: int | None = None, is_active: bool = True) -> Room:
    """Add a room, or rename it and take it out of (or back into) use; rooms are never deleted.

    Side effects: the room; audit ``schedule.room_create`` or ``schedule.room_update``.
    """
    access.require(request, "schedule.resources")
    name = " ".join(name.split())
    with transaction.atomic():
        if room_id is None:
            room = Room(clinic=request.clinic)
        else:
            found = Room.objects.select_for_update().filter(clinic=request.clinic, pk=room_id).first()
            if found is None:
                raise Http404("No such room in this clinic.")
            room = found
        before = {"name": room.name, "is_active": room.is_active}
        room.name, room.is_active = name, is_active
        if Room.objects.filter(clinic=request.clinic, name__iexact=name).exclude(pk=room.pk).exists():
            raise ValidationError({"name": f"There is already a room called {name}."})
        room.full_clean()
        room.save()
        audit_record(
            action="schedule.room_create" if room_id is None else "schedule.room_update",
            request=request,
            obj=room,
            changes={"name": name, "is_active": is_active} | ({"before": before} if room_id else {}),
        )
    return room


def _clinician_of(request: HttpRequest, user_id: int | None) -> int:
    from prpclinic.scheduling.selectors import CLINICAL_ROLES

    member = Membership.objects.filter(
        clinic=request.clinic, user_id=user_id, is_active=True, role__in=CLINICAL_ROLES
    ).exists()
    if not user_id or not member:
        raise ValidationError({"user": "Choose a physician or nurse of this clinic."})
    return int(user_id)


def working_hours_add(
    *, request: HttpRequest, user_id: int | None, weekday: int | None, starts: dt.time | None, ends: dt.time | None
) -> WorkingHours:
    """Add a stretch of a clinician's week (local clock times of the clinic's zone).

    Refused when it overlaps another stretch of the same day. Booked appointments are not
    re-checked. Side effects: the stretch; audit ``schedule.hours_add``.
    """
    access.require(request, "schedule.resources")
    with transaction.atomic():
        clinician_id = _clinician_of(request, user_id)
        row = WorkingHours(clinic=request.clinic, user_id=clinician_id, weekday=weekday, starts=starts, ends=ends)
        row.full_clean()
        same_day = WorkingHours.objects.filter(clinic=request.clinic, user_id=clinician_id, weekday=weekday)
        for other in same_day:
            if other.starts < row.ends and row.starts < other.ends:
                raise ValidationError({"starts": f"This overlaps {other.starts:%H:%M}-{other.ends:%H:%M} that day."})
        row.save()
        audit_record(
            action="schedule.hours_add",
            request=request,
            obj=row,
            changes={"user": clinician_id, "weekday": weekday, "starts": str(starts), "ends": str(ends)},
        )
    return row


def working_hours_remove(*, request: HttpRequest, hours_id: int) -> None:
    """Remove a stretch of a clinician's week (a setting, not a clinical record: the audit keeps it).

    Side effects: the row deleted; audit ``schedule.hours_remove`` with its values.
    """
    access.require(request, "schedule.resources")
    with transaction.atomic():
        row = WorkingHours.objects.select_for_update().filter(clinic=request.clinic, pk=hours_id).first()
        if row is None:
            raise Http404("No such working hours in this clinic.")
        audit_record(
            action="schedule.hours_remove",
            request=request,
            obj=row,
            changes={"user": row.user_id, "weekday": row.weekday, "starts": str(row.starts), "ends": str(row.ends)},
        )
        row.delete()


def absence_add(
    *, request: HttpRequest, user_id: int | None, starts_at: dt.datetime | None, ends_at: dt.datetime | None,
    reason: str = "",
) -> Absence:  # fmt: skip
    """Record a clinician's absence; bookings inside it are refused from then on.

    Side effects: the absence; audit ``schedule.absence_add``. Returns it; appointments already
    booked inside it are listed on the set-up page to be moved (``appointments_during``).
    """
    access.require(request, "schedule.resources")
    with transaction.atomic():
        clinician_id = _clinician_of(request, user_id)
        absence = Absence(
            clinic=request.clinic, user_id=clinician_id, starts_at=starts_at, ends_at=ends_at,
            reason=" ".join(reason.split())[:200],
        )  # fmt: skip
        absence.full_clean()
        absence.save()
        audit_record(
            action="schedule.absence_add",
            request=request,
            obj=absence,
            changes={"user": clinician_id, "starts_at": str(starts_at), "ends_at": str(ends_at), "reason": reason},
        )
    return absence


def absence_withdraw(*, request: HttpRequest, absence_id: int) -> Absence:
    """Withdraw an absence (kept, marked inactive).

    Side effects: ``is_active`` false; audit ``schedule.absence_withdraw``.
    """
    access.require(request, "schedule.resources")
    with transaction.atomic():
        absence = Absence.objects.select_for_update().filter(clinic=request.clinic, pk=absence_id).first()
        if absence is None:
            raise Http404("No such absence in this clinic.")
        if absence.is_active:
            absence.is_active = False
            absence.save(update_fields=["is_active"])
            audit_record(action="schedule.absence_withdraw", request=request, obj=absence)
    return absence
