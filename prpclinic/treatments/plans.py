"""Writes to treatment plans (series): create, change with a reason, stop, link a visit.

Every change after creation writes a ``PlanChange`` row (what, why, who, when) and an audit event
in the same transaction; the plan row is locked meanwhile, so two changes never interleave.
Sessions are never deleted: a removed session keeps its row with status ``removed``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.http import Http404, HttpRequest
from django.utils import timezone

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.patients.selectors import patient_get
from prpclinic.treatments import series
from prpclinic.treatments.models import (
    PlanChange,
    PlanChangeKind,
    PlannedSession,
    PlanStatus,
    SessionKind,
    SessionStatus,
    TreatmentPlan,
)
from prpclinic.treatments.selectors import current_protocol
from prpclinic.visits.models import TreatmentKind, Visit, VisitStatus


def plan_create(
    *, request: HttpRequest, patient_id: int, kind: str, start_date: dt.date, sessions: int | None = None
) -> TreatmentPlan:
    """Plan a series for a patient from the treatment's current protocol.

    ``sessions`` defaults to the protocol's count; due dates follow the protocol's interval from
    ``start_date``. One active plan per patient and treatment. Side effects: the plan and its
    planned sessions; audits ``plan.create``.
    """
    access.require(request, "plan.edit")
    if kind not in TreatmentKind.values:
        raise ValidationError({"kind": "Choose a treatment."})
    with transaction.atomic():
        patient = patient_get(request=request, patient_id=patient_id)  # another clinic's: 404
        if not patient.is_active:
            raise ValidationError("This patient's record is deactivated.")
        protocol = current_protocol(clinic_id=request.clinic.pk, kind=kind)
        count = sessions if sessions is not None else protocol.sessions
        if count < 1 or count > series.MAX_SESSIONS:
            raise ValidationError({"sessions": f"Plan 1 to {series.MAX_SESSIONS} sessions."})
        active = TreatmentPlan.objects.select_for_update().filter(
            clinic=request.clinic, patient=patient, kind=kind, status=PlanStatus.ACTIVE
        )
        if active.exists():
            raise ValidationError(
                {"kind": f"This patient already has an active {protocol.treatment.name} plan; change or stop it."}
            )
        plan = TreatmentPlan(
            clinic=request.clinic,
            patient=patient,
            treatment=protocol.treatment,
            kind=kind,
            protocol=protocol,
            start_date=start_date,
            created_by=request.user,
        )
        plan.full_clean()
        plan.save()
        dates = series.series_dates(start=start_date, sessions=count, interval_days=protocol.interval_days)
        PlannedSession.objects.bulk_create(
            PlannedSession(clinic=request.clinic, plan=plan, number=n, due_date=due, kind=SessionKind.SERIES)
            for n, due in enumerate(dates, start=1)
        )
        audit_record(
            action="plan.create",
            request=request,
            obj=plan,
            changes={
                "patient": patient.pk,
                "treatment": kind,
                "protocol_version": protocol.version,
                "sessions": count,
                "due_dates": [str(d) for d in dates],
            },
        )
    return plan


def _plan_for_update(request: HttpRequest, plan_id: int) -> TreatmentPlan:
    plan = (
        TreatmentPlan.objects.select_for_update()
        .select_related("protocol")
        .filter(clinic=request.clinic, pk=plan_id)
        .first()
    )
    if plan is None:
        raise Http404("No such plan in this clinic.")
    return plan


def _reason(reason: str) -> str:
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError({"reason": "Give the reason for this change; it is kept in the plan's history."})
    return reason


def _require_active(plan: TreatmentPlan) -> None:
    if plan.status != PlanStatus.ACTIVE:
        raise ValidationError(f"This plan is {plan.get_status_display().lower()}; it cannot be changed.")


def _record(request: HttpRequest, plan: TreatmentPlan, kind: str, reason: str, detail: dict[str, Any]) -> PlanChange:
    change = PlanChange.objects.create(
        clinic=request.clinic, plan=plan, kind=kind, reason=reason, detail=detail, by=request.user
    )
    audit_record(action=f"plan.{kind}", request=request, obj=plan, changes={"reason": reason, **detail})
    return change


def _live(plan: TreatmentPlan) -> list[PlannedSession]:
    return list(
        PlannedSession.objects.filter(clinic_id=plan.clinic_id, plan=plan, status=SessionStatus.PLANNED)
        .select_related("visit")
        .order_by("number")
    )


def _next_number(plan: TreatmentPlan) -> int:
    top = PlannedSession.objects.filter(clinic_id=plan.clinic_id, plan=plan).aggregate(n=Max("number"))["n"]
    return (top or 0) + 1


def plan_add_session(
    *, request: HttpRequest, plan_id: int, due_date: dt.date, kind: str = SessionKind.SERIES, reason: str
) -> PlannedSession:
    """Add one session on ``due_date``. Side effects: session row, PlanChange ``add``, audit."""
    access.require(request, "plan.edit")
    reason = _reason(reason)
    if kind not in SessionKind.values:
        raise ValidationError({"kind": "Choose series or maintenance."})
    with transaction.atomic():
        plan = _plan_for_update(request, plan_id)
        _require_active(plan)
        session = PlannedSession.objects.create(
            clinic=request.clinic, plan=plan, number=_next_number(plan), due_date=due_date, kind=kind
        )
        _record(
            request,
            plan,
            PlanChangeKind.ADD,
            reason,
            {"number": session.number, "due_date": str(due_date), "kind": kind},
        )
    return session


def _session_for_update(request: HttpRequest, plan: TreatmentPlan, session_id: int) -> PlannedSession:
    session = (
        PlannedSession.objects.select_for_update()
        .filter(clinic=request.clinic, plan=plan, pk=session_id, status=SessionStatus.PLANNED)
        .first()
    )
    if session is None:
        raise ValidationError({"session": "Choose a planned session of this plan."})
    return session


def plan_remove_session(*, request: HttpRequest, plan_id: int, session_id: int, reason: str) -> PlannedSession:
    """Remove a session not yet carried out (its row stays, status ``removed``). PlanChange + audit."""
    access.require(request, "plan.edit")
    reason = _reason(reason)
    with transaction.atomic():
        plan = _plan_for_update(request, plan_id)
        _require_active(plan)
        session = _session_for_update(request, plan, session_id)
        if session.visit_id is not None:
            raise ValidationError({"session": f"Session {session.number} was carried out in a visit; it stays."})
        session.status = SessionStatus.REMOVED
        session.save(update_fields=["status"])
        _record(
            request, plan, PlanChangeKind.REMOVE, reason, {"number": session.number, "due_date": str(session.due_date)}
        )
    return session


def plan_move_session(
    *,
    request: HttpRequest,
    plan_id: int,
    session_id: int,
    due_date: dt.date,
    reason: str,
    shift_following: bool = False,
) -> PlannedSession:
    """Move a session to ``due_date``; with ``shift_following`` later open sessions move by as many days.

    Side effects: the sessions' due dates, PlanChange ``move`` (old and new dates), audit.
    """
    access.require(request, "plan.edit")
    reason = _reason(reason)
    with transaction.atomic():
        plan = _plan_for_update(request, plan_id)
        _require_active(plan)
        session = _session_for_update(request, plan, session_id)
        if session.visit_id is not None:
            raise ValidationError({"session": f"Session {session.number} was carried out in a visit; it cannot move."})
        live = [s for s in _live(plan) if s.visit_id is None]
        index = next(n for n, s in enumerate(live) if s.pk == session.pk)
        dates = series.moved([s.due_date for s in live], index, due_date, shift_following=shift_following)
        moves = {}
        for s, new in zip(live, dates, strict=True):
            if s.due_date != new:
                moves[str(s.number)] = [str(s.due_date), str(new)]
                s.due_date = new
                s.save(update_fields=["due_date"])
        if not moves:
            raise ValidationError({"due_date": "The session is already due on that date."})
        _record(request, plan, PlanChangeKind.MOVE, reason, {"moves": moves})
    return session


def plan_set_count(*, request: HttpRequest, plan_id: int, sessions: int, reason: str) -> TreatmentPlan:
    """Change how many series sessions the plan has.

    More: new sessions follow the last series session at the plan's protocol interval. Fewer:
    the last open sessions are removed (never one carried out in a visit). PlanChange ``count``.
    """
    access.require(request, "plan.edit")
    reason = _reason(reason)
    if sessions < 1 or sessions > series.MAX_SESSIONS:
        raise ValidationError({"sessions": f"Plan 1 to {series.MAX_SESSIONS} sessions."})
    with transaction.atomic():
        plan = _plan_for_update(request, plan_id)
        _require_active(plan)
        live = [s for s in _live(plan) if s.kind == SessionKind.SERIES]
        before = len(live)
        if sessions == before:
            raise ValidationError({"sessions": f"The plan already has {before} sessions."})
        if sessions > before:
            last = live[-1].due_date if live else plan.start_date - dt.timedelta(days=plan.protocol.interval_days)
            number = _next_number(plan)
            dates = series.following_dates(
                after=last, count=sessions - before, interval_days=plan.protocol.interval_days
            )
            PlannedSession.objects.bulk_create(
                PlannedSession(
                    clinic=request.clinic, plan=plan, number=number + n, due_date=due, kind=SessionKind.SERIES
                )
                for n, due in enumerate(dates)
            )
        else:
            open_tail = [s for s in live if s.visit_id is None][::-1][: before - sessions]
            if len(open_tail) < before - sessions:
                raise ValidationError({"sessions": "Sessions already carried out cannot be removed."})
            for s in open_tail:
                s.status = SessionStatus.REMOVED
                s.save(update_fields=["status"])
        _record(request, plan, PlanChangeKind.COUNT, reason, {"sessions": [before, sessions]})
    return plan


def plan_add_maintenance(*, request: HttpRequest, plan_id: int, count: int, reason: str) -> list[PlannedSession]:
    """Add ``count`` maintenance sessions after the plan's last session, at the protocol's
    maintenance interval (the clinic must have set one). PlanChange ``maintenance``, audit."""
    access.require(request, "plan.edit")
    reason = _reason(reason)
    with transaction.atomic():
        plan = _plan_for_update(request, plan_id)
        _require_active(plan)
        interval = plan.protocol.maintenance_interval_days
        if not interval:
            raise ValidationError({"count": "This protocol has no maintenance interval; the clinic sets it first."})
        live = _live(plan)
        last = max((s.due_date for s in live), default=plan.start_date)
        try:
            dates = series.following_dates(after=last, count=count, interval_days=interval)
        except ValueError as exc:
            raise ValidationError({"count": str(exc)}) from exc
        number = _next_number(plan)
        made = PlannedSession.objects.bulk_create(
            PlannedSession(
                clinic=request.clinic, plan=plan, number=number + n, due_date=due, kind=SessionKind.MAINTENANCE
            )
            for n, due in enumerate(dates)
        )
        _record(request, plan, PlanChangeKind.MAINTENANCE, reason, {"due_dates": [str(d) for d in dates]})
    return made


def plan_stop(*, request: HttpRequest, plan_id: int, reason: str) -> TreatmentPlan:
    """Stop a plan (the patient stops, or the physician ends it). Its rows stay. PlanChange ``stop``."""
    access.require(request, "plan.edit")
    reason = _reason(reason)
    with transaction.atomic():
        plan = _plan_for_update(request, plan_id)
        _require_active(plan)
        plan.status = PlanStatus.STOPPED
        plan.stopped_at = timezone.now()
        plan.save(update_fields=["status", "stopped_at"])
        _record(request, plan, PlanChangeKind.STOP, reason, {"status": [PlanStatus.ACTIVE, PlanStatus.STOPPED]})
    return plan


def plan_session_for_visit(
    *, visit: Visit, request: HttpRequest | None = None, session_id: int | None = None
) -> PlannedSession | None:
    """Link ``visit`` to the next open session of the patient's active plan of the same treatment.

    For the charting app: call it when a visit starts (or completes). Idempotent: a visit already
    linked returns its session. None when the patient has no active plan of this treatment or
    every session is linked. ``session_id`` (an appointment booked for that session) picks that
    session when it is still open in the plan. A cancelled visit is not linked. Side effects: ``PlannedSession.visit``;
    audits ``plan.session_link``; when every live session is linked to a completed visit, the plan
    becomes ``completed``.
    """
    with transaction.atomic():
        linked = PlannedSession.objects.filter(clinic_id=visit.clinic_id, visit=visit).first()
        if linked is not None:
            _complete_if_done(linked.plan_id, visit.clinic_id)
            return linked
        if visit.status == VisitStatus.CANCELLED:
            return None
        plan = (
            TreatmentPlan.objects.select_for_update()
            .filter(
                clinic_id=visit.clinic_id, patient_id=visit.patient_id, kind=visit.treatment, status=PlanStatus.ACTIVE
            )
            .order_by("-created_at")
            .first()
        )
        if plan is None:
            return None
        open_sessions = PlannedSession.objects.filter(
            clinic_id=visit.clinic_id, plan=plan, status=SessionStatus.PLANNED, visit__isnull=True
        )
        # The session an appointment was booked for, if still open; otherwise the next in order.
        chosen = open_sessions.filter(pk=session_id).first() if session_id else None
        session = chosen or open_sessions.order_by("number").first()
        if session is None:
            return None
        session.visit = visit
        session.save(update_fields=["visit"])
        audit_record(
            action="plan.session_link",
            request=request,
            clinic=plan.clinic,
            obj=plan,
            changes={"session": session.number, "visit": visit.pk},
        )
        _complete_if_done(plan.pk, visit.clinic_id)
    return session


def _complete_if_done(plan_id: int, clinic_id: int) -> None:
    live = PlannedSession.objects.filter(clinic_id=clinic_id, plan_id=plan_id, status=SessionStatus.PLANNED)
    if live.exists() and not live.exclude(visit__status=VisitStatus.COMPLETED).exists():
        TreatmentPlan.objects.filter(clinic_id=clinic_id, pk=plan_id, status=PlanStatus.ACTIVE).update(
            status=PlanStatus.COMPLETED
        )
