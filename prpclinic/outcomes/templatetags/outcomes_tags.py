"""Template tags of the outcomes app (its panels on other apps' pages)."""

from __future__ import annotations

from typing import Any

from django import template

from prpclinic.clinics.access import can
from prpclinic.outcomes.selectors import latest_summary

register = template.Library()


@register.inclusion_tag("outcomes/_outcomes_chart_panel.html", takes_context=True)
def outcomes_chart_panel(
    context: dict[str, Any], patient: Any, photos: list[Any] | None = None, scores: list[Any] | None = None
) -> dict[str, Any]:
    """The latest photos and scores of the patient with links to the outcome pages (two queries).

    ``photos`` and ``scores``: the rows the chart has read for its timeline (then no query).
    """
    request = context.get("request")
    shown = request is not None and can(request, "outcome.view")
    summary = (
        latest_summary(clinic_id=patient.clinic_id, patient_id=patient.pk, photos=photos, scores=scores)
        if shown
        else {}
    )
    return {
        "request": request,
        "patient": patient,
        "shown": shown,
        "can_record": request is not None and can(request, "outcome.record"),
        **summary,
    }


@register.filter
def photo_uses(values: Any) -> str:
    """The consent's photo uses in words (the consents app's labels), for staff reading a photo's terms."""
    try:
        from prpclinic.consents.models import PhotoUse

        labels = dict(PhotoUse.choices)
    except ImportError:  # the consents app names its uses; without it, the stored words are shown
        labels = {}
    return "; ".join(str(labels.get(value, value)) for value in values or [])
