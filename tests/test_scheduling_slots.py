"""The pure time arithmetic of booking (no database): centrifuge peak load, local clock times across DST,
candidate starts, the nearest free slot, wall-clock shifts; and that these modules import no Django."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from prpclinic.scheduling import slots

VIENNA = ZoneInfo("Europe/Vienna")
T0 = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)


def minute(n: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


loads = st.lists(
    st.tuples(st.integers(0, 120), st.integers(1, 60), st.integers(1, 4)).map(
        lambda t: (minute(t[0]), minute(t[0] + t[1]), t[2])
    ),
    max_size=8,
)


@given(loads, st.integers(0, 150), st.integers(1, 60))
def test_peak_load_is_the_fullest_minute_of_the_window(found: list, start: int, length: int) -> None:
    """Checked against a minute-by-minute count: half-open intervals, so a spin ending at t frees t."""
    window = (minute(start), minute(start + length))
    brute = max(sum(amount for s, e, amount in found if s <= minute(m) < e) for m in range(start, start + length))
    assert slots.peak_load(*window, found) == brute


def test_spins_that_never_meet_count_once() -> None:
    assert slots.peak_load(minute(0), minute(30), [(minute(0), minute(10), 2), (minute(10), minute(20), 2)]) == 2
    assert slots.peak_load(minute(0), minute(30), [(minute(0), minute(11), 2), (minute(10), minute(20), 2)]) == 4


def test_local_times_map_to_utc_by_the_season_and_the_skipped_hour_does_not_exist() -> None:
    assert slots.local_to_utc(dt.date(2027, 3, 26), dt.time(9), VIENNA) == dt.datetime(2027, 3, 26, 8, tzinfo=dt.UTC)
    assert slots.local_to_utc(dt.date(2027, 3, 29), dt.time(9), VIENNA) == dt.datetime(2027, 3, 29, 7, tzinfo=dt.UTC)
    assert slots.local_to_utc(dt.date(2027, 3, 28), dt.time(2, 30), VIENNA) is None
    # 02:30 on 31 October happens twice: the first (summer time) is taken.
    assert slots.local_to_utc(dt.date(2027, 10, 31), dt.time(2, 30), VIENNA) == dt.datetime(
        2027, 10, 31, 0, 30, tzinfo=dt.UTC
    )


def test_candidate_starts_keep_the_local_stretch_on_the_day_the_clocks_change() -> None:
    night = [(dt.time(1), dt.time(4))]  # a stretch across the spring change (02:00 -> 03:00)
    starts = slots.candidate_starts(dt.date(2027, 3, 28), stretches=night, minutes=60, step_minutes=30, zone=VIENNA)
    local = [f"{s.astimezone(VIENNA):%H:%M}" for s in starts]
    # 02:00 and 02:30 do not exist; 01:30 + 60 min of real time ends at 03:30 local, inside the stretch.
    assert local == ["01:00", "01:30", "03:00"]


def test_within_stretches_is_local_and_refuses_a_span_across_midnight() -> None:
    week = {0: [(dt.time(9), dt.time(17))]}
    assert slots.within_stretches(
        dt.datetime(2027, 3, 29, 7, tzinfo=dt.UTC), dt.datetime(2027, 3, 29, 15, tzinfo=dt.UTC), VIENNA, week
    )
    assert not slots.within_stretches(
        dt.datetime(2027, 3, 22, 7, tzinfo=dt.UTC), dt.datetime(2027, 3, 22, 8, tzinfo=dt.UTC), VIENNA, week
    )  # 08:00 local in winter
    assert not slots.within_stretches(
        dt.datetime(2027, 3, 1, 22, tzinfo=dt.UTC),
        dt.datetime(2027, 3, 2, 1, tzinfo=dt.UTC),
        VIENNA,
        {0: [(dt.time(0), dt.time(23, 59))]},
    )


def test_days_nearest_alternate_after_and_before_and_respect_the_floor() -> None:
    due = dt.date(2027, 3, 10)
    assert slots.days_nearest(due, search_days=2, not_before=dt.date(2027, 3, 9)) == [
        due, dt.date(2027, 3, 11), dt.date(2027, 3, 9), dt.date(2027, 3, 12),
    ]  # fmt: skip


def test_nearest_free_takes_the_nearest_day_then_the_nearest_time() -> None:
    def starts_for_day(day: dt.date) -> list[dt.datetime]:
        return [slots.local_to_utc(day, dt.time(h), VIENNA) for h in (9, 11, 14)]  # type: ignore[misc]

    taken = {slots.local_to_utc(dt.date(2027, 3, 10), dt.time(h), VIENNA) for h in (9, 11, 14)}
    taken.add(slots.local_to_utc(dt.date(2027, 3, 11), dt.time(11), VIENNA))
    found = slots.nearest_free(
        dt.date(2027, 3, 10), search_days=3, not_before=dt.date(2027, 3, 1), starts_for_day=starts_for_day,
        choose=lambda s: None if s in taken else "room", preferred=dt.time(11), zone=VIENNA,
    )  # fmt: skip
    assert found is not None
    assert (f"{found[0].astimezone(VIENNA):%Y-%m-%d %H:%M}", found[1]) == ("2027-03-11 09:00", "room")


def test_a_wall_clock_shift_keeps_the_local_hour_across_the_change() -> None:
    before = dt.datetime(2027, 3, 22, 9, tzinfo=dt.UTC)  # 10:00 CET
    delta = slots.wall_delta(before, before + dt.timedelta(days=1), VIENNA)
    assert delta == dt.timedelta(days=1)
    moved = slots.shift_local(dt.datetime(2027, 3, 26, 9, tzinfo=dt.UTC), dt.timedelta(days=7), VIENNA)
    assert moved == dt.datetime(2027, 4, 2, 8, tzinfo=dt.UTC)  # still 10:00 local, now CEST
    assert slots.shift_local(dt.datetime(2027, 3, 21, 1, 30, tzinfo=dt.UTC), dt.timedelta(days=7), VIENNA) is None


def test_the_pure_modules_import_no_django() -> None:
    code = (
        "import sys; import prpclinic.scheduling.slots, prpclinic.scheduling.transitions; "
        "print(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
