"""Template tags of the scheduling app (its panel on the patient's chart)."""

from __future__ import annotations

from typing import Any

from django import template

from prpclinic.clinics.access import can
from prpclinic.scheduling.selectors import patient_appointments, upcoming_of
from prpclinic.treatments.models import PlanStatus, TreatmentPlan
from prpclinic.treatments.selectors import active_plans_of

register = template.Library()


@register.inclusion_tag("scheduling/_chart_panel.html", takes_context=True)
def scheduling_chart_panel(
    context: dict[str, Any], patient: Any, appointments: list[Any] | None = None, plans: list[Any] | None = None
) -> dict[str, Any]:
    """The patient's next appointments, a "book" button and one "book the series" per active plan (2 queries).

    ``appointments`` (``patient_appointments``' newest first) and ``plans`` (``patient_plans``' rows):
    what the chart has read already for its timeline and plans panel; then no query in most cases.
    """
    request = context.get("request")
    visible = request is not None and can(request, "schedule.view")
    can_book = request is not None and can(request, "schedule.book")
    upcoming: list[Any] = []
    if visible:
        upcoming = (
            patient_appointments(clinic_id=patient.clinic_id, patient_id=patient.pk, upcoming_only=True, limit=5)
            if appointments is None
            else upcoming_of(appointments, clinic_id=patient.clinic_id, patient_id=patient.pk, limit=5)
        )
    active: list[Any] = []
    if visible and can_book:
        if plans is None:
            active = list(
                TreatmentPlan.objects.filter(
                    clinic_id=patient.clinic_id, patient_id=patient.pk, status=PlanStatus.ACTIVE
                )
                .select_related("treatment")
                .order_by("created_at")
            )
        else:
            active = active_plans_of(plans, clinic_id=patient.clinic_id, patient_id=patient.pk)
    return {
        "request": request,
        "patient": patient,
        "visible": visible,
        "upcoming": upcoming,
        "can_book": can_book,
        "plans": active,
    }
