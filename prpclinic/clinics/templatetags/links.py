"""``{% link 'name' id %}``: ``{% url %}`` for pages addressed by name, whole-number ids and codes, from a
pattern worked out once per process (prpclinic.links): the navigation and the chart draw about
thirty links a page."""

from __future__ import annotations

from django import template

from prpclinic.links import address

register = template.Library()


@register.simple_tag
def link(name: str, *ids: int | str) -> str:
    return address(name, *ids)
