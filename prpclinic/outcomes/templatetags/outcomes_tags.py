"""Template tags of the outcomes app (its panels on other apps' pages)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.inclusion_tag("outcomes/_outcomes_chart_panel.html", takes_context=True)
def outcomes_chart_panel(context: dict[str, Any], patient: Any) -> dict[str, Any]:
    return {"request": context.get("request"), "patient": patient}
