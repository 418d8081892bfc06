"""Template tags of the aftercare app (its panels on other apps' pages)."""

from __future__ import annotations

from typing import Any

from django import template

from prpclinic.aftercare.forms import AdverseEventForm
from prpclinic.aftercare.selectors import visit_adverse_events, visit_handouts

register = template.Library()


@register.inclusion_tag("aftercare/_aftercare_panel.html", takes_context=True)
def aftercare_panel(context: dict[str, Any], visit: Any) -> dict[str, Any]:
    """The visit page's panel: its adverse events (with the form to add one), aftercare and summary. Three queries."""
    allowed = context.get("allowed", frozenset())
    return {
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
        "allowed": allowed,
        "visit": visit,
        "events": visit_adverse_events(clinic_id=visit.clinic_id, visit_id=visit.pk),
        "handouts": visit_handouts(clinic_id=visit.clinic_id, visit_id=visit.pk),
        "event_form": AdverseEventForm(auto_id="id_ae_%s") if "visit.adverse" in allowed else None,
        "has_email": bool(visit.patient.email),
    }
