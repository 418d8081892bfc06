"""Template tags of the consents app (its panels on other apps' pages)."""

from __future__ import annotations

from typing import Any

from django import template

from prpclinic.consents.selectors import consent_overview

register = template.Library()


@register.inclusion_tag("consents/_consents_chart_panel.html", takes_context=True)
def consents_chart_panel(context: dict[str, Any], patient: Any, consents: list[Any] | None = None) -> dict[str, Any]:
    """Each form's consent status for the chart, with links to sign, read, download and revoke. One query.

    ``consents``: ``patient_consents``' rows the chart has read for its timeline (then no query).
    """
    request = context.get("request")
    clinic_id = request.clinic.pk if request is not None else patient.clinic_id
    return {
        "request": request,
        "patient": patient,
        "allowed": context.get("allowed", frozenset()),
        "overview": consent_overview(clinic_id=clinic_id, patient_id=patient.pk, consents=consents),
    }
