"""Template tags of the scheduling app (its panel on the patient's chart)."""

from __future__ import annotations

from typing import Any

from django import template

from prpclinic.clinics.access import can
from prpclinic.scheduling.selectors import patient_appointments
from prpclinic.treatments.models import PlanStatus, TreatmentPlan

register = template.Library()


@register.inclusion_tag("scheduling/_chart_panel.html", takes_context=True)
def scheduling_chart_panel(context: dict[str, Any], patient: Any) -> dict[str, Any]:
    """The patient's next appointments, a "book" button and one "book the series" per active plan (2 queries)."""
    request = context.get("request")
    visible = request is not None and can(request, "schedule.view")
    can_book = request is not None and can(request, "schedule.book")
    upcoming = (
        patient_appointments(clinic_id=patient.clinic_id, patient_id=patient.pk, upcoming_only=True, limit=5)
        if visible
        else []
    )
    plans = (
        list(
            TreatmentPlan.objects.filter(clinic_id=patient.clinic_id, patient_id=patient.pk, status=PlanStatus.ACTIVE)
            .select_related("treatment")
            .order_by("created_at")
        )
        if visible and can_book
        else []
    )
    return {
        "request": request,
        "patient": patient,
        "visible": visible,
        "upcoming": upcoming,
        "can_book": can_book,
        "plans": plans,
    }
