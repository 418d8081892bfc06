"""Writes of the reminders app: the clinic's settings, a clinician's feed token, a patient's answer."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.reminders.models import FeedToken, LinkOutcome, PatientLink, ReminderSettings
from prpclinic.reminders.selectors import token_hash
from prpclinic.scheduling.models import Appointment, AppointmentStatus
from prpclinic.scheduling.services import appointment_cancel_by_patient

SETTINGS_FIELDS = (
    "appointment_reminders",
    "hours_before",
    "by_email",
    "by_sms",
    "link_valid_hours",
    "aftercare_messages",
    "aftercare_hours_after",
    "next_session_messages",
    "next_session_days_before",
)
PATIENT_CANCEL_REASON = "cancelled by the patient via link"


def reminder_settings_save(*, request: HttpRequest, data: dict[str, Any]) -> ReminderSettings:
    """Save the clinic's reminder settings (the named fields only). Side effects: the row; audit
    ``reminder_settings.change`` with the old and new values."""
    access.require(request, "reminders.manage")
    with transaction.atomic():
        conf = ReminderSettings.objects.select_for_update().filter(clinic=request.clinic).first()
        conf = conf or ReminderSettings(clinic=request.clinic)
        before = {name: getattr(conf, name) for name in SETTINGS_FIELDS}
        for name in SETTINGS_FIELDS:
            if name in data:
                setattr(conf, name, data[name])
        conf.updated_by = request.user
        conf.updated_at = timezone.now()
        conf.full_clean()
        conf.save()
        changes = {n: [before[n], getattr(conf, n)] for n in SETTINGS_FIELDS if before[n] != getattr(conf, n)}
        audit_record(action="reminder_settings.change", request=request, obj=conf, changes=changes)
    return conf


def feed_token_create(*, request: HttpRequest) -> str:
    """A new private feed for the signed-in user in this clinic; any earlier one stops working.

    Returns the token, which is shown once and never stored (only its hash is). Side effects:
    the earlier live token revoked; the new row; audit ``calendar_feed.create``.
    """
    access.require(request, "schedule.feed")
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        now = timezone.now()
        FeedToken.objects.select_for_update().filter(
            clinic=request.clinic, user=request.user, revoked_at__isnull=True
        ).update(revoked_at=now)
        feed = FeedToken.objects.create(
            clinic=request.clinic, user=request.user, token_hash=token_hash(token), created_at=now
        )
        audit_record(action="calendar_feed.create", request=request, obj=feed)
    return token


def feed_token_revoke(*, request: HttpRequest) -> bool:
    """Stop the signed-in user's feed in this clinic. Returns False when there was none.

    Side effects: ``revoked_at``; audit ``calendar_feed.revoke``.
    """
    access.require(request, "schedule.feed")
    with transaction.atomic():
        feed = (
            FeedToken.objects.select_for_update()
            .filter(clinic=request.clinic, user=request.user, revoked_at__isnull=True)
            .first()
        )
        if feed is None:
            return False
        feed.revoked_at = timezone.now()
        feed.save(update_fields=["revoked_at"])
        audit_record(action="calendar_feed.revoke", request=request, obj=feed)
    return True


def feed_token_used(*, feed: FeedToken, now: dt.datetime) -> None:
    """Note when a calendar app last fetched the feed, at most once a minute (not a write per poll)."""
    if feed.last_used_at is None or now - feed.last_used_at > dt.timedelta(minutes=1):
        FeedToken.objects.filter(pk=feed.pk).update(last_used_at=now)


def link_state(link: PatientLink | None, now: dt.datetime) -> str:
    """What the patient's page shows: ``open``, ``used``, ``expired``, ``closed`` (the appointment is
    no longer booked) or ``unknown``."""
    if link is None:
        return "unknown"
    if link.used_at is not None:
        return "used"
    if now >= link.expires_at or now >= link.appointment.starts_at:
        return "expired"
    if link.appointment.status != AppointmentStatus.BOOKED:
        return "closed"
    return "open"


def link_answer(*, request: HttpRequest, token: str, action: str) -> PatientLink:
    """The patient confirms or cancels through a one-time link; only the link itself authorises this.

    Refused (``ValidationError``) when the link is used, expired or its appointment no longer
    booked. Side effects, in one transaction under row locks (link, then appointment): every
    open link of the appointment is closed (used once means all are); on cancel the appointment
    becomes ``cancelled`` with the reason "cancelled by the patient via link"; audit
    ``patient_link.confirm`` or ``appointment.cancelled`` (no actor: the patient is not a user).
    """
    if action not in (LinkOutcome.CONFIRMED, LinkOutcome.CANCELLED):
        raise ValidationError("Choose to confirm or to cancel.")
    with transaction.atomic():
        link = (
            PatientLink.objects.select_for_update()
            .filter(token_hash=token_hash(token))
            .select_related("clinic")
            .first()
        )
        if link is None:
            raise ValidationError("This link is not valid.")
        appointment = Appointment.objects.select_for_update().get(pk=link.appointment_id, clinic_id=link.clinic_id)
        link.appointment = appointment
        now = timezone.now()
        state = link_state(link, now)
        if state != "open":
            raise ValidationError(_REFUSALS[state])
        PatientLink.objects.filter(clinic_id=link.clinic_id, appointment=appointment, used_at__isnull=True).exclude(
            pk=link.pk
        ).update(used_at=now)
        link.used_at, link.outcome = now, action
        link.save(update_fields=["used_at", "outcome"])
        if action == LinkOutcome.CANCELLED:
            appointment_cancel_by_patient(request=request, appointment=appointment, reason=PATIENT_CANCEL_REASON)
        else:
            audit_record(
                action="patient_link.confirm", request=request, clinic=link.clinic, obj=appointment,
                changes={"link": link.pk},
            )  # fmt: skip
    return link


_REFUSALS = {
    "used": "This link was already used. To change your appointment, please call the clinic.",
    "expired": "This link has expired. To change your appointment, please call the clinic.",
    "closed": "This appointment can no longer be changed through this link. Please call the clinic.",
    "unknown": "This link is not valid.",
}
