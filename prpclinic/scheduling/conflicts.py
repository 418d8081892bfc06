"""Why a time cannot be booked: clinician or room double-booked, the patient elsewhere, outside the
clinician's working hours, during an absence, or a full centrifuge during the spin.

Every refusal names what it collides with: the other appointment by its local time, clinician or
room, and the patient's initials and record number (never the full name: the sentence may be
read aloud at the desk). Cancelled and no-show appointments hold nothing.

Under concurrency the checks alone are not enough: callers lock the clinic's centrifuges first
(``lock_centrifuges``, always in id order so two bookings never wait on each other crosswise),
and on PostgreSQL exclusion constraints refuse overlapping clinician or room rows (migration 0002).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db.models import Q

from prpclinic.prp.models import Centrifuge
from prpclinic.scheduling import slots
from prpclinic.scheduling.models import ACTIVE_STATUSES, Absence, Appointment, Weekday, WorkingHours

WEEKDAYS = dict(Weekday.choices)


@dataclass(frozen=True)
class Slot:
    """What a booking asks for: who, where, when, and the segments of its time."""

    patient_id: int
    clinician_id: int
    room_id: int
    starts_at: dt.datetime
    prep_minutes: int
    spin_minutes: int
    treatment_minutes: int
    centrifuge_id: int | None = None
    tubes: int = 0

    @property
    def ends_at(self) -> dt.datetime:
        return self.starts_at + dt.timedelta(minutes=self.prep_minutes + self.spin_minutes + self.treatment_minutes)

    @property
    def spin_starts_at(self) -> dt.datetime:
        return self.starts_at + dt.timedelta(minutes=self.prep_minutes)

    @property
    def spin_ends_at(self) -> dt.datetime:
        return self.spin_starts_at + dt.timedelta(minutes=self.spin_minutes)

    @property
    def needs_centrifuge(self) -> bool:
        return self.spin_minutes > 0 and self.tubes > 0


@dataclass
class Conflicts:
    """Refusals keyed by the form field they concern (``clinician``, ``room``, ``starts_at``, ``centrifuge``)."""

    errors: dict[str, list[str]] = field(default_factory=dict)
    # The centrifuge the slot's tubes go into: the one asked for, or the first free one chosen.
    centrifuge_id: int | None = None

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    @property
    def messages(self) -> list[str]:
        return [m for messages in self.errors.values() for m in messages]


def when(starts_at: dt.datetime, ends_at: dt.datetime, zone: ZoneInfo) -> str:
    """``Mon 02 Mar 2026 09:00-10:00`` in the clinic's zone (the end's date too when it differs)."""
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    tail = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%a %d %b %Y %H:%M}"
    return f"{start:%a %d %b %Y %H:%M}-{tail}"


def tubes(count: int) -> str:
    return f"{count} tube" if count == 1 else f"{count} tubes"


def initials(appointment: Appointment) -> str:
    patient = appointment.patient
    letters = "".join(f"{part[:1].upper()}." for part in (patient.given_name, patient.family_name) if part)
    return f"{letters} (MRN {patient.mrn})"


def named(appointment: Appointment, zone: ZoneInfo) -> str:
    """The other appointment as the refusal names it."""
    return (
        f"{when(appointment.starts_at, appointment.ends_at, zone)}, {initials(appointment)}, "
        f"{appointment.get_treatment_display()} with {appointment.clinician.full_name} in {appointment.room.name}"
    )


def lock_centrifuges(*, clinic_id: int) -> dict[int, Centrifuge]:
    """The clinic's centrifuges, locked for this transaction in id order (one query)."""
    return {c.pk: c for c in Centrifuge.objects.select_for_update().filter(clinic_id=clinic_id).order_by("pk")}


def overlapping(
    *, clinic_id: int, slot: Slot, exclude_ids: Iterable[int] = (), centrifuge_ids: Iterable[int] = ()
) -> list[Appointment]:
    """Active appointments overlapping the slot that share its clinician, room, patient or a centrifuge (one query)."""
    shared = Q(clinician_id=slot.clinician_id) | Q(room_id=slot.room_id) | Q(patient_id=slot.patient_id)
    centrifuges = [c for c in centrifuge_ids if c is not None]
    if centrifuges:
        shared |= Q(centrifuge_id__in=centrifuges)
    return list(
        Appointment.objects.filter(
            shared,
            clinic_id=clinic_id,
            status__in=ACTIVE_STATUSES,
            starts_at__lt=slot.ends_at,
            ends_at__gt=slot.starts_at,
        )
        .exclude(pk__in=list(exclude_ids))
        .select_related("patient", "clinician", "room")
        .order_by("starts_at", "id")
    )


def centrifuge_load(*, slot: Slot, others: Iterable[Appointment], centrifuge_id: int) -> tuple[int, list[Appointment]]:
    """Tubes already in ``centrifuge_id`` at the fullest moment of the slot's spin, and whose spins they are."""
    spinning = [
        a
        for a in others
        if a.centrifuge_id == centrifuge_id
        and a.tubes
        and slots.overlaps(a.spin_starts_at, a.spin_ends_at, slot.spin_starts_at, slot.spin_ends_at)
    ]
    load = slots.peak_load(
        slot.spin_starts_at, slot.spin_ends_at, [(a.spin_starts_at, a.spin_ends_at, a.tubes) for a in spinning]
    )
    return load, spinning


def centrifuge_refusal(
    *, slot: Slot, centrifuge: Centrifuge, others: Iterable[Appointment], zone: ZoneInfo
) -> str | None:
    """Why the slot's tubes do not fit ``centrifuge`` during its spin; None when they fit."""
    if not centrifuge.in_service:
        reason = f" ({centrifuge.out_of_service_reason})" if centrifuge.out_of_service_reason else ""
        return f"{centrifuge.name} is out of service{reason}."
    load, spinning = centrifuge_load(slot=slot, others=others, centrifuge_id=centrifuge.pk)
    if load + slot.tubes <= centrifuge.tube_slots:
        return None
    booked = "; ".join(f"{named(a, zone)} ({tubes(a.tubes)})" for a in spinning)
    verb = "spins" if load == 1 else "spin"
    return (
        f"{centrifuge.name} holds {tubes(centrifuge.tube_slots)}: during the spin "
        f"{when(slot.spin_starts_at, slot.spin_ends_at, zone)} {tubes(load)} already {verb} ({booked}), "
        f"so {slot.tubes} more do not fit."
    )


def check(
    *,
    clinic_id: int,
    zone: ZoneInfo,
    slot: Slot,
    clinician_name: str,
    room_name: str,
    centrifuges: dict[int, Centrifuge] | None = None,
    exclude_ids: Iterable[int] = (),
) -> Conflicts:
    """Every reason the slot cannot be booked (3 queries), each naming what it collides with.

    ``centrifuges`` are the clinic's (locked) centrifuges when the slot spins; its own
    ``centrifuge_id`` must be one of them, and without one the first that holds the tubes is
    chosen (``Conflicts.centrifuge_id``).
    """
    found = Conflicts()
    spun_in = [slot.centrifuge_id] if slot.centrifuge_id is not None else list(centrifuges or {})
    others = overlapping(
        clinic_id=clinic_id,
        slot=slot,
        exclude_ids=exclude_ids,
        centrifuge_ids=spun_in if slot.needs_centrifuge else [],
    )
    for other in others:
        if other.clinician_id == slot.clinician_id:
            found.add("clinician", f"{clinician_name} is already booked: {named(other, zone)}.")
        if other.room_id == slot.room_id:
            found.add("room", f"{room_name} is taken: {named(other, zone)}.")
        if other.patient_id == slot.patient_id and other.clinician_id != slot.clinician_id:
            found.add("starts_at", f"The patient already has an appointment then: {named(other, zone)}.")
    stretches = {}
    for row in WorkingHours.objects.filter(clinic_id=clinic_id, user_id=slot.clinician_id).order_by("starts"):
        stretches.setdefault(row.weekday, []).append((row.starts, row.ends))
    if not slots.within_stretches(slot.starts_at, slot.ends_at, zone, stretches):
        local = slot.starts_at.astimezone(zone)
        day = WEEKDAYS[local.weekday()]
        hours = slots.describe_stretches(stretches.get(local.weekday(), []))
        span = when(slot.starts_at, slot.ends_at, zone)
        if hours:
            found.add("starts_at", f"{span} is outside {clinician_name}'s working hours on {day}s ({hours}).")
        else:
            found.add("starts_at", f"{clinician_name} does not work on {day}s (no working hours set): {span}.")
    absences = Absence.objects.filter(
        clinic_id=clinic_id,
        user_id=slot.clinician_id,
        is_active=True,
        starts_at__lt=slot.ends_at,
        ends_at__gt=slot.starts_at,
    ).order_by("starts_at")
    for absence in absences:
        reason = f" ({absence.reason})" if absence.reason else ""
        found.add("clinician", f"{clinician_name} is away {when(absence.starts_at, absence.ends_at, zone)}{reason}.")
    if slot.needs_centrifuge:
        _choose_centrifuge(found, slot=slot, centrifuges=centrifuges or {}, others=others, zone=zone)
    return found


def _choose_centrifuge(
    found: Conflicts, *, slot: Slot, centrifuges: dict[int, Centrifuge], others: list[Appointment], zone: ZoneInfo
) -> None:
    """The asked-for centrifuge must hold the tubes; without one, the first in service that does is taken."""
    if slot.centrifuge_id is not None:
        centrifuge = centrifuges.get(slot.centrifuge_id)
        if centrifuge is None:
            found.add("centrifuge", "Choose a centrifuge of this clinic.")
            return
        refusal = centrifuge_refusal(slot=slot, centrifuge=centrifuge, others=others, zone=zone)
        if refusal:
            found.add("centrifuge", refusal)
        else:
            found.centrifuge_id = centrifuge.pk
        return
    candidates = sorted((c for c in centrifuges.values() if c.in_service), key=lambda c: (c.name, c.pk))
    if not candidates:
        found.add("centrifuge", "No centrifuge is in service: add one (PRP devices) before booking a PRP treatment.")
        return
    refusals = []
    for centrifuge in candidates:
        refusal = centrifuge_refusal(slot=slot, centrifuge=centrifuge, others=others, zone=zone)
        if refusal is None:
            found.centrifuge_id = centrifuge.pk
            return
        refusals.append(refusal)
    for refusal in refusals:
        found.add("centrifuge", refusal)
