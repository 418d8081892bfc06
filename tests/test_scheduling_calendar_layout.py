"""The calendar's layout arithmetic (prpclinic/scheduling/calendar_layout.py): pure, no database."""

from __future__ import annotations

import ast
import datetime as dt
import re
import zoneinfo
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from prpclinic.scheduling import calendar_layout as layout

VIENNA = zoneinfo.ZoneInfo("Europe/Vienna")
DAY = dt.date(2026, 3, 2)
ROOT = Path(__file__).resolve().parent.parent


def at(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=VIENNA)


def item(key: int, start: dt.datetime, minutes: tuple[int, int, int] = (10, 15, 45)) -> layout.Item:
    prep, spin, treat = minutes
    return layout.Item(key, start, start + dt.timedelta(minutes=sum(minutes)), prep, spin, treat)


def test_the_layout_module_imports_no_django() -> None:
    tree = ast.parse((ROOT / "prpclinic/scheduling/calendar_layout.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(name.startswith("django") for name in imported)


def test_an_appointment_is_placed_by_its_local_start_with_its_three_segments() -> None:
    window = layout.window_for([], [DAY])
    assert (window.first_hour, window.last_hour) == (8, 18)
    [placed] = layout.place([item(1, at(9, 30))], DAY, window)
    assert placed.top == 18  # 1 h 30 after 08:00, in 5-minute slots
    assert placed.height == 14  # 70 minutes
    assert [(s.kind, s.minutes, s.slots) for s in placed.segments] == [
        ("prep", 10, 2), ("spin", 15, 3), ("treatment", 45, 9)
    ]  # fmt: skip
    assert (placed.lane, placed.lanes) == (1, 1)


def test_segments_always_add_up_to_the_height_even_when_minutes_are_not_multiples_of_five() -> None:
    [placed] = layout.place([item(1, at(10), (7, 13, 22))], DAY, layout.window_for([], [DAY]))
    assert placed.height == 9  # 42 minutes round up to 45
    assert sum(s.slots for s in placed.segments) == placed.height


def test_overlapping_appointments_share_the_column_in_lanes_and_others_keep_it_whole() -> None:
    items = [item(1, at(9)), item(2, at(9, 30)), item(3, at(10, 30)), item(4, at(13))]
    placed = {p.key: p for p in layout.place(items, DAY, layout.window_for(items, [DAY]))}
    assert (placed[1].lane, placed[1].lanes) == (1, 2)
    assert (placed[2].lane, placed[2].lanes) == (2, 2)
    assert (placed[3].lane, placed[3].lanes) == (1, 2)  # overlaps 2, so in the same group; lane 1 is free again
    assert (placed[4].lane, placed[4].lanes) == (1, 1)


@given(st.lists(st.tuples(st.integers(0, 140), st.integers(1, 30)), min_size=1, max_size=12))
def test_lanes_never_put_two_overlapping_appointments_side_by_side_in_the_same_lane(
    spans: list[tuple[int, int]],
) -> None:
    items = [item(n, at(8) + dt.timedelta(minutes=5 * s), (0, 0, 5 * length)) for n, (s, length) in enumerate(spans)]
    placed = layout.place(items, DAY, layout.window_for(items, [DAY]))
    for a in placed:
        assert 1 <= a.lane <= a.lanes <= layout.MAX_LANES
        for b in placed:
            overlap = a.key != b.key and a.top < b.top + b.height and b.top < a.top + a.height
            if overlap and a.lanes < layout.MAX_LANES:
                assert a.lane != b.lane


def test_the_window_grows_to_working_hours_and_to_early_or_late_appointments() -> None:
    items = [item(1, at(7, 15)), item(2, at(19, 30))]
    window = layout.window_for(items, [DAY], [(dt.time(7, 30), dt.time(12))])
    assert (window.first_hour, window.last_hour) == (7, 21)
    assert window.hours == tuple(range(7, 21))


def test_days_are_local_days_23_and_25_hours_long_when_the_clocks_change() -> None:
    spring = layout.day_bounds(dt.date(2026, 3, 29), VIENNA)
    autumn = layout.day_bounds(dt.date(2026, 10, 25), VIENNA)
    normal = layout.day_bounds(DAY, VIENNA)
    assert spring[1] - spring[0] == dt.timedelta(hours=23)
    assert autumn[1] - autumn[0] == dt.timedelta(hours=25)
    assert normal == (dt.datetime(2026, 3, 1, 23, tzinfo=dt.UTC), dt.datetime(2026, 3, 2, 23, tzinfo=dt.UTC))


def test_on_the_day_summer_time_begins_a_ten_oclock_appointment_is_drawn_at_ten() -> None:
    day = dt.date(2026, 3, 29)
    start = dt.datetime(2026, 3, 29, 8, 0, tzinfo=dt.UTC).astimezone(VIENNA)  # 10:00 CEST
    [placed] = layout.place([item(1, start)], day, layout.window_for([], [day]))
    assert placed.top == 24  # (10:00 - 08:00) in slots, by the clock, not by elapsed hours


def test_an_appointment_past_the_window_edge_is_clipped_and_marked() -> None:
    window = layout.Window(8, 18, tuple(range(8, 18)))
    [placed] = layout.place([item(1, at(17, 30))], DAY, window)
    assert placed.top == 114 and placed.height == 6 and placed.clipped_after
    assert layout.place([item(2, at(18, 30))], DAY, window) == []


def test_off_hours_are_the_parts_of_the_window_outside_working_stretches() -> None:
    window = layout.Window(8, 18, tuple(range(8, 18)))
    off = layout.free_spans(window, [(9 * 60, 12 * 60), (13 * 60, 17 * 60)])
    assert off == [(0, 12), (48, 12), (108, 12)]
    assert layout.free_spans(window, []) == [(0, 120)]


def test_the_weeks_start_on_monday() -> None:
    assert layout.week_start(dt.date(2026, 3, 29)) == dt.date(2026, 3, 23)
    assert layout.week_start(dt.date(2026, 3, 23)) == dt.date(2026, 3, 23)


def test_the_stylesheet_has_a_position_and_a_height_class_for_every_slot_of_a_day() -> None:
    css = (ROOT / "prpclinic/scheduling/static/scheduling/calendar.css").read_text()
    tops = {int(n) for n in re.findall(r"\.cal-at-(\d+) \{", css)}
    heights = {int(n) for n in re.findall(r"\.cal-len-(\d+) \{", css)}
    assert tops >= set(range(layout.SLOTS_PER_DAY + 1))
    assert heights >= set(range(layout.SLOTS_PER_DAY + 1))
    for lanes in range(2, layout.MAX_LANES + 1):
        for lane in range(1, lanes + 1):
            assert f".cal-lane-{lane}-of-{lanes}" in css
