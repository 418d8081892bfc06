"""Finding what is due, claiming it, and sending it: the engine behind ``prpclinic send_reminders``.

``enqueue_due`` runs every few minutes (systemd timer, deploy/systemd/prpclinic-reminders.timer).
For each active clinic it finds, per kind and channel, what is due and not yet claimed:

- appointment reminders: booked appointments starting within the clinic's ``hours_before``
  (real hours, computed in UTC, so "24 h before" stays 24 h across a DST change);
- aftercare messages: visits completed at least ``aftercare_hours_after`` ago (looking back
  ``LOOKBACK`` at most, so that switching reminders on does not write to last year's patients);
- "next session due": planned sessions of active plans, due within ``next_session_days_before``
  days from today (the clinic's today), that no active appointment holds.

Each one is claimed by inserting its ``ReminderLog`` row; the unique constraint on (subject,
kind, channel) lets exactly one inserter win, whether the command runs twice or two run at once.
The winner enqueues ``tasks.send_reminder``, which sends and records the result (``deliver``).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import zoneinfo
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from prpclinic.audit.services import audit_record
from prpclinic.clinics.models import Clinic
from prpclinic.reminders import messages, sms
from prpclinic.reminders.models import (
    Channel,
    PatientLink,
    ReminderKind,
    ReminderLog,
    ReminderSettings,
    ReminderStatus,
)
from prpclinic.reminders.selectors import token_hash
from prpclinic.scheduling.models import ACTIVE_STATUSES, Appointment, AppointmentStatus
from prpclinic.treatments.models import PlannedSession, PlanStatus, SessionStatus
from prpclinic.visits.models import Visit, VisitStatus

logger = logging.getLogger("prpclinic.reminders")

LOOKBACK = dt.timedelta(days=7)
# At most this many claims per clinic, kind and channel in one run; the next run takes the rest.
BATCH = 500
# A queued row whose task never ran (the worker's queue was lost) is enqueued again after this.
STALE_QUEUED = dt.timedelta(minutes=30)


@dataclass
class RunResult:
    claimed: dict[str, int] = field(default_factory=dict)
    requeued: int = 0

    @property
    def total(self) -> int:
        return sum(self.claimed.values())

    def add(self, kind: str, channel: str) -> None:
        key = f"{kind}/{channel}"
        self.claimed[key] = self.claimed.get(key, 0) + 1


def _address(patient: Any, channel: str) -> str:
    return (patient.email if channel == Channel.EMAIL else patient.phone).strip()


def _masked(address: str, channel: str) -> str:
    return messages.mask_email(address) if channel == Channel.EMAIL else messages.mask_phone(address)


def _reachable(channel: str, patient: str = "patient") -> Q:
    """Rows whose patient (at the path ``patient``) has an address on ``channel`` and has not asked to be left
    alone."""
    field = "email" if channel == Channel.EMAIL else "phone"
    return ~Q(**{f"{patient}__{field}": ""}) & Q(**{f"{patient}__no_reminders": False})


def _channels(conf: ReminderSettings) -> list[str]:
    return [c for c, on in ((Channel.EMAIL, conf.by_email), (Channel.SMS, conf.by_sms)) if on]


def claim(
    *, clinic_id: int, kind: str, channel: str, patient: Any, due_at: dt.datetime, now: dt.datetime,
    appointment_id: int | None = None, visit_id: int | None = None, plan_session_id: int | None = None,
    subject_at: dt.datetime | None = None,
) -> ReminderLog | None:  # fmt: skip
    """Insert the message's log row; None when another run already claimed it (the constraint said so).
    ``subject_at``: the appointment's start time the reminder announces."""
    try:
        with transaction.atomic():
            return ReminderLog.objects.create(
                clinic_id=clinic_id, kind=kind, channel=channel, patient=patient,
                appointment_id=appointment_id, visit_id=visit_id, plan_session_id=plan_session_id,
                to_masked=_masked(_address(patient, channel), channel), due_at=due_at, claimed_at=now,
                subject_at=subject_at,
            )  # fmt: skip
    except IntegrityError:
        return None


def _not_claimed(kind: str, channel: str, subject: str) -> Exists:
    logs = ReminderLog.objects.filter(clinic_id=OuterRef("clinic_id"), kind=kind, channel=channel)
    return Exists(logs.filter(**{subject: OuterRef("pk")}))


def _appointment_reminders(channel: str, appointment: Any = None) -> QuerySet[ReminderLog]:
    """Reminders on ``channel`` of ``appointment``, or of the appointment of the outer query."""
    if appointment is None:
        clinic_id, appointment_id = OuterRef("clinic_id"), OuterRef("pk")
    else:
        clinic_id, appointment_id = appointment.clinic_id, appointment.pk
    return ReminderLog.objects.filter(
        clinic_id=clinic_id, kind=ReminderKind.APPOINTMENT, channel=channel, appointment_id=appointment_id
    )


def _told_another_time(reminders: QuerySet[ReminderLog], starts_at: Any) -> QuerySet[ReminderLog]:
    """Those of ``reminders`` that went out (or are going out) for a start time other than ``starts_at``."""
    return reminders.filter(status__in=(ReminderStatus.SENT, ReminderStatus.SENDING)).exclude(subject_at=starts_at)


def _due_appointments(clinic: Clinic, conf: ReminderSettings, channel: str, now: dt.datetime) -> list[tuple[Any, Any]]:
    """Booked appointments whose reminder for their *current* start time is due and not claimed.

    Due: within the clinic's lead time, or at once when a reminder already went out for another time (the
    appointment was moved after the patient was told): the patient must not keep the old time until the day
    before the new one.
    """
    lead = dt.timedelta(hours=conf.hours_before)
    told_another_time = Exists(_told_another_time(_appointment_reminders(channel), OuterRef("starts_at")))
    found = (
        Appointment.objects.filter(clinic_id=clinic.pk, status=AppointmentStatus.BOOKED, starts_at__gt=now)
        .filter(Q(starts_at__lte=now + lead) | told_another_time)
        .filter(_reachable(channel), patient__is_active=True)
        .exclude(Exists(_appointment_reminders(channel).filter(subject_at=OuterRef("starts_at"))))
        .select_related("patient")
        .order_by("starts_at", "id")[:BATCH]
    )
    return [(appt, min(now, appt.starts_at - lead)) for appt in found]


def _due_aftercare(clinic: Clinic, conf: ReminderSettings, channel: str, now: dt.datetime) -> list[tuple[Any, Any]]:
    wait = dt.timedelta(hours=conf.aftercare_hours_after)
    found = (
        # started_at bounds the range on the (clinic, started_at) index; completed_at decides.
        Visit.objects.filter(
            clinic_id=clinic.pk,
            started_at__gte=now - wait - LOOKBACK,
            status=VisitStatus.COMPLETED,
            completed_at__lte=now - wait,
            completed_at__gt=now - wait - LOOKBACK,
        )
        .filter(_reachable(channel), patient__is_active=True)
        .exclude(_not_claimed(ReminderKind.AFTERCARE, channel, "visit_id"))
        .select_related("patient")
        .order_by("completed_at", "id")[:BATCH]
    )
    return [(visit, visit.completed_at + wait) for visit in found]


def _due_sessions(clinic: Clinic, conf: ReminderSettings, channel: str, now: dt.datetime) -> list[tuple[Any, Any]]:
    zone = zoneinfo.ZoneInfo(clinic.timezone)
    today = now.astimezone(zone).date()
    days = dt.timedelta(days=conf.next_session_days_before)
    booked = Appointment.objects.filter(
        clinic_id=OuterRef("clinic_id"), plan_session_id=OuterRef("pk"), status__in=ACTIVE_STATUSES
    )
    found = (
        PlannedSession.objects.filter(
            clinic_id=clinic.pk,
            due_date__gte=today,
            due_date__lte=today + days,
            status=SessionStatus.PLANNED,
            visit__isnull=True,
            plan__status=PlanStatus.ACTIVE,
        )
        .filter(**{"plan__patient__is_active": True})
        .filter(_reachable(channel, "plan__patient"))
        .exclude(Exists(booked))
        .exclude(_not_claimed(ReminderKind.NEXT_SESSION, channel, "plan_session_id"))
        .select_related("plan__patient")
        .order_by("due_date", "id")[:BATCH]
    )
    result = []
    for session in found:
        due_day = session.due_date - days
        result.append((session, dt.datetime.combine(due_day, dt.time(0), tzinfo=zone).astimezone(dt.UTC)))
    return result


def enqueue_due(*, now: dt.datetime | None = None) -> RunResult:
    """Claim everything due in every active clinic and enqueue its sending. Safe to run at any time, twice, or
    side by side: a message is claimed once. Also re-enqueues rows whose task was lost (still queued)."""
    from prpclinic.reminders.tasks import send_reminder  # the task module imports this one

    now = now or timezone.now()
    result = RunResult()
    saved = {s.clinic_id: s for s in ReminderSettings.objects.all()}
    for clinic in Clinic.objects.filter(is_active=True).order_by("pk"):
        conf = saved.get(clinic.pk) or ReminderSettings(clinic=clinic)
        claimed: list[ReminderLog] = []
        for channel in _channels(conf):
            if conf.appointment_reminders:
                for appt, due_at in _due_appointments(clinic, conf, channel, now):
                    log = claim(clinic_id=clinic.pk, kind=ReminderKind.APPOINTMENT, channel=channel,
                                patient=appt.patient, due_at=due_at, now=now, appointment_id=appt.pk,
                                subject_at=appt.starts_at)  # fmt: skip
                    claimed += [log] if log else []
            if conf.aftercare_messages:
                for visit, due_at in _due_aftercare(clinic, conf, channel, now):
                    log = claim(clinic_id=clinic.pk, kind=ReminderKind.AFTERCARE, channel=channel,
                                patient=visit.patient, due_at=due_at, now=now, visit_id=visit.pk)  # fmt: skip
                    claimed += [log] if log else []
            if conf.next_session_messages:
                for session, due_at in _due_sessions(clinic, conf, channel, now):
                    log = claim(clinic_id=clinic.pk, kind=ReminderKind.NEXT_SESSION, channel=channel,
                                patient=session.plan.patient, due_at=due_at, now=now,
                                plan_session_id=session.pk)  # fmt: skip
                    claimed += [log] if log else []
        # Enqueued after the claims committed (each claim is its own transaction): the worker
        # must see the row. A failed enqueue leaves the row queued, and the stale sweep retries.
        for log in claimed:
            result.add(log.kind, log.channel)
            send_reminder.enqueue(log_id=log.pk)
    stale = ReminderLog.objects.filter(status=ReminderStatus.QUEUED, claimed_at__lt=now - STALE_QUEUED)
    for log_id in stale.values_list("pk", flat=True)[:BATCH]:
        send_reminder.enqueue(log_id=log_id)
        result.requeued += 1
    return result


# --- Sending ---------------------------------------------------------------------------------------


def site_host() -> str:
    return urlsplit(django_settings.SITE_URL).hostname or "prpclinic"


def absolute(path: str) -> str:
    return django_settings.SITE_URL + path


def appointment_page(appointment_id: int) -> str:
    """The staff page of an appointment (the scheduling app's: details and status actions)."""
    return reverse("scheduling_appointment", args=[appointment_id])


def appointment_uid(appointment_id: int) -> str:
    return f"appointment-{appointment_id}@{site_host()}"


def new_link(*, appointment: Appointment, conf: ReminderSettings, now: dt.datetime, reminder: ReminderLog) -> str:
    """A one-time confirm/cancel link for ``appointment``: the raw token goes into the message only."""
    token = secrets.token_urlsafe(32)
    expires_at = min(appointment.starts_at, now + dt.timedelta(hours=conf.link_valid_hours))
    PatientLink.objects.create(
        clinic_id=appointment.clinic_id, appointment=appointment, reminder=reminder, token_hash=token_hash(token),
        created_at=now, expires_at=expires_at,
    )  # fmt: skip
    return token


def _skip_reason(log: ReminderLog, now: dt.datetime) -> str:
    """Why a claimed message should no longer go out ("" when it should)."""
    if not _address(log.patient, log.channel):
        return "no_address"
    if not log.patient.is_active:
        return "patient_inactive"
    if log.patient.no_reminders:
        return "patient_opted_out"
    if log.kind == ReminderKind.APPOINTMENT:
        appt = log.appointment
        if appt.status != AppointmentStatus.BOOKED:
            return f"appointment_{appt.status}"
        if appt.starts_at <= now:
            return "appointment_started"
        if log.subject_at is not None and log.subject_at != appt.starts_at:
            # Moved between the claim and the sending: the next run claims a reminder for the new time.
            return "appointment_moved"
    if log.kind == ReminderKind.NEXT_SESSION:
        session = log.plan_session
        held = Appointment.objects.filter(
            clinic_id=log.clinic_id, plan_session_id=session.pk, status__in=ACTIVE_STATUSES
        ).exists()
        if held or session.visit_id is not None or session.status != SessionStatus.PLANNED:
            return "session_booked_or_done"
    return ""


def _compose(log: ReminderLog, conf: ReminderSettings, now: dt.datetime) -> tuple[messages.Email | None, str]:
    """The e-mail or the SMS text of ``log`` (the other is None/""); raises LookupError to skip."""
    from prpclinic.aftercare.instructions import contact_of, handout_for

    clinic = log.clinic
    if log.kind == ReminderKind.APPOINTMENT:
        appt = log.appointment
        token = new_link(appointment=appt, conf=conf, now=now, reminder=log)
        link = absolute(reverse("reminders_link", args=[token]))
        earlier = _appointment_reminders(log.channel, appt).exclude(pk=log.pk)
        moved = _told_another_time(earlier, appt.starts_at).exists()
        if log.channel == Channel.SMS:
            return None, messages.appointment_sms(
                clinic_name=clinic.name, zone_name=clinic.timezone, starts_at=appt.starts_at, link=link, moved=moved
            )
        expires_at = min(appt.starts_at, now + dt.timedelta(hours=conf.link_valid_hours))
        return messages.appointment_email(
            clinic_name=clinic.name, zone_name=clinic.timezone, starts_at=appt.starts_at, ends_at=appt.ends_at,
            link=link, link_expires_at=expires_at, uid=appointment_uid(appt.pk), now=now,
            sequence=int(appt.updated_at.timestamp()) % 2**31, moved=moved,
        ), ""  # fmt: skip
    phone = contact_of(clinic.pk).phone
    if log.kind == ReminderKind.NEXT_SESSION:
        due = log.plan_session.due_date
        if log.channel == Channel.SMS:
            return None, messages.next_session_sms(clinic_name=clinic.name, due=due, phone=phone)
        return messages.next_session_email(clinic_name=clinic.name, due=due, phone=phone), ""
    if log.channel == Channel.SMS:
        return None, messages.aftercare_sms(clinic_name=clinic.name, phone=phone)
    visit = Visit.objects.select_related("clinic", "clinician").get(pk=log.visit_id, clinic_id=log.clinic_id)
    handout = handout_for(visit)
    if handout is None:
        raise LookupError("no_aftercare_text")
    return messages.aftercare_email(clinic_name=clinic.name, handout_text=handout.as_text()), ""


def deliver(*, log_id: int, now: dt.datetime | None = None) -> ReminderLog | None:
    """Send one claimed message, once. Side effects, in order:

    1. under a row lock: a row no longer queued is left alone (sent, or being sent, already);
       one whose reason has gone (appointment cancelled or started, session booked, address
       removed) becomes ``skipped`` with a reason code; else it becomes ``sending`` and, for an
       appointment, its one-time link is created; committed;
    2. the e-mail (with the ``.ics`` attachment for appointments) or SMS is handed over;
    3. the row becomes ``sent`` or ``failed`` (with the exception's class name only), and the
       audit trail records ``reminder.send`` (kind, channel, result; no address, no text).
    """
    now = now or timezone.now()
    with transaction.atomic():
        log = (
            ReminderLog.objects.select_for_update(of=("self",))
            .select_related("clinic", "patient", "appointment", "plan_session")
            .filter(pk=log_id)
            .first()
        )
        if log is None or log.status != ReminderStatus.QUEUED:
            return log
        conf = ReminderSettings.objects.filter(clinic_id=log.clinic_id).first() or ReminderSettings(clinic=log.clinic)
        reason = _skip_reason(log, now)
        email: messages.Email | None = None
        text = ""
        if not reason:
            try:
                email, text = _compose(log, conf, now)
            except LookupError as exc:
                reason = str(exc.args[0])
        log.status = ReminderStatus.SKIPPED if reason else ReminderStatus.SENDING
        log.detail = reason
        log.save(update_fields=["status", "detail"])
        if reason:
            _audit(log)
            return log
    address = _address(log.patient, log.channel)
    try:
        if email is not None:
            message = EmailMessage(email.subject, email.body, None, [address])
            if email.ics:
                message.attach("appointment.ics", email.ics, "text/calendar")
            message.send()
        else:
            sms.get_backend().send(to=address, text=text)
    except Exception as exc:  # any failure of the mail or SMS server: recorded, never retried blindly
        log.status, log.detail = ReminderStatus.FAILED, type(exc).__name__[:120]
        logger.warning("reminder %s (%s by %s) failed: %s", log.pk, log.kind, log.channel, type(exc).__name__)
    else:
        log.status, log.sent_at = ReminderStatus.SENT, timezone.now()
        logger.info("reminder %s (%s by %s) sent", log.pk, log.kind, log.channel)
    with transaction.atomic():
        log.save(update_fields=["status", "detail", "sent_at"])
        _audit(log)
    return log


def _audit(log: ReminderLog) -> None:
    audit_record(
        action="reminder.send",
        clinic=log.clinic,
        obj=log,
        changes={"kind": log.kind, "channel": log.channel, "status": log.status, "detail": log.detail},
    )
