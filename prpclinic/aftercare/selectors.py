"""Reads of adverse events and aftercare, scoped to the clinic, each in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from django.http import Http404, HttpRequest

from prpclinic.aftercare.models import AdverseEvent, AdverseEventOutcome, AftercareHandout, Outcome
from prpclinic.db import compiled_read
from prpclinic.links import address
from prpclinic.visits.models import Visit

LIST_LIMIT = 100
TIMELINE_LIMIT = 50


def visit_get(*, request: HttpRequest, visit_id: int, for_update: bool = False) -> Visit:
    """The visit ``visit_id`` of the active clinic, with what handouts and summaries print; else 404."""
    visits = Visit.objects.select_related("clinic", "patient", "clinician", "completed_by", "protocol__treatment")
    if for_update:
        visits = visits.select_for_update(of=("self",))
    visit = visits.filter(pk=visit_id, clinic=request.clinic).first()
    if visit is None:
        raise Http404("No such visit in this clinic.")
    return visit


def _with_outcomes(events: QuerySet[AdverseEvent]) -> QuerySet[AdverseEvent]:
    return events.select_related("recorded_by").prefetch_related(
        Prefetch(
            "outcomes", queryset=AdverseEventOutcome.objects.select_related("recorded_by").order_by("recorded_at", "id")
        )
    )


def _current_outcome() -> Subquery:
    latest = AdverseEventOutcome.objects.filter(event=OuterRef("pk")).order_by("-recorded_at", "-id")
    return Subquery(latest.values("outcome")[:1])


def event_get(*, request: HttpRequest, event_id: int) -> AdverseEvent:
    """One adverse event of the active clinic with its outcome history; another clinic's: 404."""
    event = (
        _with_outcomes(AdverseEvent.objects.filter(clinic=request.clinic, pk=event_id))
        .select_related("visit", "visit__clinician", "patient")
        .first()
    )
    if event is None:
        raise Http404("No such adverse event in this clinic.")
    return event


def visit_adverse_events(*, clinic_id: int, visit_id: int) -> list[AdverseEvent]:
    """The visit's adverse events, oldest onset first, each with its outcome history (two queries)."""
    return list(
        _with_outcomes(AdverseEvent.objects.filter(clinic_id=clinic_id, visit_id=visit_id)).order_by("onset_at", "id")
    )


def visit_handouts(*, clinic_id: int, visit_id: int) -> list[AftercareHandout]:
    return list(
        AftercareHandout.objects.filter(clinic_id=clinic_id, visit_id=visit_id)
        .select_related("by")
        .order_by("-at", "-id")
    )


@dataclass(frozen=True)
class EventFilters:
    type: str = ""
    severity: str = ""
    serious: bool = False
    outcome: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def adverse_event_list(*, clinic_id: int, filters: EventFilters, limit: int = LIST_LIMIT) -> list[AdverseEvent]:
    """The clinic's adverse events, newest onset first, filtered; each carries ``current_outcome``. One query."""
    events = AdverseEvent.objects.filter(clinic_id=clinic_id).annotate(current_outcome=_current_outcome())
    if filters.type:
        events = events.filter(type=filters.type)
    if filters.severity:
        events = events.filter(severity=filters.severity)
    if filters.serious:
        events = events.filter(serious=True)
    if filters.outcome:
        events = events.filter(current_outcome=filters.outcome)
    if filters.since is not None:
        events = events.filter(onset_at__gte=filters.since)
    if filters.until is not None:
        events = events.filter(onset_at__lt=filters.until)
    return list(events.select_related("patient", "visit", "recorded_by").order_by("-onset_at", "-id")[:limit])


def outcome_label(value: str | None) -> str:
    return Outcome(value).label if value in Outcome.values else "—"


def timeline_items(*, clinic_id: int, patient_id: int, limit: int = TIMELINE_LIMIT) -> list[dict[str, Any]]:
    """Adverse events and aftercare handouts of the patient for the chart's timeline (three queries)."""
    items: list[dict[str, Any]] = []
    scope = {"clinic_id": clinic_id, "patient_id": patient_id}
    events = _patient_events(**scope, limit=limit)
    for event in events:
        serious = "serious, " if event.serious else ""
        items.append(
            {
                "at": event.onset_at,
                "kind": "adverse event",
                "title": f"Adverse event: {event.type_label}",
                "detail": f"{serious}{event.get_severity_display().lower()}; outcome "
                f"{outcome_label(event.current_outcome).lower()}",
                "url": address("aftercare_event", event.pk),
            }
        )
    handouts = _patient_handouts(**scope, limit=limit)
    for handout in handouts:
        items.append(
            {
                "at": handout.at,
                "kind": "aftercare",
                "title": f"Aftercare {handout.get_method_display().lower()}",
                "detail": f"{handout.source}, by {handout.by.full_name}",
                "url": address("visit_detail", handout.visit_id),
            }
        )
    return items


# The chart's timeline reads (compiled once: prpclinic.db); the whole-timeline page asks for more rows.
@compiled_read(limit=TIMELINE_LIMIT)
def _patient_events(clinic_id: int, patient_id: int) -> QuerySet[AdverseEvent]:
    return (
        AdverseEvent.objects.filter(clinic_id=clinic_id, patient_id=patient_id)
        .annotate(current_outcome=_current_outcome())
        .order_by("-onset_at", "-id")
    )


@compiled_read(limit=TIMELINE_LIMIT)
def _patient_handouts(clinic_id: int, patient_id: int) -> QuerySet[AftercareHandout]:
    return (
        AftercareHandout.objects.filter(clinic_id=clinic_id, patient_id=patient_id)
        .select_related("by")
        .order_by("-at", "-id")
    )


@compiled_read(limit=TIMELINE_LIMIT)
def _patient_products(clinic_id: int, patient_id: int) -> QuerySet[Any]:
    from prpclinic.prp.models import Product

    return (
        Product.objects.filter(clinic_id=clinic_id, patient_id=patient_id)
        .select_related("draw", "application", "application__applied_by")
        .order_by("-created_at", "-id")
    )


def prp_timeline_items(*, clinic_id: int, patient_id: int, limit: int = TIMELINE_LIMIT) -> list[dict[str, Any]]:
    """The patient's PRP products for the timeline: drawn (with its state) and applied. One query."""
    items: list[dict[str, Any]] = []
    scope = {"clinic_id": clinic_id, "patient_id": patient_id}
    products = _patient_products(**scope, limit=limit)
    for product in products:
        url = address("prp_trace", product.pk)
        items.append(
            {
                "at": product.draw.drawn_at,
                "kind": "PRP",
                "title": f"PRP product {product.barcode} drawn",
                "detail": f"{product.draw.volume_ml} mL whole blood; now {product.get_status_display().lower()}",
                "url": url,
            }
        )
        application = getattr(product, "application", None)
        if application is not None:
            items.append(
                {
                    "at": application.applied_at,
                    "kind": "PRP",
                    "title": f"PRP product {product.barcode} applied",
                    "detail": f"{application.volume_applied_ml} mL by {application.applied_by.full_name}",
                    "url": url,
                }
            )
    return items
