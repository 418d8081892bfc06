"""Where each appointment sits on the calendar grid: pure Python, no Django import, tested directly.

The grid is drawn in the clinic's local clock time, in 5-minute slots. Each appointment gets a
top slot, a height in slots, a lane (side by side when appointments overlap in one column) and
its segments (preparation, spin, treatment) as heights in slots. The template turns these
numbers into CSS classes from ``scheduling/calendar.css`` (the strict CSP forbids inline styles).

Days are local days: the window of a day runs from its local midnight to the next, which is 23
or 25 hours long on the days the clocks change; times are converted to UTC only to query.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

SLOT_MINUTES = 5
SLOTS_PER_DAY = 24 * 60 // SLOT_MINUTES
MAX_LANES = 4
# Shown when a day has no working hours or appointments to go by (clinic hours are not known here).
DEFAULT_FIRST_HOUR = 8
DEFAULT_LAST_HOUR = 18


@dataclass(frozen=True)
class Item:
    """An appointment as the grid needs it (local times)."""

    key: int
    starts: dt.datetime
    ends: dt.datetime
    prep_minutes: int = 0
    spin_minutes: int = 0
    treatment_minutes: int = 0


@dataclass(frozen=True)
class Segment:
    kind: str  # "prep", "spin" or "treatment"
    label: str
    minutes: int
    slots: int


@dataclass(frozen=True)
class Placed:
    key: int
    top: int  # slots from the top of the visible window
    height: int  # slots, at least 1
    lane: int  # 1-based
    lanes: int  # lanes of its overlapping group (1..MAX_LANES)
    segments: tuple[Segment, ...]
    clipped_before: bool = False
    clipped_after: bool = False


@dataclass(frozen=True)
class Window:
    """The visible hours of a grid: ``first_hour`` to ``last_hour`` local clock time."""

    first_hour: int
    last_hour: int
    hours: tuple[int, ...] = field(default=())

    @property
    def first_minute(self) -> int:
        return self.first_hour * 60

    @property
    def slots(self) -> int:
        return (self.last_hour - self.first_hour) * 60 // SLOT_MINUTES


def day_bounds(day: dt.date, zone: zoneinfo.ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants of ``day``'s local midnight and of the next day's (23 or 25 h apart on DST days)."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def week_start(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week (ISO 8601)."""
    return day - dt.timedelta(days=day.weekday())


def clock_minutes(moment: dt.datetime, day: dt.date) -> int:
    """Minutes of local clock time since ``day``'s midnight (``moment`` already local); may be <0 or >1440."""
    days = (moment.date() - day).days
    return days * 24 * 60 + moment.hour * 60 + moment.minute


def window_for(
    items: Iterable[Item], days: Sequence[dt.date], stretches: Iterable[tuple[dt.time, dt.time]] = ()
) -> Window:
    """Whole hours covering the working stretches and every appointment of ``days`` (at least the default day)."""
    first, last = DEFAULT_FIRST_HOUR * 60, DEFAULT_LAST_HOUR * 60
    marks: list[tuple[int, int]] = [(s.hour * 60 + s.minute, e.hour * 60 + e.minute) for s, e in stretches]
    for item in items:
        day = item.starts.date() if item.starts.date() in days else days[0]
        marks.append((clock_minutes(item.starts, day), clock_minutes(item.ends, day)))
    if marks:
        first = min(first, *(max(0, a) for a, _ in marks))
        last = max(last, *(min(24 * 60, b) for _, b in marks))
    first_hour, last_hour = first // 60, min(24, -(-last // 60))
    return Window(first_hour, last_hour, tuple(range(first_hour, last_hour)))


def segments_of(item: Item, slots: int) -> tuple[Segment, ...]:
    """The preparation, spin and treatment parts, in slots summing to ``slots``.

    Boundaries are rounded to the nearest slot (cumulatively, so the parts always add up);
    an appointment without a split is one treatment segment.
    """
    parts = [
        ("prep", "Preparation", item.prep_minutes),
        ("spin", "Spin", item.spin_minutes),
        ("treatment", "Treatment", item.treatment_minutes),
    ]
    total = sum(minutes for _, _, minutes in parts)
    if total <= 0:
        return (Segment("treatment", "Treatment", 0, slots),)
    result: list[Segment] = []
    done_minutes, done_slots = 0, 0
    for kind, label, minutes in parts:
        if minutes <= 0:
            continue
        done_minutes += minutes
        boundary = round(done_minutes * slots / total)
        result.append(Segment(kind, label, minutes, max(0, boundary - done_slots)))
        done_slots = boundary
    return tuple(result)


def _lanes(spans: list[tuple[int, int, int]]) -> dict[int, tuple[int, int]]:
    """Greedy interval colouring per group of overlapping spans: {key: (lane, lanes_of_group)}.

    A group is a run of spans each overlapping the group so far; its lanes are as many as it
    needed, at most ``MAX_LANES`` (beyond that, spans share the last lane and overlap visibly).
    """
    result: dict[int, tuple[int, int]] = {}
    group: list[tuple[int, int]] = []  # (key, lane)
    lane_ends: list[int] = []
    group_end: int | None = None

    def close() -> None:
        lanes = min(MAX_LANES, max(lane for _, lane in group))
        for key, lane in group:
            result[key] = (min(lane, MAX_LANES), lanes)

    for key, top, bottom in sorted(spans, key=lambda s: (s[1], s[2], s[0])):
        if group and group_end is not None and top >= group_end:
            close()
            group, lane_ends, group_end = [], [], None
        free = next((i for i, end in enumerate(lane_ends) if end <= top), None)
        if free is None:
            lane_ends.append(bottom)
            free = len(lane_ends) - 1
        else:
            lane_ends[free] = bottom
        group.append((key, free + 1))
        group_end = bottom if group_end is None else max(group_end, bottom)
    if group:
        close()
    return result


def place(items: Iterable[Item], day: dt.date, window: Window) -> list[Placed]:
    """The items of one column (one local day), positioned in ``window``; items outside it are left out."""
    spans: list[tuple[int, int, int]] = []
    info: dict[int, tuple[Item, bool, bool]] = {}
    lowest, highest = window.first_minute, window.first_minute + window.slots * SLOT_MINUTES
    for item in items:
        start, end = clock_minutes(item.starts, day), clock_minutes(item.ends, day)
        if end <= lowest or start >= highest:
            continue
        top_minutes, bottom_minutes = max(start, lowest), min(end, highest)
        top = (top_minutes - lowest) // SLOT_MINUTES
        bottom = max(top + 1, -(-(bottom_minutes - lowest) // SLOT_MINUTES))
        spans.append((item.key, top, bottom))
        info[item.key] = (item, start < lowest, end > highest)
    lanes = _lanes(spans)
    placed = []
    for key, top, bottom in spans:
        item, before, after = info[key]
        lane, count = lanes[key]
        placed.append(Placed(key, top, bottom - top, lane, count, segments_of(item, bottom - top), before, after))
    return sorted(placed, key=lambda p: (p.top, p.lane, p.key))


def free_spans(window: Window, busy: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """(top, height) in slots of the parts of ``window`` outside the ``busy`` minute ranges.

    Used to shade the hours a clinician does not work: ``busy`` are the working stretches as
    local minutes since midnight; what is left over is drawn as "off".
    """
    lowest, highest = window.first_minute, window.first_minute + window.slots * SLOT_MINUTES
    spans: list[tuple[int, int]] = []
    cursor = lowest
    for start, end in sorted((max(lowest, a), min(highest, b)) for a, b in busy):
        if end <= start:
            continue
        if start > cursor:
            spans.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < highest:
        spans.append((cursor, highest))
    return [((a - lowest) // SLOT_MINUTES, -(-(b - a) // SLOT_MINUTES)) for a, b in spans]


def minute_spans(window: Window, ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """(top, height) in slots of local minute ranges, clipped to ``window`` (absences)."""
    lowest, highest = window.first_minute, window.first_minute + window.slots * SLOT_MINUTES
    spans = []
    for a, b in ranges:
        a, b = max(lowest, a), min(highest, b)
        if b > a:
            top = (a - lowest) // SLOT_MINUTES
            spans.append((top, max(1, -(-(b - lowest) // SLOT_MINUTES) - top)))
    return spans
