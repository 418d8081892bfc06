"""Public pages under /r/, opened by a token alone (no sign-in): the patient's confirm/cancel link
and a clinician's iCalendar feed. An unknown or revoked token answers 404, nothing more.

The link page shows only the clinic and the time; a GET never changes anything (mail scanners
open links), the patient's choice is a POST.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from prpclinic.reminders import dispatch, messages, selectors, services
from prpclinic.reminders.forms import LinkAnswerForm
from prpclinic.scheduling import ics
from prpclinic.scheduling.models import AppointmentStatus


@require_http_methods(["GET", "POST"])
def patient_link(request: HttpRequest, token: str) -> HttpResponse:
    link = selectors.link_by_token(token=token)
    if link is None:
        raise Http404("Unknown link.")
    form = LinkAnswerForm(request.POST if request.method == "POST" else None)
    answered = ""
    if request.method == "POST" and form.is_valid():
        try:
            link = services.link_answer(request=request, token=token, action=form.cleaned_data["action"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            answered = link.outcome
    appointment, clinic = link.appointment, link.clinic
    context = {
        "clinic_name": clinic.name,
        "when": messages.local_text(appointment.starts_at, clinic.timezone),
        "state": services.link_state(link, timezone.now()) if not answered else "answered",
        "answered": answered,
        "form": form,
    }
    response = render(request, "reminders/link.html", context, status=400 if form.errors else 200)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@require_http_methods(["GET"])
def feed_ics(request: HttpRequest, token: str) -> HttpResponse:
    """The clinician's own appointments as iCalendar. Each event is "Appointment" with its room: no
    patient name or treatment leaves the clinic through a calendar app."""
    feed = selectors.feed_by_token(token=token)
    if feed is None:
        raise Http404("Unknown feed.")
    now = timezone.now()
    events = [
        ics.Event(
            uid=dispatch.appointment_uid(appt.pk),
            starts_at=appt.starts_at,
            ends_at=appt.ends_at,
            summary="Appointment",
            location=f"{feed.clinic.name}, {appt.room.name}",
            description=dispatch.absolute(dispatch.appointment_page(appt.pk)),
            status="CANCELLED" if appt.status == AppointmentStatus.CANCELLED else "CONFIRMED",
            sequence=int(appt.updated_at.timestamp()) % 2**31,
        )
        for appt in selectors.feed_appointments(clinic_id=feed.clinic_id, user_id=feed.user_id, now=now)
    ]
    services.feed_token_used(feed=feed, now=now)
    body = ics.calendar(events, now=now, name=f"prpclinic: {feed.clinic.name}")
    response = HttpResponse(body.encode("utf-8"), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "no-store, private"
    response["Content-Disposition"] = 'inline; filename="prpclinic.ics"'
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
