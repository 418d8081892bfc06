"""Reminders: the clinic's settings, one log row per message (claimed before sending), the
patient's one-time confirm/cancel links and the clinicians' private calendar-feed tokens.

Tokens (links and feeds) are random and stored only as their SHA-256: a copy of the database
does not open anyone's link or feed.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ReminderSettings(models.Model):
    """When and how a clinic's reminders go out. All are the clinic's choices, not clinical facts.

    A clinic without a saved row runs on these field defaults (``selectors.settings_for``).
    """

    clinic = models.OneToOneField("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    appointment_reminders = models.BooleanField("send appointment reminders", default=True)
    hours_before = models.PositiveSmallIntegerField(
        "hours before the appointment",
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(14 * 24)],
        help_text="Counted in real hours: across a change to or from summer time the clock time shifts by one hour.",
    )
    by_email = models.BooleanField("by e-mail", default=True)
    by_sms = models.BooleanField("by SMS", default=False)
    link_valid_hours = models.PositiveSmallIntegerField(
        "confirm/cancel link valid for (hours)",
        default=72,
        validators=[MinValueValidator(1), MaxValueValidator(30 * 24)],
        help_text="The link also stops working when the appointment starts.",
    )
    aftercare_messages = models.BooleanField("send an aftercare message after a completed visit", default=True)
    aftercare_hours_after = models.PositiveSmallIntegerField(
        "hours after the visit", default=24, validators=[MaxValueValidator(14 * 24)]
    )
    next_session_messages = models.BooleanField("send “next session due” messages", default=True)
    next_session_days_before = models.PositiveSmallIntegerField(
        "days before the session is due", default=7, validators=[MaxValueValidator(90)]
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "reminder settings"

    def __str__(self) -> str:
        return f"Reminders {self.hours_before} h before"


class ReminderKind(models.TextChoices):
    APPOINTMENT = "appointment", "Appointment reminder"
    AFTERCARE = "aftercare", "Aftercare message"
    NEXT_SESSION = "next_session", "Next session due"


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"


class ReminderStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    # Set, and committed, just before the message is handed to the mail or SMS server: a row
    # left here (the worker died mid-send) is never sent again, because it may have gone out.
    SENDING = "sending", "Sending (outcome unknown)"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Not sent"


class ReminderLog(models.Model):
    """One message to one patient, on one channel, about one thing: claimed before it is sent.

    The unique constraints are the "never twice": whoever inserts the row first sends the
    message; a second run of the command, or a concurrent one, fails to insert and moves on.
    No message body is kept (it would copy patient data into a log); ``detail`` holds a reason
    code or an exception class name only.
    """

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=14, choices=ReminderKind.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    appointment = models.ForeignKey(
        "scheduling.Appointment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    visit = models.ForeignKey("visits.Visit", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    plan_session = models.ForeignKey(
        "treatments.PlannedSession", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_masked = models.CharField("to", max_length=80)
    status = models.CharField(max_length=10, choices=ReminderStatus.choices, default=ReminderStatus.QUEUED)
    detail = models.CharField(max_length=120, blank=True)
    due_at = models.DateTimeField()
    # For an appointment reminder: the start time it announced. A moved appointment is a new subject (the patient
    # must hear the new time), so "once" is per appointment *and* time; an older row for another time is history.
    subject_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-claimed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "appointment", "kind", "channel", "subject_at"],
                condition=Q(appointment__isnull=False),
                name="reminder_once_per_appointment_time",
            ),
            models.UniqueConstraint(
                fields=["clinic", "visit", "kind", "channel"],
                condition=Q(visit__isnull=False),
                name="reminder_once_per_visit",
            ),
            models.UniqueConstraint(
                fields=["clinic", "plan_session", "kind", "channel"],
                condition=Q(plan_session__isnull=False),
                name="reminder_once_per_session",
            ),
            # An appointment reminder names the time it announces (NULL would escape the uniqueness above).
            models.CheckConstraint(
                condition=Q(appointment__isnull=True) | Q(subject_at__isnull=False),
                name="reminder_appointment_has_time",
            ),
            # Exactly one subject: an appointment, a visit (aftercare) or a planned session.
            models.CheckConstraint(
                condition=(
                    Q(appointment__isnull=False, visit__isnull=True, plan_session__isnull=True)
                    | Q(appointment__isnull=True, visit__isnull=False, plan_session__isnull=True)
                    | Q(appointment__isnull=True, visit__isnull=True, plan_session__isnull=False)
                ),
                name="reminder_one_subject",
            ),
        ]
        indexes = [
            models.Index(fields=["clinic", "-claimed_at"], name="reminder_clinic_recent"),
            models.Index(fields=["clinic", "appointment"], name="reminder_clinic_appt"),
            models.Index(fields=["clinic", "visit"], name="reminder_clinic_visit"),
            models.Index(fields=["clinic", "plan_session"], name="reminder_clinic_session"),
            # The command's sweep for queued rows whose task was lost (all clinics at once).
            models.Index(fields=["status", "claimed_at"], name="reminder_status_claimed"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.get_channel_display()}: {self.get_status_display()}"


class LinkOutcome(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed by the patient"
    CANCELLED = "cancelled", "Cancelled by the patient"


class PatientLink(models.Model):
    """A one-time link sent with a reminder: the patient confirms or cancels one appointment.

    Works once, until ``expires_at`` (the appointment's start, or sooner per the clinic's
    settings). Answering through one link closes the appointment's other links too.
    """

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    appointment = models.ForeignKey("scheduling.Appointment", on_delete=models.PROTECT, related_name="+")
    reminder = models.ForeignKey(ReminderLog, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=LinkOutcome.choices, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clinic", "token_hash"], name="patientlink_token_unique")]
        indexes = [
            # The public page knows only the token: it looks the row up by its hash.
            models.Index(fields=["token_hash"], name="patientlink_token"),
            models.Index(fields=["clinic", "appointment"], name="patientlink_clinic_appt"),
        ]

    def __str__(self) -> str:
        return f"Link for appointment {self.appointment_id}"


class FeedToken(models.Model):
    """A clinician's private iCalendar feed. Revoked, never deleted; one live token per clinic and user."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "token_hash"], name="feedtoken_token_unique"),
            models.UniqueConstraint(
                fields=["clinic", "user"], condition=Q(revoked_at__isnull=True), name="feedtoken_one_live_per_user"
            ),
        ]
        indexes = [
            models.Index(fields=["token_hash"], name="feedtoken_token"),
            models.Index(fields=["clinic", "user", "-created_at"], name="feedtoken_clinic_user"),
        ]

    def __str__(self) -> str:
        return f"Calendar feed of user {self.user_id}" + (" (revoked)" if self.revoked_at else "")
