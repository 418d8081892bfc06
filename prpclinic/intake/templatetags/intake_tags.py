"""Template tags of the intake app (its panels on other apps' pages)."""

from __future__ import annotations

from typing import Any

from django import template

from prpclinic.clinics.access import can
from prpclinic.intake.selectors import latest_by_treatment

register = template.Library()


@register.inclusion_tag("intake/_intake_chart_panel.html", takes_context=True)
def intake_chart_panel(context: dict[str, Any], patient: Any, screenings: list[Any] | None = None) -> dict[str, Any]:
    """The latest screening per treatment with its state, and "screen now" buttons (one query).

    ``screenings``: ``patient_screenings``' rows the chart has read for its timeline (then no query).
    """
    request = context.get("request")
    clinical = request is not None and can(request, "patient.view_clinical")
    rows = (
        latest_by_treatment(clinic_id=patient.clinic_id, patient_id=patient.pk, screenings=screenings)
        if clinical
        else []
    )
    return {
        "request": request,
        "patient": patient,
        "rows": rows,
        "clinical": clinical,
        "can_screen": request is not None and can(request, "screening.record") and patient.is_active,
    }
