"""Booking appointments and moving them along their day: book, move (with the rest of the series),
check in, start the treatment (opens the visit), complete, cancel, no-show.

Every function is keyword-only, checks the permission, runs in one transaction and writes its
audit event inside it. Status moves follow ``transitions.ALLOWED`` only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.http import HttpRequest
from django.utils import timezone

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.clinics.models import Clinic, Membership, User
from prpclinic.patients.selectors import patient_get
from prpclinic.prp.models import Centrifuge
from prpclinic.scheduling import conflicts, slots, transitions
from prpclinic.scheduling.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentStatus,
    AppointmentType,
    Room,
)
from prpclinic.scheduling.resources import appointment_types_seed
from prpclinic.scheduling.selectors import CLINICAL_ROLES, later_in_series
from prpclinic.treatments.models import PlannedSession, SessionStatus
from prpclinic.visits.models import TreatmentKind, VisitStatus


def zone_of(clinic: Clinic) -> ZoneInfo:
    return ZoneInfo(clinic.timezone)


def _clinician(clinic: Clinic, clinician_id: int | None) -> User:
    membership = (
        Membership.objects.filter(
            clinic=clinic, user_id=clinician_id, is_active=True, role__in=CLINICAL_ROLES, user__is_active=True
        )
        .select_related("user")
        .first()
        if clinician_id
        else None
    )
    if membership is None:
        raise ValidationError({"clinician": "Choose a physician or nurse of this clinic."})
    return membership.user


def _room(clinic: Clinic, room_id: int | None) -> Room:
    room = Room.objects.filter(clinic=clinic, pk=room_id, is_active=True).first() if room_id else None
    if room is None:
        raise ValidationError({"room": "Choose a room of this clinic."})
    return room


def _free_room(request: HttpRequest, *, starts_at: dt.datetime, minutes: int, exclude_ids: Sequence[int] = ()) -> Room:
    """The first active room (by name) with no active appointment overlapping; refused naming who holds each."""
    ends_at = starts_at + dt.timedelta(minutes=minutes)
    rooms = list(Room.objects.filter(clinic=request.clinic, is_active=True).order_by("name"))
    if not rooms:
        raise ValidationError({"room": "No room is set up yet: add one under Schedule set-up."})
    taken = {
        a.room_id: a
        for a in Appointment.objects.filter(
            clinic=request.clinic, status__in=ACTIVE_STATUSES, starts_at__lt=ends_at, ends_at__gt=starts_at
        )
        .exclude(pk__in=list(exclude_ids))
        .select_related("patient", "clinician", "room")
        .order_by("-starts_at")
    }
    free = next((room for room in rooms if room.pk not in taken), None)
    if free is None:
        zone = zone_of(request.clinic)
        held = "; ".join(f"{room.name} is taken: {conflicts.named(taken[room.pk], zone)}" for room in rooms)
        raise ValidationError({"room": f"No room is free then: {held}."})
    return free


def _type_for(clinic: Clinic, treatment: str) -> AppointmentType:
    if treatment not in TreatmentKind.values:
        raise ValidationError({"treatment": "Choose a treatment."})
    found = AppointmentType.objects.filter(clinic=clinic, treatment=treatment).first()
    if found is None:
        appointment_types_seed(clinic=clinic)
        found = AppointmentType.objects.get(clinic=clinic, treatment=treatment)
    return found


def _aware(starts_at: dt.datetime | None) -> dt.datetime:
    if starts_at is None:
        raise ValidationError({"starts_at": "Give the date and time."})
    if timezone.is_naive(starts_at):
        raise ValueError("starts_at must be an aware datetime")  # a programming error, not the user's
    return starts_at.astimezone(dt.UTC)


@dataclass
class Refused(Exception):
    """Conflicts of one row, kept apart so a series can report every row before refusing them all."""

    conflicts: conflicts.Conflicts


def _collided(exc: Exception) -> bool:
    """The save lost a race with another booking of the same slot.

    Either the exclusion constraint refused the row (the other booking committed first), or
    PostgreSQL ended a deadlock: two bookings inserted overlapping rows at the same moment, each
    waited on the other's row, and this one was chosen to give way (SQLSTATE 40P01).
    """
    return isinstance(exc, IntegrityError) or getattr(exc.__cause__, "sqlstate", None) == "40P01"


def _place(
    *,
    request: HttpRequest,
    appointment: Appointment,
    clinician: User,
    room: Room,
    centrifuges: dict[int, Centrifuge] | None,
    exclude_ids: Sequence[int] = (),
) -> None:
    """Check ``appointment`` where it now stands and save it, or raise ``Refused`` naming the conflicts.

    The save runs in a savepoint: on PostgreSQL a booking that committed meanwhile makes the
    exclusion constraint refuse this row (or one made at the same moment ends in a deadlock that
    this one loses), and the conflict is then found and named like any other.
    """
    slot = conflicts.Slot(
        patient_id=appointment.patient_id,
        clinician_id=clinician.pk,
        room_id=room.pk,
        starts_at=appointment.starts_at,
        prep_minutes=appointment.prep_minutes,
        spin_minutes=appointment.spin_minutes,
        treatment_minutes=appointment.treatment_minutes,
        centrifuge_id=appointment.centrifuge_id,
        tubes=appointment.tubes,
    )
    zone = zone_of(request.clinic)
    ignore = [*exclude_ids, *([appointment.pk] if appointment.pk else [])]
    found = conflicts.check(
        clinic_id=request.clinic.pk,
        zone=zone,
        slot=slot,
        clinician_name=clinician.full_name,
        room_name=room.name,
        centrifuges=centrifuges,
        exclude_ids=ignore,
    )
    if found:
        raise Refused(found)
    appointment.centrifuge_id = found.centrifuge_id if slot.needs_centrifuge else None
    appointment.ends_at = slot.ends_at
    appointment.updated_at = timezone.now()
    # Constraints are the database's to enforce (the savepoint below); the checks above named them.
    appointment.full_clean(exclude=["plan_session", "visit"], validate_constraints=False)
    try:
        with transaction.atomic():
            appointment.save()
    except (IntegrityError, OperationalError) as exc:
        if not _collided(exc):
            raise
        again = conflicts.check(
            clinic_id=request.clinic.pk,
            zone=zone,
            slot=slot,
            clinician_name=clinician.full_name,
            room_name=room.name,
            centrifuges=centrifuges,
            exclude_ids=ignore,
        )
        if not again and appointment.plan_session_id:
            again.add("plan_session", "This session of the plan already has an appointment.")
        if not again:
            again.add("starts_at", "This time was booked by someone else a moment ago: choose another.")
        raise Refused(again) from None


def _plan_session(
    request: HttpRequest, patient_id: int, treatment: str, session_id: int | None
) -> PlannedSession | None:
    if not session_id:
        return None
    session = (
        PlannedSession.objects.filter(clinic=request.clinic, pk=session_id, plan__patient_id=patient_id)
        .select_related("plan")
        .first()
    )
    if session is None or session.plan.kind != treatment:
        raise ValidationError({"plan_session": "This session is not part of this patient's plan of this treatment."})
    if session.status != SessionStatus.PLANNED or session.visit_id is not None:
        raise ValidationError({"plan_session": f"Session {session.number} is already done or removed."})
    held = (
        Appointment.objects.filter(clinic=request.clinic, plan_session=session, status__in=ACTIVE_STATUSES)
        .select_related("patient", "clinician", "room")
        .first()
    )
    if held is not None:
        raise ValidationError(
            {
                "plan_session": f"Session {session.number} is already booked: "
                f"{conflicts.named(held, zone_of(request.clinic))}. Move that appointment instead."
            }
        )
    return session


def build_appointment(
    *,
    request: HttpRequest,
    patient_id: int,
    treatment: str,
    clinician: User,
    room: Room,
    starts_at: dt.datetime,
    tubes: int | None,
    centrifuge_id: int | None,
    plan_session: PlannedSession | None,
    note: str = "",
) -> Appointment:
    """An unsaved appointment with its type's segments copied (the type may change later)."""
    kind = _type_for(request.clinic, treatment)
    return Appointment(
        clinic=request.clinic,
        patient_id=patient_id,
        treatment=treatment,
        plan_session=plan_session,
        clinician=clinician,
        room=room,
        centrifuge_id=centrifuge_id if kind.spin_minutes else None,
        tubes=(kind.tubes if tubes is None else tubes) if kind.spin_minutes else 0,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=kind.total_minutes),
        prep_minutes=kind.prep_minutes,
        spin_minutes=kind.spin_minutes,
        treatment_minutes=kind.treatment_minutes,
        note=" ".join(note.split())[:300],
        created_by=request.user,
    )


def appointment_book(
    *,
    request: HttpRequest,
    patient_id: int,
    treatment: str,
    clinician_id: int | None,
    room_id: int | None,
    starts_at: dt.datetime | None,
    centrifuge_id: int | None = None,
    tubes: int | None = None,
    plan_session_id: int | None = None,
    note: str = "",
) -> Appointment:
    """Book an appointment for an active patient; its length is the treatment's appointment type.

    Refused (``ValidationError`` keyed by field, nothing saved) when the clinician or the room is
    booked then, the patient has another appointment then, the time is outside the clinician's
    working hours or inside an absence, or the centrifuge cannot hold the tubes during the spin;
    each refusal names the appointment it collides with. A PRP treatment without a chosen
    centrifuge goes into the first in service that holds its tubes; without a room, the first free one is taken.
    Side effects: the appointment (``booked``); audit ``appointment.book``.
    """
    access.require(request, "schedule.book")
    with transaction.atomic():
        patient = patient_get(request=request, patient_id=patient_id, for_update=True)  # another clinic's: 404
        if not patient.is_active:
            raise ValidationError("This patient's record is deactivated.")
        start = _aware(starts_at)
        clinician = _clinician(request.clinic, clinician_id)
        if room_id:
            room = _room(request.clinic, room_id)
        else:
            minutes = _type_for(request.clinic, treatment).total_minutes
            room = _free_room(request, starts_at=start, minutes=minutes)
        session = _plan_session(request, patient.pk, treatment, plan_session_id)
        appointment = build_appointment(
            request=request, patient_id=patient.pk, treatment=treatment, clinician=clinician, room=room,
            starts_at=start, tubes=tubes, centrifuge_id=centrifuge_id, plan_session=session, note=note,
        )  # fmt: skip
        centrifuges = conflicts.lock_centrifuges(clinic_id=request.clinic.pk) if appointment.spin_minutes else None
        try:
            _place(request=request, appointment=appointment, clinician=clinician, room=room, centrifuges=centrifuges)
        except Refused as refused:
            raise ValidationError(refused.conflicts.errors) from None
        audit_record(action="appointment.book", request=request, obj=appointment, changes=_described(appointment))
    return appointment


def _described(appointment: Appointment) -> dict[str, object]:
    return {
        "patient": appointment.patient_id,
        "treatment": appointment.treatment,
        "starts_at": appointment.starts_at.isoformat(),
        "ends_at": appointment.ends_at.isoformat(),
        "clinician": appointment.clinician_id,
        "room": appointment.room_id,
        "centrifuge": appointment.centrifuge_id,
        "tubes": appointment.tubes,
        "plan_session": appointment.plan_session_id,
    }


def _for_update(request: HttpRequest, appointment_id: int) -> Appointment:
    from django.http import Http404

    found = (
        Appointment.objects.select_for_update(of=("self",))
        .filter(clinic=request.clinic, pk=appointment_id)
        .select_related("plan_session")
        .first()
    )
    if found is None:
        raise Http404("No such appointment in this clinic.")
    return found


@dataclass(frozen=True)
class Move:
    """One appointment's new place in a move; ``starts_at`` None when the shifted local time does not exist."""

    appointment: Appointment
    starts_at: dt.datetime | None


def planned_shift(*, appointment: Appointment, starts_at: dt.datetime, zone: ZoneInfo) -> list[Move]:
    """The later booked sessions of the appointment's series, moved by the same amount on the local clock."""
    delta = slots.wall_delta(appointment.starts_at, starts_at, zone)
    return [Move(a, slots.shift_local(a.starts_at, delta, zone)) for a in later_in_series(appointment=appointment)]


def appointment_move(
    *,
    request: HttpRequest,
    appointment_id: int,
    starts_at: dt.datetime | None,
    clinician_id: int | None = None,
    room_id: int | None = None,
    centrifuge_id: int | None = None,
    shift_following: bool = False,
) -> list[Appointment]:
    """Move a booked appointment (another time, clinician or room); optionally the later sessions
    of its series by the same local-clock amount, all or nothing.

    Refused, naming the conflicting appointments per session, when any moved appointment would
    conflict (see ``appointment_book``); nothing moves then. Returns the moved appointments,
    this one first. Side effects: new times (and clinician, room, centrifuge); audit
    ``appointment.move`` per appointment with the old and new start.
    """
    access.require(request, "schedule.book")
    with transaction.atomic():
        appointment = _for_update(request, appointment_id)
        if appointment.status != AppointmentStatus.BOOKED:
            raise ValidationError(
                f"Only a booked appointment can be moved; this one is {appointment.get_status_display().lower()}."
            )
        start = _aware(starts_at)
        zone = zone_of(request.clinic)
        clinician = _clinician(request.clinic, clinician_id or appointment.clinician_id)
        room = _room(request.clinic, room_id or appointment.room_id)
        following = planned_shift(appointment=appointment, starts_at=start, zone=zone) if shift_following else []
        if following:
            Appointment.objects.select_for_update().filter(pk__in=[m.appointment.pk for m in following]).count()
        centrifuges = conflicts.lock_centrifuges(clinic_id=request.clinic.pk) if appointment.spin_minutes else None
        moves = [Move(appointment, start), *following]
        # Later first when moving later (and earlier first when moving earlier): each appointment
        # moves into time its sibling already left, never onto a sibling still in place.
        if start > appointment.starts_at:
            moves.reverse()
        pending = {m.appointment.pk for m in moves}
        errors: list[str] = []
        moved: list[Appointment] = []
        for move in moves:
            target = move.appointment
            old = target.starts_at
            pending.discard(target.pk)
            if move.starts_at is None:
                label = _session_label(target, zone)
                errors.append(f"{label}: the shifted time does not exist on the clock (a change to summer time).")
                continue
            target.starts_at = move.starts_at
            label = _session_label(target, zone)
            if target.pk == appointment.pk:
                who, where = clinician, room
                target.clinician, target.room = clinician, room
                if centrifuge_id:
                    target.centrifuge_id = centrifuge_id
            else:
                who, where = target.clinician, target.room
            try:
                _place(
                    request=request, appointment=target, clinician=who, room=where, centrifuges=centrifuges,
                    exclude_ids=sorted(pending),
                )  # fmt: skip
            except Refused as refused:
                if len(moves) == 1:
                    raise ValidationError(refused.conflicts.errors) from None
                errors += [f"{label}: {m}" for m in refused.conflicts.messages]
                continue
            moved.append(target)
            audit_record(
                action="appointment.move",
                request=request,
                obj=target,
                changes={
                    "from": old.isoformat(),
                    "to": target.starts_at.isoformat(),
                    "clinician": target.clinician_id,
                    "room": target.room_id,
                    "with_series": len(moves) > 1,
                },
            )
        if errors:
            raise ValidationError(errors)
    return sorted(moved, key=lambda a: (a.pk != appointment.pk, a.starts_at))


def _session_label(appointment: Appointment, zone: ZoneInfo) -> str:
    local = appointment.starts_at.astimezone(zone)
    number = f"Session {appointment.plan_session.number}" if appointment.plan_session_id else "Appointment"
    return f"{number} ({local:%a %d %b %Y %H:%M})"


def _transition(
    request: HttpRequest, appointment: Appointment, target: str, reason: str = "", *, via: str = ""
) -> None:
    refusal = transitions.refusal(appointment.status, target)
    if refusal:
        raise ValidationError(refusal)
    reason = " ".join(reason.split())[:300]
    if target in transitions.NEEDS_REASON and not reason:
        raise ValidationError({"reason": "Give the reason; it is kept with the appointment."})
    previous = appointment.status
    appointment.status = target
    if reason:
        appointment.status_reason = reason
    appointment.updated_at = timezone.now()
    appointment.save(update_fields=["status", "status_reason", "updated_at", "visit"])
    changes: dict[str, object] = {"from": previous, "to": target}
    if reason:
        changes["reason"] = reason
    if appointment.visit_id:
        changes["visit"] = appointment.visit_id
    if via:
        changes["via"] = via
    audit_record(
        action=f"appointment.{target}", request=request, clinic=appointment.clinic, obj=appointment, changes=changes
    )


def appointment_check_in(*, request: HttpRequest, appointment_id: int) -> Appointment:
    """The patient has arrived: booked -> checked in. Side effects: status; audit ``appointment.checked_in``."""
    access.require(request, "schedule.book")
    with transaction.atomic():
        appointment = _for_update(request, appointment_id)
        _transition(request, appointment, AppointmentStatus.CHECKED_IN)
    return appointment


def appointment_start_treatment(*, request: HttpRequest, appointment_id: int) -> Appointment:
    """Checked in -> in treatment, opening the visit through ``visits.services.visit_start``.

    The visit's gates apply: without a valid screening or consent the visit is refused with its
    own sentence, and the appointment stays checked in. Needs ``visit.start`` too (clinicians).
    Side effects: a visit (and its plan-session link, see ``visit_start``); the appointment's
    ``visit`` and status; audit ``appointment.in_treatment``.
    """
    from prpclinic.visits.services import visit_start

    access.require(request, "schedule.book")
    access.require(request, "visit.start")
    with transaction.atomic():
        appointment = _for_update(request, appointment_id)
        refusal = transitions.refusal(appointment.status, AppointmentStatus.IN_TREATMENT)
        if refusal:
            raise ValidationError(refusal)
        visit = visit_start(
            request=request,
            patient_id=appointment.patient_id,
            treatment=appointment.treatment,
            plan_session_id=appointment.plan_session_id,
        )
        appointment.visit = visit
        _transition(request, appointment, AppointmentStatus.IN_TREATMENT)
    return appointment


def appointment_complete(*, request: HttpRequest, appointment_id: int) -> Appointment:
    """In treatment -> completed, once its visit is completed (refused while the visit is open).

    Side effects: status; audit ``appointment.completed``.
    """
    access.require(request, "schedule.book")
    with transaction.atomic():
        appointment = _for_update(request, appointment_id)
        refusal = transitions.refusal(appointment.status, AppointmentStatus.COMPLETED)
        if refusal:
            raise ValidationError(refusal)
        visit = appointment.visit
        if visit is None or visit.status != VisitStatus.COMPLETED:
            raise ValidationError("The visit is still open: chart and complete the visit first.")
        _transition(request, appointment, AppointmentStatus.COMPLETED)
    return appointment


def appointment_cancel(*, request: HttpRequest, appointment_id: int, reason: str) -> Appointment:
    """Booked or checked in -> cancelled, with a reason; its time, room and centrifuge slots are free again.

    Side effects: status and reason; audit ``appointment.cancelled``.
    """
    access.require(request, "schedule.book")
    with transaction.atomic():
        appointment = _for_update(request, appointment_id)
        _transition(request, appointment, AppointmentStatus.CANCELLED, reason)
    return appointment


def appointment_cancel_by_patient(*, request: HttpRequest, appointment: Appointment, reason: str) -> Appointment:
    """The patient cancels through their one-time link: booked or checked in -> cancelled.

    No staff permission applies (the caller has checked the link and locked the appointment
    row); the same transition table and audit action as ``appointment_cancel``, marked
    ``via: patient_link``.
    """
    with transaction.atomic():
        _transition(request, appointment, AppointmentStatus.CANCELLED, reason, via="patient_link")
    return appointment


def appointment_no_show(*, request: HttpRequest, appointment_id: int, reason: str) -> Appointment:
    """Booked or checked in -> no-show, with a reason.

    Side effects: status and reason; audit ``appointment.no_show``.
    """
    access.require(request, "schedule.book")
    with transaction.atomic():
        appointment = _for_update(request, appointment_id)
        _transition(request, appointment, AppointmentStatus.NO_SHOW, reason)
    return appointment
