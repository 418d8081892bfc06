"""``{% nav_url 'name' %}``: the address of a page that takes no arguments, worked out once per process.

Every full page draws the navigation, up to 23 links; ``{% url %}`` resolves each again on
every request (about a fifth of the chart's template time went to ``reverse``). An address
without arguments changes only with the URL configuration and the script prefix, so both are
part of the cache key.
"""

from __future__ import annotations

import functools

from django import template
from django.urls import get_script_prefix, get_urlconf, reverse

register = template.Library()


@functools.lru_cache(maxsize=256)
def _address(name: str, prefix: str, urlconf: str | None) -> str:
    return reverse(name, urlconf=urlconf)


@register.simple_tag
def nav_url(name: str) -> str:
    return _address(name, get_script_prefix(), get_urlconf())
