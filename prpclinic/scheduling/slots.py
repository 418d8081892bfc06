"""Time arithmetic of booking: overlaps, centrifuge load, working hours in local time, slot search.

Pure Python, no Django import. Instants are aware datetimes (UTC in the database); working hours
are local clock times of the clinic's zone, so a 09:00-17:00 day is 09:00-17:00 local on both
sides of a daylight-saving change, and the same stretch maps to different UTC hours in winter
and summer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar
from zoneinfo import ZoneInfo

T = TypeVar("T")

# A stretch of a working day: local start and end clock times.
Stretch = tuple[dt.time, dt.time]


def overlaps(a_start: dt.datetime, a_end: dt.datetime, b_start: dt.datetime, b_end: dt.datetime) -> bool:
    """Half-open intervals [start, end): back-to-back appointments do not overlap."""
    return a_start < b_end and b_start < a_end


def peak_load(
    window_start: dt.datetime, window_end: dt.datetime, loads: Iterable[tuple[dt.datetime, dt.datetime, int]]
) -> int:
    """The largest sum of ``amount`` of the loads running at one instant inside the window.

    Two spins that both overlap the window but not each other never fill the centrifuge
    together, so this is a sweep over start and end events, not a plain sum.
    """
    events: list[tuple[dt.datetime, int]] = []
    for start, end, amount in loads:
        if amount and overlaps(start, end, window_start, window_end):
            events.append((max(start, window_start), amount))
            events.append((min(end, window_end), -amount))
    # At one instant ends come before starts (half-open intervals): the -amount sorts first.
    events.sort(key=lambda event: (event[0], event[1]))
    peak = current = 0
    for _, change in events:
        current += change
        peak = max(peak, current)
    return peak


def local_to_utc(day: dt.date, clock: dt.time, zone: ZoneInfo) -> dt.datetime | None:
    """The UTC instant of a local clock time; None when that time does not exist (spring forward).

    A time that exists twice (fall back) is taken at its first occurrence.
    """
    local = dt.datetime.combine(day, clock, tzinfo=zone)
    utc = local.astimezone(dt.UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return utc


def within_stretches(
    starts_at: dt.datetime, ends_at: dt.datetime, zone: ZoneInfo, stretches: dict[int, Sequence[Stretch]]
) -> bool:
    """True when [starts_at, ends_at) lies inside one working stretch of its local weekday."""
    local_start = starts_at.astimezone(zone)
    local_end = ends_at.astimezone(zone)
    if local_end.date() != local_start.date():
        return False
    for begins, ends in stretches.get(local_start.weekday(), ()):
        if begins <= local_start.time().replace(tzinfo=None) and local_end.time().replace(tzinfo=None) <= ends:
            return True
    return False


def describe_stretches(weekday_stretches: Sequence[Stretch]) -> str:
    return ", ".join(f"{begins:%H:%M}-{ends:%H:%M}" for begins, ends in sorted(weekday_stretches))


def candidate_starts(
    day: dt.date, *, stretches: Sequence[Stretch], minutes: int, step_minutes: int, zone: ZoneInfo
) -> list[dt.datetime]:
    """Start instants (UTC) on ``day`` every ``step_minutes`` local, each leaving ``minutes`` in its stretch."""
    starts: list[dt.datetime] = []
    for begins, ends in sorted(stretches):
        clock = dt.datetime.combine(day, begins)
        last = dt.datetime.combine(day, ends) - dt.timedelta(minutes=minutes)
        while clock <= last:
            instant = local_to_utc(day, clock.time(), zone)
            if instant is not None:
                end = instant + dt.timedelta(minutes=minutes)
                # Checked on the real clock: across a change of clocks the stretch may be shorter.
                if end.astimezone(zone).date() == day and end.astimezone(zone).time() <= ends:
                    starts.append(instant)
            clock += dt.timedelta(minutes=step_minutes)
    return starts


def days_nearest(due: dt.date, *, search_days: int, not_before: dt.date) -> list[dt.date]:
    """``due``, then the day after, the day before, two after, two before...; none before ``not_before``."""
    days = [due]
    for n in range(1, search_days + 1):
        days += [due + dt.timedelta(days=n), due - dt.timedelta(days=n)]
    return [day for day in days if day >= not_before]


def nearest_free(
    due: dt.date,
    *,
    search_days: int,
    not_before: dt.date,
    starts_for_day: Callable[[dt.date], list[dt.datetime]],
    choose: Callable[[dt.datetime], T | None],
    preferred: dt.time | None = None,
    zone: ZoneInfo | None = None,
) -> tuple[dt.datetime, T] | None:
    """The free start nearest to ``due``: the nearest day first, then the start nearest ``preferred``
    (local clock time; the earliest when none). ``choose(start)`` says what the start would use
    (room, centrifuge) or None when it is taken. None when nothing is free within ``search_days``."""
    for day in days_nearest(due, search_days=search_days, not_before=not_before):
        starts = starts_for_day(day)
        if preferred is not None and zone is not None:
            target = dt.datetime.combine(day, preferred)
            starts = sorted(starts, key=lambda s: (abs(s.astimezone(zone).replace(tzinfo=None) - target), s))
        for start in starts:
            chosen = choose(start)
            if chosen is not None:
                return start, chosen
    return None


def shift_local(instant: dt.datetime, delta: dt.timedelta, zone: ZoneInfo) -> dt.datetime | None:
    """``instant`` moved by ``delta`` on the local wall clock (a week later is the same local hour
    even across a change of clocks); None when the new local time does not exist."""
    local = instant.astimezone(zone).replace(tzinfo=None) + delta
    return local_to_utc(local.date(), local.time(), zone)


def wall_delta(old: dt.datetime, new: dt.datetime, zone: ZoneInfo) -> dt.timedelta:
    """How far ``new`` is from ``old`` on the local wall clock."""
    return new.astimezone(zone).replace(tzinfo=None) - old.astimezone(zone).replace(tzinfo=None)
