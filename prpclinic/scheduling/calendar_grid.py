"""The calendar's day and week grids, built from the scheduling selectors in a fixed number of
queries whatever the number of appointments: the columns (clinicians or rooms), the
appointments of the window, working hours, absences, and which appointments patients confirmed.

Layout arithmetic is in ``calendar_layout`` (pure); this module reads and assembles.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from prpclinic.reminders.selectors import confirmed_appointment_ids
from prpclinic.scheduling import calendar_layout as layout
from prpclinic.scheduling import selectors
from prpclinic.scheduling.models import ACTIVE_STATUSES, Appointment

CLINICIAN, ROOM = "clinician", "room"
SHORT_TREATMENT = {"microneedling_prp": "Micro-needling + PRP", "prp_scalp": "PRP scalp", "mesotherapy": "Mesotherapy"}


@dataclass
class Block:
    """One appointment drawn on the grid."""

    appointment: Appointment
    placed: layout.Placed
    local_start: dt.datetime
    local_end: dt.datetime
    confirmed: bool

    @property
    def treatment_label(self) -> str:
        return SHORT_TREATMENT.get(self.appointment.treatment, self.appointment.get_treatment_display())

    @property
    def lane_class(self) -> str:
        p = self.placed
        return f"cal-lane-{p.lane}-of-{p.lanes}" if p.lanes > 1 else ""

    @property
    def segments_title(self) -> str:
        return " · ".join(f"{s.label} {s.minutes} min" for s in self.placed.segments if s.minutes)


@dataclass
class Column:
    key: str  # "clinician-3", "room-2", "day-2026-03-29"
    title: str
    subtitle: str
    day: dt.date
    clinician_id: int | None = None
    room_id: int | None = None
    blocks: list[Block] = field(default_factory=list)
    off: list[tuple[int, int]] = field(default_factory=list)
    away: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Grid:
    days: list[dt.date]
    window: layout.Window
    columns: list[Column]
    inactive: list[Appointment]  # cancelled and no-show appointments of the window, listed under the grid
    zone: zoneinfo.ZoneInfo
    hour_labels: list[tuple[int, str]] = field(default_factory=list)

    @property
    def slots(self) -> int:
        return self.window.slots


def _items(appointments: list[Appointment], zone: zoneinfo.ZoneInfo) -> dict[int, layout.Item]:
    return {
        a.pk: layout.Item(
            key=a.pk,
            starts=a.starts_at.astimezone(zone),
            ends=a.ends_at.astimezone(zone),
            prep_minutes=a.prep_minutes,
            spin_minutes=a.spin_minutes,
            treatment_minutes=a.treatment_minutes,
        )
        for a in appointments
    }


def _read(clinic: Any, days: list[dt.date], **filters: Any) -> tuple[list[Appointment], list[Appointment], Any, Any]:
    """Appointments (active, then cancelled/no-show), working hours and absences of ``days``: 3 queries."""
    zone = zoneinfo.ZoneInfo(clinic.timezone)
    start, _ = layout.day_bounds(days[0], zone)
    _, end = layout.day_bounds(days[-1], zone)
    everything = list(selectors.appointments_between(clinic_id=clinic.pk, start=start, end=end, **filters))
    active = [a for a in everything if a.status in ACTIVE_STATUSES]
    inactive = [a for a in everything if a.status not in ACTIVE_STATUSES]
    user_ids = [filters["clinician_id"]] if filters.get("clinician_id") else None
    hours = selectors.working_hours(clinic_id=clinic.pk, user_ids=user_ids)
    absences = selectors.absences_between(clinic_id=clinic.pk, start=start, end=end, user_ids=user_ids)
    return active, inactive, hours, absences


def _absence_ranges(absences: list[Any], user_id: int, day: dt.date, zone: zoneinfo.ZoneInfo) -> list[tuple[int, int]]:
    return [
        (layout.clock_minutes(a.starts_at.astimezone(zone), day), layout.clock_minutes(a.ends_at.astimezone(zone), day))
        for a in absences
        if a.user_id == user_id
    ]


def _stretch_ranges(hours: Any, user_id: int, day: dt.date) -> list[tuple[int, int]]:
    return [(s.hour * 60 + s.minute, e.hour * 60 + e.minute) for s, e in hours.get(user_id, {}).get(day.weekday(), [])]


def _fill(
    grid_columns: list[Column], active: list[Appointment], zone: zoneinfo.ZoneInfo, window: layout.Window,
    confirmed: set[int], column_of: Any,
) -> None:  # fmt: skip
    items = _items(active, zone)
    by_column: dict[str, list[Appointment]] = {}
    for appt in active:
        by_column.setdefault(column_of(appt), []).append(appt)
    for column in grid_columns:
        mine = by_column.get(column.key, [])
        placed = layout.place([items[a.pk] for a in mine], column.day, window)
        lookup = {a.pk: a for a in mine}
        column.blocks = [
            Block(lookup[p.key], p, items[p.key].starts, items[p.key].ends, p.key in confirmed) for p in placed
        ]


def _hour_labels(window: layout.Window) -> list[tuple[int, str]]:
    return [((h - window.first_hour) * 60 // layout.SLOT_MINUTES, f"{h:02d}:00") for h in window.hours]


def day_grid(*, clinic: Any, day: dt.date, by: str) -> Grid:
    """One local day, a column per clinician (everyone bookable, plus anyone with an appointment
    that day) or per room. Queries: columns 1, appointments 1, working hours 1, absences 1, confirmations 1."""
    zone = zoneinfo.ZoneInfo(clinic.timezone)
    active, inactive, hours, absences = _read(clinic, [day])
    columns: list[Column] = []
    if by == ROOM:
        rooms = {r.pk: r for r in selectors.rooms(clinic_id=clinic.pk)}
        for appt in active:
            rooms.setdefault(appt.room_id, appt.room)
        for room in sorted(rooms.values(), key=lambda r: r.name.casefold()):
            columns.append(Column(f"room-{room.pk}", room.name, "", day, room_id=room.pk))
        stretches = [s for per_day in hours.values() for s in per_day.get(day.weekday(), [])]
    else:
        people = {u.pk: u for u in selectors.clinicians(clinic_id=clinic.pk)}
        for appt in active:
            people.setdefault(appt.clinician_id, appt.clinician)
        stretches = []
        for user in sorted(people.values(), key=lambda u: u.full_name.casefold()):
            columns.append(Column(f"clinician-{user.pk}", user.full_name, "", day, clinician_id=user.pk))
            stretches += hours.get(user.pk, {}).get(day.weekday(), [])
    window = layout.window_for(_items(active, zone).values(), [day], stretches)
    if by != ROOM:
        for column in columns:
            assert column.clinician_id is not None
            column.off = layout.free_spans(window, _stretch_ranges(hours, column.clinician_id, day))
            column.away = layout.minute_spans(window, _absence_ranges(absences, column.clinician_id, day, zone))
    confirmed = confirmed_appointment_ids(clinic_id=clinic.pk, appointment_ids=[a.pk for a in active])
    column_of = (lambda a: f"room-{a.room_id}") if by == ROOM else (lambda a: f"clinician-{a.clinician_id}")
    _fill(columns, active, zone, window, confirmed, column_of)
    return Grid([day], window, columns, inactive, zone, _hour_labels(window))


def week_grid(*, clinic: Any, day: dt.date, clinician_id: int | None = None, room_id: int | None = None) -> Grid:
    """Monday to Sunday of ``day``'s week for one clinician or one room: a column per local day.
    Queries: appointments 1, working hours 1, absences 1, confirmations 1."""
    zone = zoneinfo.ZoneInfo(clinic.timezone)
    monday = layout.week_start(day)
    days = [monday + dt.timedelta(days=n) for n in range(7)]
    filters = {"clinician_id": clinician_id} if clinician_id else {"room_id": room_id}
    active, inactive, hours, absences = _read(clinic, days, **filters)
    columns = [Column(f"day-{d.isoformat()}", f"{d:%a} {d.day} {d:%b}", "", d, clinician_id, room_id) for d in days]
    stretches = [s for per_day in hours.values() for stretch_list in per_day.values() for s in stretch_list]
    window = layout.window_for(_items(active, zone).values(), days, stretches if clinician_id else [])
    if clinician_id:
        for column in columns:
            column.off = layout.free_spans(window, _stretch_ranges(hours, clinician_id, column.day))
            column.away = layout.minute_spans(window, _absence_ranges(absences, clinician_id, column.day, zone))
    confirmed = confirmed_appointment_ids(clinic_id=clinic.pk, appointment_ids=[a.pk for a in active])
    _fill(columns, active, zone, window, confirmed, lambda a: f"day-{a.starts_at.astimezone(zone).date().isoformat()}")
    return Grid(days, window, columns, inactive, zone, _hour_labels(window))
