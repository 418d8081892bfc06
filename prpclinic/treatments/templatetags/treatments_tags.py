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
def treatments_chart_panel(context: dict[str, Any], patient: Any) -> dict[str, Any]:
    """The patient's plans with their progress, and a "new plan" form (2 queries)."""
    request = context.get("request")
    visible = request is not None and can(request, "plan.view")
    return {
        "request": request,
        "patient": patient,
        "plans": patient_plans(clinic_id=patient.clinic_id, patient_id=patient.pk) if visible else [],
        "can_edit": request is not None and can(request, "plan.edit"),
        "kinds": TreatmentKind.choices,
        "today": timezone.localdate(),
        "csrf_token": context.get("csrf_token"),
    }
