"""The patient's one-time confirm/cancel link, the clinician's private iCalendar feed, and the
clinic's reminder settings page."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from prpclinic.audit.models import AuditEvent
from prpclinic.reminders import dispatch
from prpclinic.reminders.models import FeedToken, LinkOutcome, PatientLink, ReminderSettings
from prpclinic.reminders.selectors import token_hash
from prpclinic.scheduling.models import AppointmentStatus
from tests.conftest import Personas, make_patient
from tests.matrix_calendar import make_appointment, make_room
from tests.test_scheduling_calendar_ics import parse, unescape, utc

VIENNA = zoneinfo.ZoneInfo("Europe/Vienna")


@pytest.fixture
def patient(personas: Personas) -> Any:
    return make_patient(personas.clinic_a, given_name="Greta", family_name="Huber", email="greta@example.test")


def soon(hours: float) -> dt.datetime:
    return (timezone.now() + dt.timedelta(hours=hours)).replace(second=0, microsecond=0)


def reminded(personas: Personas, patient: Any, hours: float = 20) -> tuple[Any, str]:
    """An appointment ``hours`` ahead and the link path its reminder e-mail carried."""
    appointment = make_appointment(
        clinic=personas.clinic_a, patient=patient, clinician=personas.physician, starts_at=soon(hours)
    )
    dispatch.enqueue_due()
    path = re.search(r"http://127\.0\.0\.1:8000(/r/[^/\s]+/)", mail.outbox[-1].body).group(1)  # type: ignore[union-attr]
    return appointment, path


def test_the_link_page_shows_only_the_clinic_and_the_time_and_a_get_changes_nothing(
    personas: Personas, patient: Any, client: Any
) -> None:
    appointment, path = reminded(personas, patient)
    response = client.get(path)
    html = response.content.decode()
    when = appointment.starts_at.astimezone(VIENNA)
    assert response.status_code == 200
    assert f"At <strong>Clinic A</strong> on <strong>{when:%A} {when.day} {when:%B %Y} at {when:%H:%M}" in html
    assert "Greta" not in html and "Huber" not in html and "PRP" not in html and "Physician" not in html
    assert "no-store" in response["Cache-Control"]
    assert PatientLink.objects.get().used_at is None  # a mail scanner opening the link does not answer it


def test_the_patient_confirms_once_and_the_calendar_shows_it(
    personas: Personas, patient: Any, client: Any, signed_in: Any
) -> None:
    appointment, path = reminded(personas, patient)
    response = client.post(path, {"action": "confirmed"})
    assert response.status_code == 200
    assert "your appointment is confirmed" in response.content.decode()
    link = PatientLink.objects.get()
    assert link.outcome == LinkOutcome.CONFIRMED and link.used_at is not None
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED
    assert AuditEvent.objects.filter(action="patient_link.confirm", object_id=str(appointment.pk)).count() == 1

    again = client.post(path, {"action": "cancelled"})
    assert again.status_code == 400
    assert "This link was already used" in again.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED

    day = appointment.starts_at.astimezone(VIENNA).date()
    html = signed_in("front_desk").get(f"/calendar/?date={day:%Y-%m-%d}").content.decode()
    assert "cal-confirmed" in html and "confirmed by the patient" in html


def test_the_patient_cancels_through_the_link_and_every_other_link_closes(
    personas: Personas, patient: Any, client: Any
) -> None:
    ReminderSettings.objects.create(clinic=personas.clinic_a, by_sms=True)
    patient.phone = "+43 660 7654321"
    patient.save()
    appointment, path = reminded(personas, patient)
    assert PatientLink.objects.count() == 2  # the e-mail's and the SMS's
    response = client.post(path, {"action": "cancelled"})
    assert response.status_code == 200
    assert "Your appointment is cancelled" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.status_reason == "cancelled by the patient via link"
    event = AuditEvent.objects.get(action="appointment.cancelled", object_id=str(appointment.pk))
    assert event.actor is None and event.changes["via"] == "patient_link"
    assert PatientLink.objects.filter(used_at__isnull=True).count() == 0


def test_a_link_expires_after_the_clinics_hours_and_refuses_then(personas: Personas, patient: Any, client: Any) -> None:
    ReminderSettings.objects.create(clinic=personas.clinic_a, link_valid_hours=2)
    appointment, path = reminded(personas, patient, hours=20)
    link = PatientLink.objects.get()
    assert link.expires_at < appointment.starts_at
    assert abs(link.expires_at - (timezone.now() + dt.timedelta(hours=2))) < dt.timedelta(minutes=1)
    PatientLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert "This link has expired" in client.get(path).content.decode()
    response = client.post(path, {"action": "cancelled"})
    assert response.status_code == 400 and "This link has expired" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED


def test_a_link_never_outlives_the_appointments_start(personas: Personas, patient: Any) -> None:
    appointment, _ = reminded(personas, patient, hours=3)  # the default 72 h would reach past it
    assert PatientLink.objects.get().expires_at == appointment.starts_at


def test_a_link_to_an_appointment_the_clinic_cancelled_no_longer_works(
    personas: Personas, patient: Any, client: Any
) -> None:
    appointment, path = reminded(personas, patient)
    appointment.status = AppointmentStatus.CANCELLED
    appointment.save()
    assert "can no longer be changed through this link" in client.get(path).content.decode()
    assert client.post(path, {"action": "confirmed"}).status_code == 400


def test_an_unknown_token_is_404(client: Any, db: Any) -> None:
    assert client.get("/r/" + "x" * 43 + "/").status_code == 404
    assert client.post("/r/" + "x" * 43 + "/", {"action": "cancelled"}).status_code == 404


# --- The calendar feed -----------------------------------------------------------------------------


def test_a_clinician_makes_a_private_feed_of_their_own_appointments_without_patient_details(
    personas: Personas, patient: Any, signed_in: Any, client: Any
) -> None:
    room = make_room(personas.clinic_a, "Room 3")
    mine = make_appointment(clinic=personas.clinic_a, patient=patient, clinician=personas.physician,
                            starts_at=soon(30), room=room)  # fmt: skip
    make_appointment(clinic=personas.clinic_a, patient=patient, clinician=personas.nurse, starts_at=soon(50))
    other_clinic = make_patient(personas.clinic_b, given_name="Karl", family_name="Kowalczyk")
    make_appointment(clinic=personas.clinic_b, patient=other_clinic, clinician=personas.other_physician,
                     starts_at=soon(30))  # fmt: skip

    page = signed_in("physician").post("/reminders/feed/")
    html = page.content.decode()
    url = re.search(r'value="(http://127\.0\.0\.1:8000/r/feed/[A-Za-z0-9_-]+\.ics)"', html).group(1)  # type: ignore[union-attr]
    assert "shown only once" in html
    assert FeedToken.objects.get().token_hash == token_hash(url.rsplit("/", 1)[1][: -len(".ics")])

    response = client.get(url.removeprefix("http://127.0.0.1:8000"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "no-store, private"
    body = response.content.decode()
    [event] = parse(body)
    assert utc(event["DTSTART"]) == mine.starts_at
    assert unescape(event["SUMMARY"]) == "Appointment"
    assert unescape(event["LOCATION"]) == "Clinic A, Room 3"
    assert "Greta" not in body and "Huber" not in body and "hair loss" not in body and "PRP " not in body
    assert signed_in("physician").get("/reminders/feed/").content.decode().count("r/feed/") == 0  # not shown again


def test_a_revoked_feed_answers_404_and_a_new_address_replaces_the_old(
    personas: Personas, signed_in: Any, client: Any
) -> None:
    staff = signed_in("nurse")
    first = re.search(r"/r/feed/[A-Za-z0-9_-]+\.ics", staff.post("/reminders/feed/").content.decode()).group(0)  # type: ignore[union-attr]
    assert client.get(first).status_code == 200
    second = re.search(r"/r/feed/[A-Za-z0-9_-]+\.ics", staff.post("/reminders/feed/").content.decode()).group(0)  # type: ignore[union-attr]
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    response = staff.post("/reminders/feed/revoke/", follow=True)
    assert "Your calendar feed is stopped" in response.content.decode()
    assert client.get(second).status_code == 404
    assert FeedToken.objects.filter(revoked_at__isnull=True).count() == 0
    assert AuditEvent.objects.filter(action="calendar_feed.revoke").count() == 1


def test_a_cancelled_appointment_stays_in_the_feed_as_cancelled(
    personas: Personas, patient: Any, signed_in: Any, client: Any
) -> None:
    make_appointment(clinic=personas.clinic_a, patient=patient, clinician=personas.physician, starts_at=soon(5),
                     status=AppointmentStatus.CANCELLED)  # fmt: skip
    url = re.search(r"/r/feed/[A-Za-z0-9_-]+\.ics", signed_in("physician").post("/reminders/feed/").content.decode())
    [event] = parse(client.get(url.group(0)).content.decode())  # type: ignore[union-attr]
    assert event["STATUS"] == "CANCELLED"


# --- Settings --------------------------------------------------------------------------------------


def test_the_admin_sets_when_reminders_go_out_and_a_wrong_value_is_refused_next_to_its_field(
    personas: Personas, signed_in: Any
) -> None:
    admin = signed_in("admin")
    page = admin.get("/reminders/").content.decode()
    assert 'name="hours_before" value="24"' in page
    data = {
        "appointment_reminders": "on", "hours_before": "48", "by_email": "on", "link_valid_hours": "24",
        "aftercare_messages": "on", "aftercare_hours_after": "12", "next_session_days_before": "10",
    }  # fmt: skip
    response = admin.post("/reminders/", data, follow=True)
    assert "Reminder settings saved." in response.content.decode()
    saved = ReminderSettings.objects.get(clinic=personas.clinic_a)
    assert (saved.hours_before, saved.by_sms, saved.next_session_messages) == (48, False, False)
    assert AuditEvent.objects.filter(action="reminder_settings.change").count() == 1

    refused = admin.post("/reminders/", {**data, "hours_before": "0"})
    assert refused.status_code == 400
    assert re.search(
        r'id="id_hours_before_error"><li>Ensure this value is greater than or equal to 1', refused.content.decode()
    )
    assert ReminderSettings.objects.get(clinic=personas.clinic_a).hours_before == 48
