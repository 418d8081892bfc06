"""``{% link 'name' id %}``: ``{% url %}`` for pages addressed by name and whole-number ids, from a
pattern worked out once per process (prpclinic.links): the navigation and the chart draw about
thirty links a page."""

from __future__ import annotations

from django import template

from prpclinic.links import address

register = template.Library()


@register.simple_tag
def link(name: str, *ids: int) -> str:
    return address(name, *ids)
