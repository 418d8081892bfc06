"""Placeholders of tests/permission_matrix_calendar.csv, and the helpers the calendar and reminder
tests share: rooms and appointments of a clinic made directly with the ORM (the booking rules are
the scheduling services' tests; these tests need appointments to show, move and remind)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.utils import timezone

from prpclinic.reminders.models import FeedToken, PatientLink
from prpclinic.reminders.selectors import token_hash
from prpclinic.scheduling.models import Appointment, Room, WorkingHours

LINK_TOKEN = "matrix-link-token-0123456789abcdefghijklmnop"
FEED_TOKEN = "matrix-feed-token-0123456789abcdefghijklmnop"


def make_room(clinic: Any, name: str = "Calendar room") -> Room:
    return Room.objects.get_or_create(clinic=clinic, name=name)[0]


def local(clinic: Any, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """The UTC instant of a local clock time of the clinic."""
    zone = zoneinfo.ZoneInfo(clinic.timezone)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone).astimezone(dt.UTC)


def make_appointment(
    *, clinic: Any, patient: Any, clinician: Any, starts_at: dt.datetime, room: Room | None = None,
    prep: int = 10, spin: int = 15, treatment: int = 45, status: str = "booked", kind: str = "prp_scalp",
    plan_session: Any = None,
) -> Appointment:  # fmt: skip
    room = room or make_room(clinic)
    return Appointment.objects.create(
        clinic=clinic, patient=patient, treatment=kind, clinician=clinician, room=room, starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=prep + spin + treatment), prep_minutes=prep, spin_minutes=spin,
        treatment_minutes=treatment, status=status, created_by=clinician, plan_session=plan_session,
    )  # fmt: skip


def working_week(clinic: Any, user: Any, start: dt.time = dt.time(8), end: dt.time = dt.time(18)) -> None:
    for weekday in range(7):
        WorkingHours.objects.create(clinic=clinic, user=user, weekday=weekday, starts=start, ends=end)


def placeholders(personas: Any, patient: Any) -> dict[str, Any]:
    clinic = personas.clinic_a
    tomorrow = timezone.localdate(timezone=zoneinfo.ZoneInfo(clinic.timezone)) + dt.timedelta(days=1)
    appointment = make_appointment(
        clinic=clinic, patient=patient, clinician=personas.physician, starts_at=local(clinic, tomorrow, 10)
    )
    PatientLink.objects.create(
        clinic=clinic, appointment=appointment, token_hash=token_hash(LINK_TOKEN), expires_at=appointment.starts_at
    )
    FeedToken.objects.create(clinic=clinic, user=personas.physician, token_hash=token_hash(FEED_TOKEN))
    return {
        "calendar_appointment_a": appointment.pk,
        "calendar_link_token": LINK_TOKEN,
        "calendar_feed_token": FEED_TOKEN,
    }
