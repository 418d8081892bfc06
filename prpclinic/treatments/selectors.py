"""Reads of the catalogue and of treatment plans, scoped to the clinic, in bounded queries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from prpclinic.clinics.models import Clinic
from prpclinic.db import attach_related, compiled_read
from prpclinic.links import address
from prpclinic.treatments.models import (
    Cocktail,
    PlanChange,
    PlannedSession,
    PlanStatus,
    Protocol,
    SessionKind,
    SessionStatus,
    Treatment,
    TreatmentPlan,
    VialLot,
)
from prpclinic.visits.models import VisitStatus

PLAN_LIMIT = 50
TIMELINE_LIMIT = 50


def current_protocol(*, clinic_id: int, kind: str) -> Protocol:
    """The clinic's current protocol of a treatment kind (its treatment fetched with it).

    A clinic without a catalogue gets the starting one on first use (``seed_catalogue``), so a
    clinic created before the catalogue existed still works. Unknown kind: ``Protocol.DoesNotExist``.
    """
    query = Protocol.objects.select_related("treatment").filter(
        clinic_id=clinic_id, treatment__kind=kind, is_current=True
    )
    protocol = query.first()
    if protocol is None:
        from prpclinic.treatments.seeding import seed_catalogue

        seed_catalogue(clinic=Clinic.objects.get(pk=clinic_id))
        protocol = query.first()
    if protocol is None:
        raise Protocol.DoesNotExist(f"No protocol for {kind!r}.")
    return protocol


def catalogue_treatments(*, clinic_id: int) -> list[Treatment]:
    """The clinic's treatments, each with ``current`` set to its current protocol (2 queries)."""
    treatments = list(
        Treatment.objects.filter(clinic_id=clinic_id)
        .prefetch_related(
            Prefetch("protocols", queryset=Protocol.objects.filter(clinic_id=clinic_id, is_current=True), to_attr="cur")
        )
        .order_by("kind")
    )
    for treatment in treatments:
        treatment.current = treatment.cur[0] if treatment.cur else None  # type: ignore[attr-defined]
    return treatments


def treatment_get(*, clinic_id: int, kind: str) -> Treatment:
    treatment = Treatment.objects.filter(clinic_id=clinic_id, kind=kind).first()
    if treatment is None:
        raise Http404("No such treatment in this clinic.")
    return treatment


def protocol_versions(*, clinic_id: int, treatment_id: int, limit: int = 100) -> list[Protocol]:
    """Every version of a treatment's protocol, newest first, with who wrote it."""
    return list(
        Protocol.objects.filter(clinic_id=clinic_id, treatment_id=treatment_id)
        .select_related("created_by")
        .order_by("-version")[:limit]
    )


def protocol_get(*, clinic_id: int, protocol_id: int) -> Protocol:
    protocol = Protocol.objects.select_related("treatment").filter(clinic_id=clinic_id, pk=protocol_id).first()
    if protocol is None:
        raise Http404("No such protocol in this clinic.")
    return protocol


def cocktails(*, clinic_id: int, include_retired: bool = True) -> list[Cocktail]:
    """The formulary with each cocktail's lots (2 queries)."""
    query: QuerySet[Cocktail] = Cocktail.objects.filter(clinic_id=clinic_id)
    if not include_retired:
        query = query.filter(is_active=True)
    lots = VialLot.objects.filter(clinic_id=clinic_id).order_by("expiry_date", "lot_number")
    return list(query.prefetch_related(Prefetch("lots", queryset=lots)).order_by("name")[:200])


def usable_vial_lots(*, clinic_id: int, on: dt.date | None = None) -> QuerySet[VialLot]:
    """Lots that may be chosen at the bedside: active cocktail, not expired on ``on`` (today)."""
    day = on or timezone.localdate()
    return (
        VialLot.objects.filter(clinic_id=clinic_id, expiry_date__gte=day, cocktail__is_active=True)
        .select_related("cocktail")
        .order_by("cocktail__name", "expiry_date")
    )


def _plans(clinic_id: int) -> QuerySet[TreatmentPlan]:
    sessions = PlannedSession.objects.filter(clinic_id=clinic_id).select_related("visit").order_by("number")
    return (
        TreatmentPlan.objects.filter(clinic_id=clinic_id)
        .select_related("treatment", "protocol", "created_by")
        .prefetch_related(Prefetch("sessions", queryset=sessions))
    )


def patient_plans(*, clinic_id: int, patient_id: int, limit: int = PLAN_LIMIT) -> list[TreatmentPlan]:
    """A patient's plans, newest first, each with its sessions and their visits (2 queries).

    Each plan gets ``progress`` (see ``plan_progress``).
    """
    if limit == PLAN_LIMIT:  # the chart's read: compiled once (prpclinic.db), sessions in a second read
        plans = _patient_plan_rows(clinic_id=clinic_id, patient_id=patient_id)
        attach_related(plans, "sessions", _patient_plan_sessions(clinic_id=clinic_id, patient_id=patient_id))
    else:
        plans = list(_plans(clinic_id).filter(patient_id=patient_id).order_by("-created_at", "-id")[:limit])
    for plan in plans:
        plan.progress = plan_progress(plan)  # type: ignore[attr-defined]
    return plans


@compiled_read(limit=PLAN_LIMIT)
def _patient_plan_rows(clinic_id: int, patient_id: int) -> QuerySet[TreatmentPlan]:
    return (
        TreatmentPlan.objects.filter(clinic_id=clinic_id, patient_id=patient_id)
        .select_related("treatment", "protocol", "created_by")
        .order_by("-created_at", "-id")  # the id settles ties, so the sessions' read picks the same plans
    )


@compiled_read()
def _patient_plan_sessions(clinic_id: int, patient_id: int) -> QuerySet[PlannedSession]:
    """The sessions of the plans ``_patient_plan_rows`` reads, as ``_plans`` prefetches them."""
    newest = _patient_plan_rows.queryset(clinic_id=clinic_id, patient_id=patient_id).values("pk")
    return (
        PlannedSession.objects.filter(clinic_id=clinic_id, plan__in=newest)
        .select_related("visit")
        .order_by("plan_id", "number")
    )


def plan_get(*, clinic_id: int, plan_id: int) -> TreatmentPlan:
    """One plan with its sessions, visits and patient; another clinic's plan: 404."""
    plan = _plans(clinic_id).select_related("patient").filter(pk=plan_id).first()
    if plan is None:
        raise Http404("No such plan in this clinic.")
    plan.progress = plan_progress(plan)  # type: ignore[attr-defined]
    return plan


def plan_changes(*, clinic_id: int, plan_id: int, limit: int = 200) -> list[PlanChange]:
    return list(PlanChange.objects.filter(clinic_id=clinic_id, plan_id=plan_id).select_related("by")[:limit])


def plan_progress(plan: TreatmentPlan) -> dict[str, Any]:
    """Done and planned counts of a plan whose sessions are prefetched; no query.

    A session counts as done when its visit is completed. ``text`` reads "session 2 of 4" (the
    number of done series sessions out of the series' planned ones).
    """
    live = [s for s in plan.sessions.all() if s.status == SessionStatus.PLANNED]
    series = [s for s in live if s.kind == SessionKind.SERIES]
    maintenance = [s for s in live if s.kind == SessionKind.MAINTENANCE]

    def done(session: PlannedSession) -> bool:
        return session.visit is not None and session.visit.status == VisitStatus.COMPLETED

    series_done = sum(1 for s in series if done(s))
    next_session = next((s for s in live if not done(s)), None)
    if plan.status == PlanStatus.STOPPED:
        text = f"stopped after {series_done} of {len(series)} sessions"
    elif series and series_done >= len(series):
        text = f"series complete ({series_done} of {len(series)})"
    else:
        text = f"session {series_done} of {len(series)}"
    return {
        "series_done": series_done,
        "series_total": len(series),
        "maintenance_done": sum(1 for s in maintenance if done(s)),
        "maintenance_total": len(maintenance),
        "next": next_session if plan.status == PlanStatus.ACTIVE else None,
        "text": text,
    }


def public_treatments(*, clinic: Clinic) -> list[Treatment]:
    """The treatments a clinic offers, for its public pages, each with ``current`` (2 queries).

    A clinic without a catalogue gets the starting one first.
    """
    treatments = catalogue_treatments(clinic_id=clinic.pk)
    if not treatments:
        from prpclinic.treatments.seeding import seed_catalogue

        seed_catalogue(clinic=clinic)
        treatments = catalogue_treatments(clinic_id=clinic.pk)
    return [t for t in treatments if t.is_offered and t.current is not None]  # type: ignore[attr-defined]


def describe_days(days: int) -> str:
    """30 -> "30 days", 14 -> "2 weeks", 7 -> "1 week": how the public pages say an interval."""
    if days % 7 == 0:
        weeks = days // 7
        return f"{weeks} week" if weeks == 1 else f"{weeks} weeks"
    return "1 day" if days == 1 else f"{days} days"


def schedule_facts(protocol: Protocol | None) -> list[str]:
    """Sentences about a course of treatment, from the clinic's current protocol values."""
    if protocol is None:
        return []
    facts = [
        f"A course is planned as {protocol.sessions} session{'s' if protocol.sessions != 1 else ''}, "
        f"about {describe_days(protocol.interval_days)} apart."
    ]
    if protocol.maintenance_interval_days:
        facts.append(
            f"After the course, a maintenance session about every {describe_days(protocol.maintenance_interval_days)}."
        )
    facts.append("Your clinician adapts the plan to you; every change is discussed with you.")
    return facts


def active_plans_of(plans: list[TreatmentPlan], *, clinic_id: int, patient_id: int) -> list[TreatmentPlan]:
    """The active plans, oldest first, taken from ``patient_plans``' rows; a query only if those were cut off.

    The chart's scheduling panel offers "book the series" for each; reading them from the rows the
    chart already has saves a query, and a patient with more than ``PLAN_LIMIT`` plans is still
    served exactly.
    """
    if len(plans) >= PLAN_LIMIT:
        return list(
            TreatmentPlan.objects.filter(clinic_id=clinic_id, patient_id=patient_id, status=PlanStatus.ACTIVE)
            .select_related("treatment")
            .order_by("created_at")
        )
    return sorted((p for p in plans if p.status == PlanStatus.ACTIVE), key=lambda p: (p.created_at, p.pk))


@compiled_read(limit=TIMELINE_LIMIT)
def _patient_plan_changes(clinic_id: int, patient_id: int) -> QuerySet[PlanChange]:
    return (
        PlanChange.objects.filter(clinic_id=clinic_id, plan__patient_id=patient_id)
        .select_related("plan__treatment", "by")
        .order_by("-at")
    )


def timeline_items(
    *, clinic_id: int, patient_id: int, limit: int = TIMELINE_LIMIT, plans: list[TreatmentPlan] | None = None
) -> list[dict[str, Any]]:
    """The patient's plans and their changes for the chart's timeline (2 queries; 1 without plans), newest first.

    Keys: ``at`` (aware datetime), ``kind`` ("plan"), ``title``, ``detail``, ``url``.
    ``plans``: the rows of ``patient_plans`` when the chart has read them already (one query then).
    """

    items: list[dict[str, Any]] = []
    if plans is None:
        plans = list(
            TreatmentPlan.objects.filter(clinic_id=clinic_id, patient_id=patient_id)
            .select_related("treatment", "protocol", "created_by")
            .order_by("-created_at")[:limit]
        )
    for plan in plans[:limit]:
        items.append(
            {
                "at": plan.created_at,
                "kind": "plan",
                "title": f"{plan.treatment.name} plan made",
                "detail": f"Protocol v{plan.protocol.version}, first session {plan.start_date:%Y-%m-%d}, "
                f"by {plan.created_by.full_name}",
                "url": address("treatments_plan", plan.pk),
            }
        )
    # A change belongs to a plan: a patient without plans has none, and most patients have no plan.
    changes = _patient_plan_changes(clinic_id=clinic_id, patient_id=patient_id, limit=limit) if plans else []
    for change in changes:
        items.append(
            {
                "at": change.at,
                "kind": "plan",
                "title": f"{change.plan.treatment.name} plan: {change.get_kind_display().lower()}",
                "detail": f"{change.reason} ({change.by.full_name})",
                "url": address("treatments_plan", change.plan_id),
            }
        )
    items.sort(key=lambda item: item["at"], reverse=True)
    return items[:limit]
