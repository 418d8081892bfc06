"""iCalendar (RFC 5545) writing: the reminder's attachment and the clinician's feed.

Written here rather than taken from a library because the subset needed is small and every rule
of it is tested: CRLF line ends (§3.1), lines folded at 75 octets without splitting a UTF-8
character (§3.1), TEXT escaping of backslash, semicolon, comma and newline (§3.3.11), and times
in UTC with the ``Z`` suffix (§3.3.5, form #2), so no VTIMEZONE block is needed. No Django import.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

CRLF = "\r\n"
FOLD_OCTETS = 75
PRODID = "-//prpclinic//prpclinic calendar//EN"


@dataclass(frozen=True)
class Event:
    """One VEVENT. ``summary`` and ``location`` are shown to whoever holds the file: no clinical detail."""

    uid: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    summary: str
    location: str = ""
    description: str = ""
    status: str = "CONFIRMED"  # CONFIRMED, TENTATIVE or CANCELLED (§3.8.1.11)
    sequence: int = 0


def escape_text(value: str) -> str:
    """A TEXT value (§3.3.11): backslash first, then ``;`` ``,`` and newlines as ``\\n``."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value.replace("\n", "\\n")


def utc_stamp(moment: dt.datetime) -> str:
    """``YYYYMMDDTHHMMSSZ``. A naive datetime is refused: it would silently mean a local time."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("iCalendar times need a time zone: a naive datetime is ambiguous.")
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def fold(line: str) -> str:
    """Split a content line into lines of at most 75 octets, continuation lines starting with a space.

    The space counts toward the continuation line's 75 octets; a multi-byte UTF-8 character is
    never cut in two (RFC 5545 §3.1 allows splitting inside one, but readers choke on it).
    """
    pieces: list[str] = []
    current, size, limit = [], 0, FOLD_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            pieces.append("".join(current))
            current, size, limit = [], 0, FOLD_OCTETS - 1  # the leading space takes one octet
        current.append(char)
        size += width
    pieces.append("".join(current))
    return (CRLF + " ").join(pieces)


def _property(name: str, value: str) -> str:
    return fold(f"{name}:{value}") + CRLF


def calendar(events: Iterable[Event], *, now: dt.datetime, name: str = "") -> str:
    """A VCALENDAR with ``events``; DTSTAMP is ``now`` (when this copy was made, §3.8.7.2)."""
    stamp = utc_stamp(now)
    out = [
        _property("BEGIN", "VCALENDAR"),
        _property("VERSION", "2.0"),
        _property("PRODID", PRODID),
        _property("CALSCALE", "GREGORIAN"),
        _property("METHOD", "PUBLISH"),
    ]
    if name:
        out.append(_property("X-WR-CALNAME", escape_text(name)))
    for event in events:
        if event.ends_at <= event.starts_at:
            raise ValueError("An event must end after it starts.")
        out.append(_property("BEGIN", "VEVENT"))
        out.append(_property("UID", event.uid))
        out.append(_property("DTSTAMP", stamp))
        out.append(_property("DTSTART", utc_stamp(event.starts_at)))
        out.append(_property("DTEND", utc_stamp(event.ends_at)))
        out.append(_property("SUMMARY", escape_text(event.summary)))
        if event.location:
            out.append(_property("LOCATION", escape_text(event.location)))
        if event.description:
            out.append(_property("DESCRIPTION", escape_text(event.description)))
        out.append(_property("STATUS", event.status))
        out.append(_property("SEQUENCE", str(event.sequence)))
        out.append(_property("END", "VEVENT"))
    out.append(_property("END", "VCALENDAR"))
    return "".join(out)
