"""Calendar pages: day and week grids per clinician and per room, today's list for the front desk,
and moving an appointment by drag (calendar.js posts here) or by click (a small form).

Thin: the grid comes from ``calendar_grid`` (bounded queries), writes from the scheduling services.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from prpclinic.clinics.access import can, clinic_view
from prpclinic.reminders.dispatch import appointment_page
from prpclinic.reminders.selectors import confirmed_appointment_ids
from prpclinic.scheduling import calendar_grid, selectors, services, slots
from prpclinic.scheduling.calendar_forms import DayForm, MoveForm
from prpclinic.scheduling.models import Appointment, AppointmentStatus


def _today(request: HttpRequest) -> dt.date:
    return timezone.localdate()  # the middleware activated the clinic's zone


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@clinic_view("schedule.view")
@require_http_methods(["GET"])
def calendar_day(request: HttpRequest) -> HttpResponse:
    """One day, a column per clinician (``?by=clinician``, the default) or per room (``?by=room``)."""
    query = DayForm(request.GET)
    day = query.value("date", _today(request))
    by = query.value("by", calendar_grid.CLINICIAN)
    grid = calendar_grid.day_grid(clinic=request.clinic, day=day, by=by)
    context = {
        "grid": grid,
        "view": "day",
        "by": by,
        "day": day,
        "previous": day - dt.timedelta(days=1),
        "next": day + dt.timedelta(days=1),
        "today": _today(request),
        "can_move": can(request, "schedule.book"),
        "drop_kind": "room" if by == calendar_grid.ROOM else "clinician",
    }
    template = "scheduling/calendar_day.html#grid" if request.htmx else "scheduling/calendar_day.html"
    return render(request, template, context)


@clinic_view("schedule.view")
@require_http_methods(["GET"])
def calendar_week(request: HttpRequest) -> HttpResponse:
    """Monday to Sunday for one clinician (``?clinician=<id>``) or one room (``?room=<id>``).

    Without a choice: the signed-in user when they can be booked, else the first clinician.
    """
    query = DayForm(request.GET)
    day = query.value("date", _today(request))
    people = selectors.clinicians(clinic_id=request.clinic.pk)
    rooms = selectors.rooms(clinic_id=request.clinic.pk)
    room_id = query.value("room")
    clinician_id = query.value("clinician")
    # Only ids of this clinic are drawn: another clinic's id shows an empty week of nobody.
    if room_id and room_id not in {r.pk for r in rooms}:
        room_id = None
    if clinician_id and clinician_id not in {u.pk for u in people}:
        clinician_id = None
    if not room_id and not clinician_id:
        mine = next((u for u in people if u.pk == request.user.pk), None)
        chosen = mine or (people[0] if people else None)
        clinician_id = chosen.pk if chosen else None
        room_id = None if chosen else (rooms[0].pk if rooms else None)
    grid = None
    if clinician_id or room_id:
        grid = calendar_grid.week_grid(
            clinic=request.clinic, day=day, clinician_id=clinician_id, room_id=None if clinician_id else room_id
        )
    subject = next((u.full_name for u in people if u.pk == clinician_id), None) or next(
        (r.name for r in rooms if r.pk == room_id), ""
    )
    context = {
        "grid": grid,
        "view": "week",
        "day": day,
        "monday": grid.days[0] if grid else day,
        "previous": day - dt.timedelta(days=7),
        "next": day + dt.timedelta(days=7),
        "today": _today(request),
        "people": people,
        "rooms": rooms,
        "clinician_id": clinician_id,
        "room_id": None if clinician_id else room_id,
        "subject": subject,
        "can_move": can(request, "schedule.book"),
        "drop_kind": "day",
    }
    template = "scheduling/calendar_week.html#grid" if request.htmx else "scheduling/calendar_week.html"
    return render(request, template, context)


@clinic_view("schedule.view")
@require_http_methods(["GET"])
def calendar_today(request: HttpRequest) -> HttpResponse:
    """The front desk's list of today: every appointment in time order, with check-in for the booked."""
    zone = zoneinfo.ZoneInfo(request.clinic.timezone)
    day = _today(request)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    appointments = list(selectors.appointments_between(clinic_id=request.clinic.pk, start=start, end=end))
    confirmed = confirmed_appointment_ids(clinic_id=request.clinic.pk, appointment_ids=[a.pk for a in appointments])
    context = {
        "day": day,
        "appointments": appointments,
        "confirmed": confirmed,
        "can_book": can(request, "schedule.book"),
        "booked": AppointmentStatus.BOOKED,
    }
    return render(request, "scheduling/calendar_today.html", context)


@clinic_view("schedule.book")
@require_POST
def calendar_check_in(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = selectors.appointment_get(request=request, appointment_id=appointment_id)  # another clinic's: 404
    try:
        services.appointment_check_in(request=request, appointment_id=appointment.pk)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        local = timezone.localtime(appointment.starts_at)
        messages.success(request, f"{appointment.patient.full_name} checked in for {local:%H:%M}.")
    return redirect("calendar_today")


@clinic_view("schedule.book")
@require_http_methods(["GET", "POST"])
def calendar_move(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """Move one appointment: the small form (GET/POST), or a drop on the grid (POST, answered in JSON).

    A refused move changes nothing; the refusal names the conflicting appointment.
    """
    appointment = selectors.appointment_get(request=request, appointment_id=appointment_id)  # another clinic's: 404
    following = selectors.later_in_series(appointment=appointment)
    people = selectors.clinicians(clinic_id=request.clinic.pk)
    rooms = selectors.rooms(clinic_id=request.clinic.pk)
    local = timezone.localtime(appointment.starts_at)
    form = MoveForm(
        request.POST if request.method == "POST" else None,
        initial={"date": local.date(), "time": local.strftime("%H:%M")},
        clinicians=people,
        rooms=rooms,
        has_following=bool(following),
    )
    if request.method == "POST":
        if form.is_valid():
            try:
                moved = _move(request, appointment.pk, form)
            except ValidationError as exc:
                # The service keys its refusals by its own argument names: shown above the form.
                form.add_error(None, ValidationError(exc.messages))
            else:
                when = timezone.localtime(moved[0].starts_at)
                text = f"Moved to {when:%a %d %b %Y %H:%M}" + (
                    f", with {len(moved) - 1} later session(s)." if len(moved) > 1 else "."
                )
                if _wants_json(request):
                    return JsonResponse({"ok": True, "message": text})
                messages.success(request, text)
                day_url = reverse("calendar_day") + f"?date={when:%Y-%m-%d}"
                return redirect(day_url)
        if _wants_json(request):
            refusal = [str(m) for errors in form.errors.values() for m in errors]
            return JsonResponse({"ok": False, "message": " ".join(refusal)}, status=400)
    context = {
        "appointment": appointment,
        "local": local,
        "form": form,
        "following": following,
        "appointment_url": appointment_page(appointment.pk),
    }
    return render(request, "scheduling/calendar_move.html", context, status=400 if form.errors else 200)


def _move(request: HttpRequest, appointment_id: int, form: MoveForm) -> list[Appointment]:
    day, clock = form.local_date_time()
    starts_at = slots.local_to_utc(day, clock, zoneinfo.ZoneInfo(request.clinic.timezone))
    if starts_at is None:
        raise ValidationError(f"{clock:%H:%M} does not exist on {day:%d %b %Y}: the clocks skip that hour.")
    return services.appointment_move(
        request=request,
        appointment_id=appointment_id,
        starts_at=starts_at,
        clinician_id=form.cleaned_data.get("clinician"),
        room_id=form.cleaned_data.get("room"),
        shift_following=bool(form.cleaned_data.get("shift_following")),
    )
