"""Addresses of the app's pages by name and ids, each page's pattern worked out once per process.

``reverse()`` matches the name against the URL configuration on every call: 30 links on the
chart cost about a fifth of its template time. A page's address only changes with the URL
configuration and the script prefix, so ``address`` reverses each name once (with stand-in
ids, under both as the cache key) and then only writes the ids into it. Ids are whole
numbers (primary keys). A page may also take a code (a treatment, a consent kind, a photo
size): codes come from a short list the app defines, so each code is reversed for real and
kept in the key, never written in afterwards; anything that does not look like a code is
refused, never written into a link.
"""

from __future__ import annotations

import functools
import re

from django.urls import get_script_prefix, get_urlconf, reverse

_STAND_IN = 987_654_321  # an id no page is asked for; one more per further argument
_CODE = re.compile(r"[A-Za-z0-9_-]{1,40}\Z")


@functools.lru_cache(maxsize=512)
def _pieces(name: str, codes: tuple[str | None, ...], prefix: str, urlconf: str | None) -> tuple[str, ...]:
    """The address cut where its ids go; ``codes`` has the code of each code argument, None for an id."""
    args = [str(_STAND_IN + i) if code is None else code for i, code in enumerate(codes)]
    rest = reverse(name, args=args, urlconf=urlconf)
    pieces = []
    for i, code in enumerate(codes):
        if code is not None:
            continue
        stand_in = str(_STAND_IN + i)
        if rest.count(stand_in) != 1:
            raise ValueError(f"{name}: its address does not take ids as written")
        before, rest = rest.split(stand_in)
        pieces.append(before)
    pieces.append(rest)
    return tuple(pieces)


def address(name: str, *args: int | str) -> str:
    """``reverse(name, args=args)`` for whole-number ids and codes, from the name's cached pattern."""
    codes: list[str | None] = []
    ids: list[int] = []
    for value in args:
        if isinstance(value, int) and not isinstance(value, bool):
            codes.append(None)
            ids.append(value)
        elif isinstance(value, str) and _CODE.match(value):
            codes.append(value)
        else:
            raise TypeError(f"{name}: ids are whole numbers and codes are letters, digits, - and _, not {value!r}")
    pieces = _pieces(name, tuple(codes), get_script_prefix(), get_urlconf())
    parts = [pieces[0]]
    for value, piece in zip(ids, pieces[1:], strict=True):
        parts.append(str(value))
        parts.append(piece)
    return "".join(parts)
