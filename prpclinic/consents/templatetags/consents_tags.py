"""Template tags of the consents app (its panels on other apps' pages)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.inclusion_tag("consents/_consents_chart_panel.html", takes_context=True)
def consents_chart_panel(context: dict[str, Any], patient: Any) -> dict[str, Any]:
    return {"request": context.get("request"), "patient": patient}
