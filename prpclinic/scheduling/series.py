"""Booking a treatment plan's remaining sessions in one step.

``series_propose`` finds, for each session not yet done or booked, the free time nearest its due
date: a start inside the clinician's working hours, outside absences, with a free room and, for
PRP, a centrifuge that holds the tubes during the spin. The sessions keep the protocol's interval:
when one slips by a day, the due dates after it slip with it. Staff adjust any proposed time;
``series_book`` then books every row or none, naming the conflicts of each refused row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils import timezone

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.patients.selectors import patient_get
from prpclinic.prp.models import Centrifuge
from prpclinic.scheduling import conflicts, selectors, slots
from prpclinic.scheduling.models import ACTIVE_STATUSES, Appointment, AppointmentType, Room
from prpclinic.scheduling.services import (
    Refused,
    _clinician,
    _free_room,
    _place,
    _room,
    _type_for,
    build_appointment,
    zone_of,
)
from prpclinic.treatments.models import PlannedSession, PlanStatus, SessionStatus, TreatmentPlan

# How many days either side of a due date the search looks, and the step of proposed start times.
SEARCH_DAYS = 14
STEP_MINUTES = 15


@dataclass
class Proposal:
    """One session's proposed time, or why there is none (``starts_at`` None)."""

    session: PlannedSession
    due_date: dt.date  # the due date after earlier sessions' slips
    starts_at: dt.datetime | None = None
    room_id: int | None = None
    centrifuge_id: int | None = None
    message: str = ""


@dataclass
class SeriesState:
    plan: TreatmentPlan
    appointment_type: AppointmentType
    remaining: list[PlannedSession]
    booked: list[Appointment] = field(default_factory=list)  # sessions of the plan already holding an appointment


def _plan(request: HttpRequest, plan_id: int) -> TreatmentPlan:
    plan = (
        TreatmentPlan.objects.filter(clinic=request.clinic, pk=plan_id)
        .select_related("patient", "protocol", "treatment")
        .first()
    )
    if plan is None:
        raise Http404("No such plan in this clinic.")
    return plan


def series_state(*, request: HttpRequest, plan_id: int) -> SeriesState:
    """The plan, its appointment type, the sessions still to book and the booked ones (3 queries)."""
    plan = _plan(request, plan_id)
    sessions = list(
        PlannedSession.objects.filter(
            clinic=request.clinic, plan=plan, status=SessionStatus.PLANNED, visit__isnull=True
        ).order_by("number")
    )
    booked = list(
        Appointment.objects.filter(clinic=request.clinic, plan_session__in=sessions, status__in=ACTIVE_STATUSES)
        .select_related("clinician", "room", "plan_session")
        .order_by("starts_at")
    )
    held = {a.plan_session_id for a in booked}
    return SeriesState(
        plan=plan,
        appointment_type=_type_for(request.clinic, plan.kind),
        remaining=[s for s in sessions if s.pk not in held],
        booked=booked,
    )


@dataclass
class _Busy:
    """Everything that occupies time near one due date, loaded once per session (2 queries)."""

    appointments: list[Appointment]
    absences: list[Any]


def _load_busy(
    request: HttpRequest, *, clinician_id: int, patient_id: int, start: dt.datetime, end: dt.datetime
) -> _Busy:
    clinic_id = request.clinic.pk
    appointments = list(
        selectors.appointments_between(clinic_id=clinic_id, start=start, end=end, statuses=ACTIVE_STATUSES)
    )
    absences = selectors.absences_between(clinic_id=clinic_id, start=start, end=end, user_ids=[clinician_id])
    return _Busy(appointments=appointments, absences=absences)


def _chooser(
    *,
    busy: _Busy,
    kind: AppointmentType,
    clinician_id: int,
    patient_id: int,
    rooms: list[Room],
    centrifuges: list[Centrifuge],
    tubes: int,
) -> Any:
    """``choose(start) -> (room_id, centrifuge_id) | None`` over the loaded busy time."""
    minutes = kind.total_minutes

    def choose(start: dt.datetime) -> tuple[int, int | None] | None:
        end = start + dt.timedelta(minutes=minutes)
        near = [a for a in busy.appointments if slots.overlaps(a.starts_at, a.ends_at, start, end)]
        if any(a.clinician_id == clinician_id or a.patient_id == patient_id for a in near):
            return None
        if any(slots.overlaps(b.starts_at, b.ends_at, start, end) for b in busy.absences):
            return None
        room = next((r for r in rooms if not any(a.room_id == r.pk for a in near)), None)
        if room is None:
            return None
        if not (kind.spin_minutes and tubes):
            return room.pk, None
        slot = conflicts.Slot(
            patient_id=patient_id, clinician_id=clinician_id, room_id=room.pk, starts_at=start,
            prep_minutes=kind.prep_minutes, spin_minutes=kind.spin_minutes, treatment_minutes=kind.treatment_minutes,
            tubes=tubes,
        )  # fmt: skip
        for centrifuge in centrifuges:
            load, _ = conflicts.centrifuge_load(slot=slot, others=near, centrifuge_id=centrifuge.pk)
            if load + tubes <= centrifuge.tube_slots:
                return room.pk, centrifuge.pk
        return None

    return choose


def series_propose(
    *,
    request: HttpRequest,
    plan_id: int,
    clinician_id: int | None,
    room_id: int | None = None,
    centrifuge_id: int | None = None,
    preferred_time: dt.time | None = None,
    tubes: int | None = None,
) -> list[Proposal]:
    """A proposed start for every remaining session of the plan, nearest its due date (reads only).

    The first session is due on its date (or today, if that has passed); each later one on its
    due date moved by as many days as the session before it slipped, so the protocol's interval
    holds between the proposed sessions. A session with nothing free within ``SEARCH_DAYS`` days
    of its due date gets no time and a message. The preferred room and centrifuge are tried
    first, then the others; times nearest ``preferred_time`` (local) are tried first.
    Queries: 6, plus 2 per remaining session.
    """
    access.require(request, "schedule.book")
    state = series_state(request=request, plan_id=plan_id)
    clinician = _clinician(request.clinic, clinician_id)
    zone = zone_of(request.clinic)
    kind = state.appointment_type
    tubes = kind.tubes if tubes is None else tubes
    rooms = selectors.rooms(clinic_id=request.clinic.pk)
    rooms.sort(key=lambda r: (r.pk != room_id, r.name))
    centrifuges = list(Centrifuge.objects.filter(clinic=request.clinic, in_service=True).order_by("name"))
    centrifuges.sort(key=lambda c: c.pk != centrifuge_id)
    stretches = selectors.working_hours(clinic_id=request.clinic.pk, user_ids=[clinician.pk]).get(clinician.pk, {})
    today = timezone.localdate()
    now = timezone.now()
    proposals: list[Proposal] = []
    slip = dt.timedelta(0)
    not_before = today
    for session in state.remaining:
        due = max(session.due_date + slip, today)
        proposal = Proposal(session=session, due_date=due)
        proposals.append(proposal)
        window_start = dt.datetime.combine(due - dt.timedelta(days=SEARCH_DAYS), dt.time(0), tzinfo=zone)
        window_end = dt.datetime.combine(due + dt.timedelta(days=SEARCH_DAYS + 1), dt.time(0), tzinfo=zone)
        busy = _load_busy(
            request, clinician_id=clinician.pk, patient_id=state.plan.patient_id, start=window_start, end=window_end
        )
        choose = _chooser(
            busy=busy, kind=kind, clinician_id=clinician.pk, patient_id=state.plan.patient_id, rooms=rooms,
            centrifuges=centrifuges, tubes=tubes,
        )  # fmt: skip

        def starts_for_day(day: dt.date) -> list[dt.datetime]:
            found = slots.candidate_starts(
                day, stretches=stretches.get(day.weekday(), []), minutes=kind.total_minutes,
                step_minutes=STEP_MINUTES, zone=zone,
            )  # fmt: skip
            return [s for s in found if s > now]

        found = slots.nearest_free(
            due, search_days=SEARCH_DAYS, not_before=not_before, starts_for_day=starts_for_day, choose=choose,
            preferred=preferred_time, zone=zone,
        )  # fmt: skip
        if found is None:
            proposal.message = (
                f"Nothing free within {SEARCH_DAYS} days of {due:%a %d %b %Y} for {clinician.full_name}: choose a time."
            )
            continue
        start, (proposal.room_id, proposal.centrifuge_id) = found
        proposal.starts_at = start
        chosen_day = start.astimezone(zone).date()
        slip = chosen_day - session.due_date
        not_before = chosen_day + dt.timedelta(days=1)
    return proposals


@dataclass(frozen=True)
class SeriesRow:
    """One session as staff confirmed it on the series page."""

    session_id: int
    starts_at: dt.datetime | None
    room_id: int | None
    centrifuge_id: int | None = None


class SeriesRefused(ValidationError):
    """Some rows conflict: ``rows`` maps a session id to its messages; nothing was booked."""

    def __init__(self, rows: dict[int, list[str]], labels: dict[int, str]) -> None:
        super().__init__([f"{labels[sid]}: {m}" for sid, messages in rows.items() for m in messages])
        self.rows = rows


def series_book(
    *, request: HttpRequest, plan_id: int, clinician_id: int | None, rows: list[SeriesRow], tubes: int | None = None
) -> list[Appointment]:
    """Book the given sessions of the plan, all or none.

    Each row is checked like ``appointment_book`` (also against the rows booked before it);
    when any row is refused, ``SeriesRefused`` names every refused row's conflicts and nothing is
    saved. Side effects: one appointment per row linked to its planned session; audit
    ``appointment.book`` per appointment and ``appointment.series_book`` on the plan.
    """
    access.require(request, "schedule.book")
    if not rows:
        raise ValidationError("Choose at least one session to book.")
    with transaction.atomic():
        plan = _plan(request, plan_id)
        patient = patient_get(request=request, patient_id=plan.patient_id, for_update=True)
        if not patient.is_active:
            raise ValidationError("This patient's record is deactivated.")
        if plan.status != PlanStatus.ACTIVE:
            raise ValidationError(f"This plan is {plan.get_status_display().lower()}; its sessions cannot be booked.")
        clinician = _clinician(request.clinic, clinician_id)
        state = series_state(request=request, plan_id=plan.pk)
        open_sessions = {s.pk: s for s in state.remaining}
        zone = zone_of(request.clinic)
        centrifuges = (
            conflicts.lock_centrifuges(clinic_id=request.clinic.pk) if state.appointment_type.spin_minutes else None
        )
        refused: dict[int, list[str]] = {}
        labels: dict[int, str] = {}
        booked: list[Appointment] = []
        for row in sorted(
            rows, key=lambda r: (r.starts_at is None, r.starts_at or dt.datetime.max.replace(tzinfo=dt.UTC))
        ):
            session = open_sessions.get(row.session_id)
            labels[row.session_id] = f"Session {session.number}" if session else "A session"
            if session is None:
                refused[row.session_id] = ["is not a session of this plan still to book."]
                continue
            try:
                if row.starts_at is None:
                    raise ValidationError({"starts_at": "Give the date and time."})
                if row.room_id:
                    room = _room(request.clinic, row.room_id)
                else:
                    minutes = state.appointment_type.total_minutes
                    room = _free_room(request, starts_at=row.starts_at.astimezone(dt.UTC), minutes=minutes)
                appointment = build_appointment(
                    request=request, patient_id=patient.pk, treatment=plan.kind, clinician=clinician, room=room,
                    starts_at=row.starts_at.astimezone(dt.UTC), tubes=tubes, centrifuge_id=row.centrifuge_id,
                    plan_session=session,
                )  # fmt: skip
                _place(
                    request=request, appointment=appointment, clinician=clinician, room=room, centrifuges=centrifuges
                )
            except Refused as exc:
                refused[row.session_id] = exc.conflicts.messages
                continue
            except ValidationError as exc:
                refused[row.session_id] = exc.messages
                continue
            booked.append(appointment)
            audit_record(
                action="appointment.book", request=request, obj=appointment, changes=_described_row(appointment, zone)
            )
        if refused:
            raise SeriesRefused(refused, labels)
        audit_record(
            action="appointment.series_book",
            request=request,
            obj=plan,
            changes={"appointments": [a.pk for a in booked], "sessions": [a.plan_session_id for a in booked]},
        )
    return booked


def _described_row(appointment: Appointment, zone: ZoneInfo) -> dict[str, object]:
    return {
        "patient": appointment.patient_id,
        "treatment": appointment.treatment,
        "plan_session": appointment.plan_session_id,
        "starts_at": appointment.starts_at.isoformat(),
        "clinician": appointment.clinician_id,
        "room": appointment.room_id,
        "centrifuge": appointment.centrifuge_id,
        "tubes": appointment.tubes,
    }
