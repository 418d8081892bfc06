"""Template tags of the aftercare app (its panels on other apps' pages)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.inclusion_tag("aftercare/_aftercare_panel.html", takes_context=True)
def aftercare_panel(context: dict[str, Any], visit: Any) -> dict[str, Any]:
    return {"request": context.get("request"), "visit": visit}
