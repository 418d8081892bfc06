"""Date arithmetic of a treatment series: pure Python, no Django import.

A series is ``sessions`` visits ``interval_days`` apart from a start date; maintenance sessions
follow the series' last session at the protocol's maintenance interval. Moving a session can
shift the ones after it by the same number of days, so the intervals between them hold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

MAX_SESSIONS = 24  # a sanity bound on one plan, not a clinical limit


def series_dates(*, start: dt.date, sessions: int, interval_days: int) -> list[dt.date]:
    """Due dates of a series: ``start``, then every ``interval_days`` days, ``sessions`` in all."""
    if sessions < 1 or sessions > MAX_SESSIONS:
        raise ValueError(f"A series has 1 to {MAX_SESSIONS} sessions.")
    if interval_days < 1:
        raise ValueError("Sessions must be at least a day apart.")
    return [start + dt.timedelta(days=interval_days * n) for n in range(sessions)]


def following_dates(*, after: dt.date, count: int, interval_days: int) -> list[dt.date]:
    """``count`` dates after ``after``, each ``interval_days`` from the one before (not ``after`` itself)."""
    if count < 1 or count > MAX_SESSIONS:
        raise ValueError(f"Add 1 to {MAX_SESSIONS} sessions at a time.")
    if interval_days < 1:
        raise ValueError("Sessions must be at least a day apart.")
    return [after + dt.timedelta(days=interval_days * n) for n in range(1, count + 1)]


def moved(dates: Sequence[dt.date], index: int, new_date: dt.date, *, shift_following: bool) -> list[dt.date]:
    """The dates with ``dates[index]`` moved to ``new_date``; later ones shifted alike when asked."""
    if not 0 <= index < len(dates):
        raise IndexError(index)
    delta = new_date - dates[index]
    result = list(dates)
    result[index] = new_date
    if shift_following:
        for n in range(index + 1, len(result)):
            result[n] = result[n] + delta
    return result
