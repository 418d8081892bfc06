"""The chart's quick time filters write what Django's ``|date:"Y-m-d H:i"`` (and ``|utc``) would."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.template import Context, Template
from django.utils import timezone

MOMENTS = [
    dt.datetime(2026, 1, 31, 23, 30, tzinfo=dt.UTC),  # the next day in Vienna
    dt.datetime(2026, 3, 29, 0, 59, tzinfo=dt.UTC),  # the minute before summer time begins there
    dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC),  # ...and the minute it does (+2 h)
    dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC),  # the ambiguous hour of its end
    dt.datetime(2026, 7, 1, 12, 0),  # naive: written as it is
]


@pytest.mark.parametrize("moment", MOMENTS)
@pytest.mark.parametrize("zone", ["Europe/Vienna", "America/New_York", "UTC"])
def test_minute_and_utc_minute_write_what_the_date_filter_writes(moment: dt.datetime, zone: str) -> None:
    django = Template('{% load tz %}{{ m|date:"Y-m-d H:i" }}|{{ m|utc|date:"Y-m-d H:i" }}')
    quick = Template("{% load times %}{{ m|minute }}|{{ m|utc_minute }}")
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        assert quick.render(Context({"m": moment})) == django.render(Context({"m": moment}))


def test_no_time_writes_nothing() -> None:
    assert Template("{% load times %}[{{ m|minute }}{{ m|utc_minute }}]").render(Context({"m": None})) == "[]"
