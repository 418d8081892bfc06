"""Reads of the reminders app, scoped to a clinic (or, for the public pages, to one token's row)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable

from django.db.models import QuerySet

from prpclinic.reminders.models import FeedToken, LinkOutcome, PatientLink, ReminderLog, ReminderSettings
from prpclinic.scheduling.models import Appointment, AppointmentStatus

LOG_LIMIT = 200
# The feed covers what a clinician looks back at and plans ahead, and no more: bounded rows.
FEED_PAST = dt.timedelta(days=31)
FEED_AHEAD = dt.timedelta(days=366)
FEED_LIMIT = 2000


def token_hash(token: str) -> str:
    """What is stored of a link's or feed's token: its SHA-256 (the token itself has 256 random bits)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def settings_for(*, clinic_id: int) -> ReminderSettings:
    """The clinic's reminder settings, or the defaults (unsaved) while it has saved none."""
    return ReminderSettings.objects.filter(clinic_id=clinic_id).first() or ReminderSettings(clinic_id=clinic_id)


def reminder_log(*, clinic_id: int, limit: int = LOG_LIMIT) -> list[ReminderLog]:
    """The clinic's latest messages, newest first, with what they were about (one query)."""
    return list(
        ReminderLog.objects.filter(clinic_id=clinic_id)
        .select_related("appointment", "plan_session", "visit")
        .order_by("-claimed_at", "-id")[:limit]
    )


def link_by_token(*, token: str) -> PatientLink | None:
    """The link a token opens, with its appointment and clinic (one query); None for an unknown token."""
    if not token or len(token) > 100:
        return None
    return (
        PatientLink.objects.filter(token_hash=token_hash(token))
        .select_related("appointment", "appointment__clinic", "clinic")
        .first()
    )


def confirmed_appointment_ids(*, clinic_id: int, appointment_ids: Iterable[int]) -> set[int]:
    """Which of these appointments the patient confirmed through a link (one query)."""
    ids = list(appointment_ids)
    if not ids:
        return set()
    return set(
        PatientLink.objects.filter(
            clinic_id=clinic_id, appointment_id__in=ids, outcome=LinkOutcome.CONFIRMED
        ).values_list("appointment_id", flat=True)
    )


def live_feed_token(*, clinic_id: int, user_id: int) -> FeedToken | None:
    return FeedToken.objects.filter(clinic_id=clinic_id, user_id=user_id, revoked_at__isnull=True).first()


def feed_by_token(*, token: str) -> FeedToken | None:
    """The live feed a token opens, with its clinic and user; None when unknown or revoked (one query)."""
    if not token or len(token) > 100:
        return None
    return (
        FeedToken.objects.filter(token_hash=token_hash(token), revoked_at__isnull=True)
        .select_related("clinic", "user")
        .first()
    )


def feed_appointments(*, clinic_id: int, user_id: int, now: dt.datetime) -> QuerySet[Appointment]:
    """The clinician's own appointments from a month back to a year ahead, booked or cancelled (one query)."""
    return (
        Appointment.objects.filter(
            clinic_id=clinic_id,
            clinician_id=user_id,
            starts_at__gte=now - FEED_PAST,
            starts_at__lt=now + FEED_AHEAD,
        )
        .exclude(status=AppointmentStatus.NO_SHOW)
        .select_related("room")
        .order_by("starts_at", "id")[:FEED_LIMIT]
    )
