"""Reminders go out when due, once, logged without their text: `prpclinic send_reminders` claims each
message by inserting its log row (unique per subject, kind and channel) and the task sends it.

Appointment times here lie in the future of the real clock (the task checks that an appointment
has not started yet); the "now" of the command is passed in, to test what is due when.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import threading
import zoneinfo
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connections
from django.test import override_settings
from django.utils import timezone

from prpclinic.reminders import dispatch, sms
from prpclinic.reminders.models import Channel, ReminderKind, ReminderLog, ReminderSettings, ReminderStatus
from prpclinic.scheduling.models import AppointmentStatus
from prpclinic.treatments.models import PlannedSession, Protocol, Treatment, TreatmentPlan
from prpclinic.treatments.seeding import seed_catalogue
from prpclinic.visits.models import Visit, VisitStatus
from tests.conftest import Personas, make_patient
from tests.matrix_calendar import local, make_appointment
from tests.test_scheduling_calendar_ics import parse, unescape, utc

VIENNA = zoneinfo.ZoneInfo("Europe/Vienna")


@pytest.fixture(autouse=True)
def _empty_outboxes() -> None:
    sms.outbox.clear()


@pytest.fixture
def patient(personas: Personas) -> Any:
    return make_patient(
        personas.clinic_a, given_name="Greta", family_name="Huber", email="greta.huber@example.test",
        phone="+43 660 1234567",
    )  # fmt: skip


def book(personas: Personas, patient: Any, starts_at: dt.datetime, **fields: Any) -> Any:
    return make_appointment(
        clinic=personas.clinic_a, patient=patient, clinician=personas.physician, starts_at=starts_at, **fields
    )


def soon(hours: float) -> dt.datetime:
    """A whole-minute instant ``hours`` from now."""
    return (timezone.now() + dt.timedelta(hours=hours)).replace(second=0, microsecond=0)


def test_an_appointment_reminder_is_emailed_once_with_a_calendar_file_and_a_link(
    personas: Personas, patient: Any
) -> None:
    appointment = book(personas, patient, soon(20))
    result = dispatch.enqueue_due()
    assert result.claimed == {"appointment/email": 1}

    [message] = mail.outbox
    assert message.to == ["greta.huber@example.test"]
    when = appointment.starts_at.astimezone(VIENNA)
    assert message.subject == f"Your appointment at Clinic A on {when:%a} {when.day} {when:%b %Y %H:%M}"
    assert f"on {when:%A} {when.day} {when:%B %Y} at {when:%H:%M} (Europe/Vienna)" in message.body
    assert re.search(r"http://127\.0\.0\.1:8000/r/[A-Za-z0-9_-]{40,}/\n", message.body)
    # No clinical detail in what others may see on a lock screen: no treatment, no clinician.
    assert "PRP" not in message.subject + message.body and "Physician" not in message.body

    [(filename, content, mimetype)] = message.attachments
    assert (filename, mimetype) == ("appointment.ics", "text/calendar")
    [event] = parse(content)
    assert utc(event["DTSTART"]) == appointment.starts_at
    assert utc(event["DTEND"]) == appointment.ends_at
    assert unescape(event["SUMMARY"]) == "Appointment at Clinic A"
    assert event["UID"] == f"appointment-{appointment.pk}@127.0.0.1"
    assert "Greta" not in content and "PRP" not in content

    [log] = ReminderLog.objects.all()
    assert (log.kind, log.channel, log.status, log.to_masked) == ("appointment", "email", "sent", "g•••@example.test")
    assert log.appointment == appointment and log.sent_at is not None

    # The command runs again (every few minutes): nothing new goes out.
    assert dispatch.enqueue_due().total == 0
    assert len(mail.outbox) == 1 and ReminderLog.objects.count() == 1


def test_a_reminder_is_not_sent_before_it_is_due_nor_for_a_cancelled_or_past_appointment(
    personas: Personas, patient: Any
) -> None:
    book(personas, patient, soon(30))  # due in 6 hours
    book(personas, patient, soon(5), status=AppointmentStatus.CANCELLED)
    book(personas, patient, soon(-2))
    assert dispatch.enqueue_due().total == 0
    assert mail.outbox == []


def test_the_clinic_chooses_the_hours_before_and_the_channels(personas: Personas, patient: Any) -> None:
    ReminderSettings.objects.create(clinic=personas.clinic_a, hours_before=48, by_email=False, by_sms=True)
    appointment = book(personas, patient, soon(40))
    assert dispatch.enqueue_due().claimed == {"appointment/sms": 1}
    assert mail.outbox == []
    [text] = sms.outbox
    when = appointment.starts_at.astimezone(VIENNA)
    assert text.to == "+43 660 1234567"
    assert text.text.startswith(f"Clinic A: reminder of your appointment on {when:%a} {when.day} {when:%b %Y %H:%M}.")
    assert re.search(r"Confirm or cancel: http://127\.0\.0\.1:8000/r/[A-Za-z0-9_-]{40,}/$", text.text)
    assert ReminderLog.objects.get().to_masked == "•••567"


def test_a_patient_without_an_address_gets_nothing_on_that_channel(personas: Personas) -> None:
    patient = make_patient(personas.clinic_a, email="", phone="")
    book(personas, patient, soon(3))
    assert dispatch.enqueue_due().total == 0
    assert ReminderLog.objects.count() == 0


def test_24_hours_before_is_counted_in_real_hours_across_the_change_to_summer_time(
    personas: Personas, patient: Any, signed_in: Any
) -> None:
    # Vienna, Sunday 30 March 2031: 02:00 CET becomes 03:00 CEST. 10:00 CEST is 08:00 UTC.
    appointment = book(personas, patient, local(personas.clinic_a, dt.date(2031, 3, 30), 10))
    assert appointment.starts_at == dt.datetime(2031, 3, 30, 8, 0, tzinfo=dt.UTC)
    # 24 real hours earlier is Saturday 08:00 UTC, which is 09:00 on Saturday's (winter) clock.
    assert dispatch.enqueue_due(now=dt.datetime(2031, 3, 29, 7, 59, tzinfo=dt.UTC)).total == 0
    assert dispatch.enqueue_due(now=dt.datetime(2031, 3, 29, 8, 0, tzinfo=dt.UTC)).total == 1
    log = ReminderLog.objects.get()
    assert log.due_at == dt.datetime(2031, 3, 29, 8, 0, tzinfo=dt.UTC)
    assert "on Sunday 30 March 2031 at 10:00 (Europe/Vienna)" in mail.outbox[0].body
    # The log page shows times on the clinic's clock: due Saturday 09:00 (CET).
    html = signed_in("admin").get("/reminders/log/").content.decode()
    assert "2031-03-29 09:00" in html and "Appointment 2031-03-30 10:00" in html


def test_the_command_claims_and_reports_and_a_second_run_finds_nothing(personas: Personas, patient: Any) -> None:
    book(personas, patient, soon(10))
    out = io.StringIO()
    call_command("send_reminders", stdout=out)
    call_command("send_reminders", stdout=out)
    assert out.getvalue().splitlines() == [
        "Queued 1 message(s): appointment/email 1; re-queued 0.",
        "Queued 0 message(s): nothing due; re-queued 0.",
    ]
    assert len(mail.outbox) == 1


def test_a_claim_is_taken_once_and_a_task_run_twice_sends_once(personas: Personas, patient: Any) -> None:
    appointment = book(personas, patient, soon(10))
    now = timezone.now()
    first = dispatch.claim(clinic_id=personas.clinic_a.pk, kind=ReminderKind.APPOINTMENT, channel=Channel.EMAIL,
                           patient=patient, due_at=now, now=now, appointment_id=appointment.pk,
                         subject_at=appointment.starts_at)  # fmt: skip
    second = dispatch.claim(clinic_id=personas.clinic_a.pk, kind=ReminderKind.APPOINTMENT, channel=Channel.EMAIL,
                            patient=patient, due_at=now, now=now, appointment_id=appointment.pk,
                         subject_at=appointment.starts_at)  # fmt: skip
    assert first is not None and second is None
    dispatch.deliver(log_id=first.pk)
    dispatch.deliver(log_id=first.pk)
    assert len(mail.outbox) == 1
    assert dispatch.enqueue_due().total == 0


def test_a_message_whose_reason_went_away_after_the_claim_is_not_sent(personas: Personas, patient: Any) -> None:
    appointment = book(personas, patient, soon(10))
    now = timezone.now()
    log = dispatch.claim(clinic_id=personas.clinic_a.pk, kind=ReminderKind.APPOINTMENT, channel=Channel.EMAIL,
                         patient=patient, due_at=now, now=now, appointment_id=appointment.pk,
                         subject_at=appointment.starts_at)  # fmt: skip
    assert log is not None
    appointment.status = AppointmentStatus.CANCELLED
    appointment.save()
    dispatch.deliver(log_id=log.pk)
    log.refresh_from_db()
    assert (log.status, log.detail) == (ReminderStatus.SKIPPED, "appointment_cancelled")
    assert mail.outbox == []


class BrokenGateway:
    def send(self, *, to: str, text: str) -> None:
        raise ConnectionRefusedError(f"gateway down while sending to {to}")


@override_settings(SMS_BACKEND="tests.test_reminders_sending.BrokenGateway")
def test_a_failed_send_is_logged_with_the_error_class_only_and_not_retried_blindly(
    personas: Personas, patient: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ReminderSettings.objects.create(clinic=personas.clinic_a, by_email=False, by_sms=True)
    book(personas, patient, soon(10))
    with caplog.at_level(logging.INFO, logger="prpclinic"):
        dispatch.enqueue_due()
        dispatch.enqueue_due()
    log = ReminderLog.objects.get()
    assert (log.status, log.detail) == (ReminderStatus.FAILED, "ConnectionRefusedError")
    text = caplog.text
    assert "ConnectionRefusedError" in text
    assert "660" not in text and "Greta" not in text and "gateway down" not in text


def test_the_log_keeps_no_message_text_and_the_application_log_no_address(
    personas: Personas, patient: Any, caplog: pytest.LogCaptureFixture
) -> None:
    book(personas, patient, soon(10))
    with caplog.at_level(logging.INFO):
        dispatch.enqueue_due()
    row = ReminderLog.objects.values().get()
    assert "greta" not in str(row).lower() and "/r/" not in str(row)
    assert "greta" not in caplog.text.lower() and "example.test" not in caplog.text
    assert re.search(r"reminder \d+ \(appointment by email\) sent", caplog.text)


def test_a_queued_row_whose_task_was_lost_is_enqueued_again_later(personas: Personas, patient: Any) -> None:
    appointment = book(personas, patient, soon(10))
    claimed_at = timezone.now() - dt.timedelta(hours=1)
    log = dispatch.claim(clinic_id=personas.clinic_a.pk, kind=ReminderKind.APPOINTMENT, channel=Channel.EMAIL,
                         patient=patient, due_at=claimed_at, now=claimed_at, appointment_id=appointment.pk,
                         subject_at=appointment.starts_at)  # fmt: skip
    assert log is not None and mail.outbox == []
    result = dispatch.enqueue_due()
    assert (result.total, result.requeued) == (0, 1)
    log.refresh_from_db()
    assert log.status == ReminderStatus.SENT and len(mail.outbox) == 1


def _completed_visit(personas: Personas, patient: Any, completed_at: dt.datetime) -> Visit:
    seed_catalogue(clinic=personas.clinic_a)
    protocol = Protocol.objects.get(clinic=personas.clinic_a, treatment__kind="prp_scalp", is_current=True)
    return Visit.objects.create(
        clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", clinician=personas.physician,
        started_at=completed_at - dt.timedelta(hours=1), status=VisitStatus.COMPLETED, completed_at=completed_at,
        completed_by=personas.physician, protocol=protocol,
    )  # fmt: skip


def test_an_aftercare_message_follows_a_completed_visit_after_the_clinics_delay(
    personas: Personas, patient: Any
) -> None:
    visit = _completed_visit(personas, patient, timezone.now() - dt.timedelta(hours=23))
    assert dispatch.enqueue_due().total == 0
    assert dispatch.enqueue_due(now=timezone.now() + dt.timedelta(hours=1, minutes=1)).claimed == {"aftercare/email": 1}
    [message] = mail.outbox
    assert message.subject == "Aftercare after your visit to Clinic A"
    assert "What to do" in message.body and "What to watch for" in message.body
    assert ReminderLog.objects.get().visit == visit
    # A visit completed long before reminders were switched on is left alone.
    _completed_visit(personas, make_patient(personas.clinic_a, email="old@example.test"),
                     timezone.now() - dt.timedelta(days=30))  # fmt: skip
    assert dispatch.enqueue_due(now=timezone.now() + dt.timedelta(hours=2)).total == 0


def _plan_with_session_due(personas: Personas, patient: Any, due: dt.date) -> PlannedSession:
    seed_catalogue(clinic=personas.clinic_a)
    treatment = Treatment.objects.get(clinic=personas.clinic_a, kind="prp_scalp")
    plan = TreatmentPlan.objects.create(
        clinic=personas.clinic_a, patient=patient, treatment=treatment, kind="prp_scalp",
        protocol=Protocol.objects.get(clinic=personas.clinic_a, treatment=treatment, is_current=True),
        start_date=due - dt.timedelta(days=28), created_by=personas.nurse,
    )  # fmt: skip
    PlannedSession.objects.create(clinic=personas.clinic_a, plan=plan, number=1, due_date=due - dt.timedelta(days=28))
    return PlannedSession.objects.create(clinic=personas.clinic_a, plan=plan, number=2, due_date=due)


def test_next_session_due_is_sent_when_the_session_is_near_and_unbooked(personas: Personas, patient: Any) -> None:
    today = timezone.now().astimezone(VIENNA).date()
    session = _plan_with_session_due(personas, patient, today + dt.timedelta(days=5))
    assert dispatch.enqueue_due().claimed == {"next_session/email": 1}
    [message] = mail.outbox
    due = session.due_date
    assert message.subject == "Time to book your next session at Clinic A"
    assert f"due around {due:%A} {due.day} {due:%B %Y}" in message.body
    assert ReminderLog.objects.get().plan_session == session
    assert dispatch.enqueue_due().total == 0


def test_no_next_session_message_when_an_appointment_already_holds_the_session(
    personas: Personas, patient: Any
) -> None:
    today = timezone.now().astimezone(VIENNA).date()
    session = _plan_with_session_due(personas, patient, today + dt.timedelta(days=3))
    book(personas, patient, soon(24 * 3), plan_session=session)
    ReminderSettings.objects.create(clinic=personas.clinic_a, appointment_reminders=False)
    assert dispatch.enqueue_due().total == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_the_same_moment_send_each_reminder_once(personas: Personas, patient: Any) -> None:
    """Two `send_reminders` in two threads with two PostgreSQL connections, released together."""
    for n in range(5):
        book(personas, make_patient(personas.clinic_a, email=f"p{n}@example.test", phone="+43 1 555 0100"),
             soon(5 + n), treatment=30)  # fmt: skip
    ReminderSettings.objects.create(clinic=personas.clinic_a, by_sms=True)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            dispatch.enqueue_due()
        except BaseException as exc:  # judged in the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(mail.outbox) == 5 and len(sms.outbox) == 5
    assert ReminderLog.objects.filter(status=ReminderStatus.SENT).count() == 10


def test_an_appointment_moved_after_its_reminder_gets_a_new_one_at_once_saying_it_moved(
    personas: Personas, patient: Any
) -> None:
    appointment = book(personas, patient, soon(20))
    assert dispatch.enqueue_due().claimed == {"appointment/email": 1}
    # Moved to next week: waiting until the day before would leave the patient with the old time all week.
    appointment.starts_at, appointment.ends_at = soon(24 * 7), soon(24 * 7 + 1)
    appointment.save()
    assert dispatch.enqueue_due().claimed == {"appointment/email": 1}
    first, second = mail.outbox
    when = appointment.starts_at.astimezone(VIENNA)
    assert "has moved to" in second.subject and f"{when:%H:%M}" in second.subject
    assert "has moved. The new time is" in second.body and "has moved" not in first.body
    [event] = parse(second.attachments[0][1])
    assert utc(event["DTSTART"]) == appointment.starts_at  # same UID: the calendar entry moves, not doubles
    assert event["UID"] == f"appointment-{appointment.pk}@127.0.0.1"
    # Once per time: the next runs send nothing more, and the day before the new time neither.
    assert dispatch.enqueue_due().total == 0
    assert dispatch.enqueue_due(now=appointment.starts_at - dt.timedelta(hours=20)).total == 0
    assert list(ReminderLog.objects.order_by("pk").values_list("subject_at", flat=True)) == [
        soon(20),
        appointment.starts_at,
    ]


def test_an_appointment_moved_before_its_reminder_went_out_is_reminded_once_at_the_new_time(
    personas: Personas, patient: Any
) -> None:
    appointment = book(personas, patient, soon(20))
    now = timezone.now()
    log = dispatch.claim(clinic_id=personas.clinic_a.pk, kind=ReminderKind.APPOINTMENT, channel=Channel.EMAIL,
                         patient=patient, due_at=now, now=now, appointment_id=appointment.pk,
                         subject_at=appointment.starts_at)  # fmt: skip
    assert log is not None
    appointment.starts_at, appointment.ends_at = soon(22), soon(23)
    appointment.save()
    dispatch.deliver(log_id=log.pk)  # the claimed message would announce the old time: not sent
    log.refresh_from_db()
    assert (log.status, log.detail) == (ReminderStatus.SKIPPED, "appointment_moved")
    assert mail.outbox == []
    assert dispatch.enqueue_due().claimed == {"appointment/email": 1}
    [message] = mail.outbox
    assert "has moved" not in message.body  # the patient never heard the old time
    assert f"{appointment.starts_at.astimezone(VIENNA):%H:%M}" in message.subject


def test_an_sms_for_a_moved_appointment_says_so(personas: Personas, patient: Any) -> None:
    ReminderSettings.objects.update_or_create(clinic=personas.clinic_a, defaults={"by_email": False, "by_sms": True})
    appointment = book(personas, patient, soon(20))
    dispatch.enqueue_due()
    appointment.starts_at, appointment.ends_at = soon(50), soon(51)
    appointment.save()
    dispatch.enqueue_due()
    first, second = sms.outbox
    assert "reminder of your appointment" in first.text and "has moved to" in second.text


def test_a_patient_who_asked_for_no_messages_gets_none_and_front_desk_sets_it_on_the_record(
    personas: Personas, patient: Any, signed_in: Any
) -> None:
    appointment = book(personas, patient, soon(10))
    now = timezone.now()
    claimed = dispatch.claim(clinic_id=personas.clinic_a.pk, kind=ReminderKind.APPOINTMENT, channel=Channel.EMAIL,
                             patient=patient, due_at=now, now=now, appointment_id=appointment.pk,
                             subject_at=appointment.starts_at)  # fmt: skip
    assert claimed is not None
    form = signed_in("front_desk").get(f"/patients/{patient.pk}/edit/").content.decode()
    assert "No reminders or messages" in form
    data = {
        "mrn": patient.mrn, "given_name": patient.given_name, "family_name": patient.family_name,
        "date_of_birth": patient.date_of_birth.isoformat(), "sex": patient.sex, "phone": patient.phone,
        "email": patient.email, "address": patient.address, "no_reminders": "on",
    }  # fmt: skip
    assert signed_in("front_desk").post(f"/patients/{patient.pk}/edit/", data).status_code == 302
    patient.refresh_from_db()
    assert patient.no_reminders
    assert (
        "No reminders or messages (the patient's choice)"
        in signed_in("nurse").get(f"/patients/{patient.pk}/").content.decode()
    )

    dispatch.deliver(log_id=claimed.pk)  # claimed before the patient said no: not sent
    claimed.refresh_from_db()
    assert (claimed.status, claimed.detail) == (ReminderStatus.SKIPPED, "patient_opted_out")
    book(personas, patient, soon(12))
    _completed_visit(personas, patient, timezone.now() - dt.timedelta(hours=30))
    _plan_with_session_due(personas, patient, timezone.localdate() + dt.timedelta(days=3))
    assert dispatch.enqueue_due().total == 0
    assert mail.outbox == [] and sms.outbox == []
    # The same record with messages allowed again: the reminder, the aftercare and the next-session message go.
    patient.no_reminders = False
    patient.save()
    assert set(dispatch.enqueue_due().claimed) == {"appointment/email", "aftercare/email", "next_session/email"}
