"""Template tags of the treatments app (its panels on other apps' pages)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from prpclinic.clinics.access import can
from prpclinic.treatments.selectors import patient_plans
from prpclinic.visits.models import TreatmentKind

register = template.Library()


@register.inclusion_tag("treatments/_treatments_chart_panel.html", takes_context=True)
def treatments_chart_panel(context: dict[str, Any], patient: Any, plans: list[Any] | None = None) -> dict[str, Any]:
    """The patient's plans with their progress, and a "new plan" form (2 queries).

    ``plans``: the rows of ``patient_plans`` when the chart has read them already (no query then).
    """
    request = context.get("request")
    visible = request is not None and can(request, "plan.view")
    if visible and plans is None:
        plans = patient_plans(clinic_id=patient.clinic_id, patient_id=patient.pk)
    return {
        "request": request,
        "patient": patient,
        "plans": plans if visible else [],
        "can_edit": request is not None and can(request, "plan.edit"),
        "kinds": TreatmentKind.choices,
        "today": timezone.localdate(),
        "csrf_token": context.get("csrf_token"),
    }
