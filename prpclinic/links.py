"""Addresses of the app's pages by name and ids, each page's pattern worked out once per process.

``reverse()`` matches the name against the URL configuration on every call: 30 links on the
chart cost about a fifth of its template time. A page's address only changes with the URL
configuration and the script prefix, so ``address`` reverses each name once (with stand-in
ids, under both as the cache key) and then only writes the ids into it. Ids are whole
numbers (primary keys); anything else is refused, never written into a link.
"""

from __future__ import annotations

import functools

from django.urls import get_script_prefix, get_urlconf, reverse

_STAND_IN = 987_654_321  # an id no page is asked for; one more per further argument


@functools.lru_cache(maxsize=512)
def _pieces(name: str, arity: int, prefix: str, urlconf: str | None) -> tuple[str, ...]:
    stand_ins = [str(_STAND_IN + i) for i in range(arity)]
    rest = reverse(name, args=stand_ins, urlconf=urlconf)
    pieces = []
    for stand_in in stand_ins:
        if rest.count(stand_in) != 1:
            raise ValueError(f"{name}: its address does not take ids as written")
        before, rest = rest.split(stand_in)
        pieces.append(before)
    pieces.append(rest)
    return tuple(pieces)


def address(name: str, *ids: int) -> str:
    """``reverse(name, args=ids)`` for whole-number ids, from the name's cached pattern."""
    pieces = _pieces(name, len(ids), get_script_prefix(), get_urlconf())
    parts = [pieces[0]]
    for value, piece in zip(ids, pieces[1:], strict=True):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name}: ids are whole numbers, not {type(value).__name__}")
        parts.append(str(value))
        parts.append(piece)
    return "".join(parts)
