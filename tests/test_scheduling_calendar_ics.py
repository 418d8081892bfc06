"""The iCalendar writer (prpclinic/scheduling/ics.py), read back by a small RFC 5545 reader written
here independently of the writer: unfolding, property parameters, TEXT unescaping, UTC times."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prpclinic.scheduling import ics

VIENNA = zoneinfo.ZoneInfo("Europe/Vienna")
NOW = dt.datetime(2026, 3, 20, 9, 30, tzinfo=dt.UTC)


def unfold(text: str) -> list[str]:
    """RFC 5545 §3.1: a CRLF followed by one space or tab continues the previous line."""
    assert text.endswith("\r\n")
    return re.sub(r"\r\n[ \t]", "", text).split("\r\n")[:-1]


def unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
        else:
            assert value[i] not in ";,", f"unescaped {value[i]!r} in a TEXT value"
            out.append(value[i])
            i += 1
    return "".join(out)


def parse(text: str) -> list[dict[str, str]]:
    """The VEVENTs of a VCALENDAR as {property: raw value}; checks the calendar's frame too."""
    lines = unfold(text)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines and any(line.startswith("PRODID:") for line in lines)
    events: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in lines:
        name, _, value = line.partition(":")
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            assert current is not None
            events.append(current)
            current = None
        elif current is not None:
            current[name.split(";")[0]] = value
    return events


def utc(value: str) -> dt.datetime:
    assert value.endswith("Z"), value
    return dt.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)


def test_an_event_round_trips_with_utc_times_uid_stamp_and_escaped_text() -> None:
    starts = dt.datetime(2026, 3, 29, 10, 0, tzinfo=VIENNA)  # summer time began at 02:00 that day
    event = ics.Event(
        uid="appointment-7@clinic.example",
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=70),
        summary="Appointment at Klinik Linde; Wien, 1. Stock\\Süd",
        location="Room 2, upstairs",
        description="Line one\nLine two",
    )
    text = ics.calendar([event], now=NOW)
    [parsed] = parse(text)
    assert parsed["UID"] == "appointment-7@clinic.example"
    assert parsed["DTSTAMP"] == "20260320T093000Z"
    assert utc(parsed["DTSTART"]) == starts and parsed["DTSTART"] == "20260329T080000Z"
    assert utc(parsed["DTEND"]) == starts + dt.timedelta(minutes=70)
    assert unescape(parsed["SUMMARY"]) == "Appointment at Klinik Linde; Wien, 1. Stock\\Süd"
    assert unescape(parsed["LOCATION"]) == "Room 2, upstairs"
    assert unescape(parsed["DESCRIPTION"]) == "Line one\nLine two"
    assert parsed["STATUS"] == "CONFIRMED"


def test_every_line_ends_in_crlf_and_no_line_is_longer_than_75_octets() -> None:
    long_name = "Ordination für ästhetische Medizin und Haarwurzeltherapie — Zweigstelle Döbling " * 3
    event = ics.Event(uid="u1@x", starts_at=NOW, ends_at=NOW + dt.timedelta(hours=1), summary=long_name)
    text = ics.calendar([event], now=NOW)
    assert "\n" not in text.replace("\r\n", "")
    physical = text.split("\r\n")[:-1]
    assert max(len(line.encode("utf-8")) for line in physical) <= 75
    assert any(line.startswith(" ") for line in physical)  # it was folded
    [parsed] = parse(text)
    assert unescape(parsed["SUMMARY"]) == long_name


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=300))
def test_folding_never_splits_a_character_and_unfolds_to_the_original(value: str) -> None:
    folded = ics.fold("SUMMARY:" + value)
    for line in folded.split("\r\n"):
        assert len(line.encode("utf-8")) <= 75
        line.encode("utf-8").decode("utf-8")  # each physical line is whole UTF-8 on its own
    assert re.sub(r"\r\n ", "", folded) == "SUMMARY:" + value


@given(st.text(max_size=200))
def test_text_escaping_round_trips(value: str) -> None:
    expected = value.replace("\r\n", "\n").replace("\r", "\n")
    assert unescape(ics.escape_text(value)) == expected


def test_a_naive_time_and_an_event_ending_before_it_starts_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        ics.utc_stamp(dt.datetime(2026, 1, 1, 10))
    with pytest.raises(ValueError, match="end after"):
        ics.calendar([ics.Event(uid="u", starts_at=NOW, ends_at=NOW, summary="x")], now=NOW)


def test_a_calendar_with_several_events_and_a_name() -> None:
    events = [
        ics.Event(
            uid=f"u{n}@x",
            starts_at=NOW + dt.timedelta(days=n),
            ends_at=NOW + dt.timedelta(days=n, hours=1),
            summary="Appointment",
            status="CANCELLED" if n == 2 else "CONFIRMED",
        )
        for n in range(3)
    ]
    text = ics.calendar(events, now=NOW, name="prpclinic: Clinic A")
    parsed = parse(text)
    assert [e["UID"] for e in parsed] == ["u0@x", "u1@x", "u2@x"]
    assert [e["STATUS"] for e in parsed] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    assert "X-WR-CALNAME:prpclinic: Clinic A" in unfold(text)
