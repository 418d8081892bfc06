"""Series date arithmetic (pure module) and the protocol value checks."""

from __future__ import annotations

import datetime as dt

import pytest

from prpclinic.treatments import catalogue
from prpclinic.treatments.protocol_rules import check_protocol
from prpclinic.treatments.series import following_dates, moved, series_dates


def test_a_series_of_three_thirty_days_apart_starts_on_the_first_date() -> None:
    assert series_dates(start=dt.date(2026, 1, 15), sessions=3, interval_days=30) == [
        dt.date(2026, 1, 15),
        dt.date(2026, 2, 14),
        dt.date(2026, 3, 16),
    ]


def test_following_dates_start_one_interval_after_the_last_session() -> None:
    assert following_dates(after=dt.date(2026, 3, 16), count=2, interval_days=180) == [
        dt.date(2026, 9, 12),
        dt.date(2027, 3, 11),
    ]


def test_moving_a_session_can_shift_the_later_ones_by_the_same_days() -> None:
    dates = [dt.date(2026, 1, 1), dt.date(2026, 1, 31), dt.date(2026, 3, 2)]
    assert moved(dates, 1, dt.date(2026, 2, 7), shift_following=True) == [
        dt.date(2026, 1, 1),
        dt.date(2026, 2, 7),
        dt.date(2026, 3, 9),
    ]
    assert moved(dates, 1, dt.date(2026, 2, 7), shift_following=False)[2] == dt.date(2026, 3, 2)


@pytest.mark.parametrize(("sessions", "interval"), [(0, 30), (25, 30), (3, 0)])
def test_an_empty_or_absurd_series_is_refused(sessions: int, interval: int) -> None:
    with pytest.raises(ValueError):
        series_dates(start=dt.date(2026, 1, 1), sessions=sessions, interval_days=interval)


def test_the_starting_catalogue_passes_its_own_checks() -> None:
    for kind, values in catalogue.protocols().items():
        assert check_protocol(values) == {}, kind


def test_a_range_with_only_one_end_is_refused_next_to_the_minimum() -> None:
    values = catalogue.protocols()["microneedling_prp"]
    values["zones"][1]["depth_max_mm"] = 0.5  # glabella: maximum without a minimum
    assert check_protocol(values) == {
        "zone__glabella__depth_min_mm": "Glabella: give both the minimum and the maximum, or neither."
    }
