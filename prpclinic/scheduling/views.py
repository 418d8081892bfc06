"""Scheduling pages (not the calendar): book an appointment, its page with the status actions, moving it
(asking whether the later sessions move too), booking a plan's series, and the set-up of resources.

Thin: forms in, services and selectors out. A refused form re-renders with status 400 and the
services' sentences next to their fields; nothing is saved.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from prpclinic.audit.services import audit_record
from prpclinic.clinics.access import can, clinic_view
from prpclinic.forms import add_service_errors
from prpclinic.patients.selectors import patient_get, patient_search
from prpclinic.prp.models import Centrifuge
from prpclinic.scheduling import selectors, series, services, transitions
from prpclinic.scheduling.forms import BookForm, MoveForm, ReasonForm, SeriesRowForm, SeriesSearchForm, local_instant
from prpclinic.treatments.models import PlannedSession, PlanStatus, SessionStatus


def zone(request: HttpRequest) -> ZoneInfo:
    return ZoneInfo(request.clinic.timezone)


def _open_sessions(request: HttpRequest, patient_id: int) -> list[PlannedSession]:
    """Sessions of the patient's active plans not yet done (one query)."""
    return list(
        PlannedSession.objects.filter(
            clinic=request.clinic, plan__patient_id=patient_id, plan__status=PlanStatus.ACTIVE,
            status=SessionStatus.PLANNED, visit__isnull=True,
        )
        .select_related("plan__treatment")
        .order_by("plan_id", "number")
    )  # fmt: skip


def _book_form(request: HttpRequest, patient_id: int, data: Any = None, initial: Any = None) -> BookForm:
    return BookForm(
        data,
        initial=initial,
        clinicians=selectors.clinicians(clinic_id=request.clinic.pk),
        rooms=selectors.rooms(clinic_id=request.clinic.pk),
        centrifuges=Centrifuge.objects.filter(clinic=request.clinic, in_service=True).order_by("name"),
        sessions=_open_sessions(request, patient_id),
    )


def _initial_from_query(request: HttpRequest) -> dict[str, Any]:
    """A booking from a calendar slot: ``?date=2027-03-01&time=10:00&clinician=3&room=2&treatment=...``."""
    keys = ("date", "time", "clinician", "room", "treatment", "plan_session")
    return {key: request.GET[key] for key in keys if request.GET.get(key)}


@clinic_view("schedule.book")
@require_GET
def book_pick_patient(request: HttpRequest) -> HttpResponse:
    """Booking from a slot: find the patient first; the slot's time rides along in the query string."""
    query = request.GET.get("q", "").strip()
    found = patient_search(clinic_id=request.clinic.pk, query=query, limit=20)
    carried = urlencode(_initial_from_query(request))
    return render(request, "scheduling/pick_patient.html", {"query": query, "patients": found, "carried": carried})


@clinic_view("schedule.book")
@require_http_methods(["GET", "POST"])
def book(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Book an appointment for the patient (from the chart, or from a slot with its time prefilled)."""
    patient = patient_get(request=request, patient_id=patient_id)  # another clinic's: 404
    form = _book_form(
        request, patient.pk, request.POST if request.method == "POST" else None, initial=_initial_from_query(request)
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        starts_at = local_instant(form, data["date"], data["time"], zone(request))
        if starts_at is not None:
            try:
                appointment = services.appointment_book(
                    request=request, patient_id=patient.pk, treatment=data["treatment"],
                    clinician_id=data["clinician"], room_id=data["room"], starts_at=starts_at,
                    centrifuge_id=data["centrifuge"], tubes=data["tubes"], plan_session_id=data["plan_session"],
                    note=data["note"],
                )  # fmt: skip
            except ValidationError as exc:
                add_service_errors(form, exc, rename={"starts_at": "time"})
            else:
                local = timezone.localtime(appointment.starts_at)
                messages.success(request, f"Booked for {local:%a %d %b %Y %H:%M}.")
                return redirect("scheduling_appointment", appointment_id=appointment.pk)
    status = 400 if form.errors else 200
    upcoming = selectors.patient_appointments(clinic_id=request.clinic.pk, patient_id=patient.pk, upcoming_only=True)
    return render(
        request, "scheduling/book.html", {"patient": patient, "form": form, "upcoming": upcoming}, status=status
    )


def _appointment_page(
    request: HttpRequest, appointment: Any, *, reason_form: ReasonForm | None = None, failed: str = "",
    error: str = "", status: int = 200,
) -> HttpResponse:  # fmt: skip
    actions = transitions.next_actions(appointment.status)
    visit_done = appointment.visit is not None and appointment.visit.status == "completed"
    return render(
        request,
        "scheduling/appointment.html",
        {
            "a": appointment,
            "patient": appointment.patient,
            "actions": actions,
            "can_book": can(request, "schedule.book"),
            "can_start": can(request, "visit.start"),
            "visit_done": visit_done,
            "reason_form": reason_form or ReasonForm(),
            "failed": failed,
            "error": error,
            "following": selectors.later_in_series(appointment=appointment) if appointment.status == "booked" else [],
        },
        status=status,
    )


@clinic_view("schedule.view")
@require_GET
def appointment_detail(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """The appointment with its segments and the next steps of its day. Opening it is audited (it names the patient)."""
    appointment = selectors.appointment_get(request=request, appointment_id=appointment_id)
    audit_record(action="appointment.view", request=request, obj=appointment)
    return _appointment_page(request, appointment)


ACTIONS = {
    "check-in": services.appointment_check_in,
    "start": services.appointment_start_treatment,
    "complete": services.appointment_complete,
}
REASONED = {"cancel": services.appointment_cancel, "no-show": services.appointment_no_show}
DONE = {
    "check-in": "Checked in.",
    "start": "Treatment started: the visit is open.",
    "complete": "Appointment completed.",
    "cancel": "Appointment cancelled.",
    "no-show": "Marked as a no-show.",
}


@clinic_view("schedule.book")
@require_POST
def appointment_action(request: HttpRequest, appointment_id: int, action: str) -> HttpResponse:
    """One status action; a refusal comes back on the appointment page (400) with its sentence."""
    appointment = selectors.appointment_get(request=request, appointment_id=appointment_id)  # another clinic's: 404
    if action not in ACTIONS and action not in REASONED:
        raise Http404("No such action.")
    reason_form = None
    try:
        if action in REASONED:
            reason_form = ReasonForm(request.POST)
            if not reason_form.is_valid():
                raise ValidationError({"reason": "Give the reason; it is kept with the appointment."})
            REASONED[action](request=request, appointment_id=appointment.pk, reason=reason_form.cleaned_data["reason"])
        else:
            ACTIONS[action](request=request, appointment_id=appointment.pk)
    except ValidationError as exc:
        fresh = selectors.appointment_get(request=request, appointment_id=appointment_id)
        if reason_form is not None and hasattr(exc, "error_dict") and "reason" in exc.error_dict:
            reason_form = ReasonForm(request.POST)
            reason_form.is_valid()
            if "reason" not in reason_form.errors:
                reason_form.add_error("reason", exc.error_dict["reason"])
            return _appointment_page(request, fresh, reason_form=reason_form, failed=action, status=400)
        return _appointment_page(request, fresh, failed=action, error=" ".join(exc.messages), status=400)
    messages.success(request, DONE[action])
    if action == "start":
        fresh = selectors.appointment_get(request=request, appointment_id=appointment_id)
        return redirect("visit_detail", visit_id=fresh.visit_id)
    return redirect("scheduling_appointment", appointment_id=appointment.pk)


@clinic_view("schedule.book")
@require_http_methods(["GET", "POST"])
def appointment_move(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """Move a booked appointment. With later booked sessions of its series, a second page asks whether
    they move by the same amount; the answer is then carried out in one transaction."""
    appointment = selectors.appointment_get(request=request, appointment_id=appointment_id)
    local = timezone.localtime(appointment.starts_at)
    form = MoveForm(
        request.POST if request.method == "POST" else None,
        initial={"date": local.date(), "time": local.strftime("%H:%M")},
        clinicians=selectors.clinicians(clinic_id=request.clinic.pk),
        rooms=selectors.rooms(clinic_id=request.clinic.pk),
    )
    context: dict[str, Any] = {"a": appointment, "patient": appointment.patient, "form": form, "local": local}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        starts_at = local_instant(form, data["date"], data["time"], zone(request))
        following = selectors.later_in_series(appointment=appointment) if appointment.status == "booked" else []
        if starts_at is not None and following and not data["shift"]:
            # Ask first: the later sessions, where they are and where the same shift would put them.
            shifted = services.planned_shift(appointment=appointment, starts_at=starts_at, zone=zone(request))
            context |= {"asking": True, "new_local": timezone.localtime(starts_at), "shifted": shifted}
            return render(request, "scheduling/move.html", context)
        if starts_at is not None:
            try:
                moved = services.appointment_move(
                    request=request, appointment_id=appointment.pk, starts_at=starts_at,
                    clinician_id=data["clinician"], room_id=data["room"], shift_following=data["shift"] == "later",
                )  # fmt: skip
            except ValidationError as exc:
                add_service_errors(form, exc, rename={"starts_at": "time"})
            else:
                when = timezone.localtime(moved[0].starts_at)
                extra = f", and {len(moved) - 1} later session(s) by the same amount" if len(moved) > 1 else ""
                messages.success(request, f"Moved to {when:%a %d %b %Y %H:%M}{extra}.")
                return redirect("scheduling_appointment", appointment_id=appointment.pk)
    return render(request, "scheduling/move.html", context, status=400 if form.errors else 200)


@clinic_view("schedule.book")
@require_http_methods(["GET", "POST"])
def series_book(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Book a plan's remaining sessions: choose the clinician (and a preferred room and time), see a
    proposed time per session, adjust any, book them all in one step (or none, with each refused
    row's conflicts shown on its row)."""
    state = series.series_state(request=request, plan_id=plan_id)  # another clinic's: 404
    people = selectors.clinicians(clinic_id=request.clinic.pk)
    rooms = selectors.rooms(clinic_id=request.clinic.pk)
    source = request.POST if request.method == "POST" else request.GET
    search = SeriesSearchForm(source if source.get("clinician") else None, clinicians=people, rooms=rooms)
    rows: list[dict[str, Any]] = []
    status = 200
    if search.is_valid():
        wanted = search.cleaned_data
        if request.method == "POST":
            rows, status = _series_post(request, state, wanted, rooms)
            if status == 302:
                return redirect(chart_url(state.plan.patient_id))
        else:
            proposals = series.series_propose(
                request=request, plan_id=state.plan.pk, clinician_id=wanted["clinician"], room_id=wanted["room"],
                preferred_time=wanted["time"],
            )  # fmt: skip
            rows = [_row_of_proposal(p) for p in proposals]
    elif request.method == "POST":
        status = 400
    context = {
        "plan": state.plan, "patient": state.plan.patient, "type": state.appointment_type, "booked": state.booked,
        "search": search, "rows": rows, "rooms": rooms,
    }  # fmt: skip
    return render(request, "scheduling/series.html", context, status=status)


def _row_of_proposal(proposal: series.Proposal) -> dict[str, Any]:
    local = timezone.localtime(proposal.starts_at) if proposal.starts_at else None
    return {
        "session": proposal.session,
        "due": proposal.due_date,
        "date": local.date() if local else None,
        "time": local.strftime("%H:%M") if local else "",
        "room": proposal.room_id,
        "message": proposal.message,
        "errors": [],
        "book": True,
    }


def _series_post(
    request: HttpRequest, state: series.SeriesState, wanted: dict[str, Any], rooms: list[Any]
) -> tuple[list[dict[str, Any]], int]:
    """Read each session's row (``s<id>-date``, ``-time``, ``-room``, ``-book``), then book them all or none."""
    rows: list[dict[str, Any]] = []
    to_book: list[series.SeriesRow] = []
    room_ids = {r.pk for r in rooms}
    for session in state.remaining:
        prefix = f"s{session.pk}-"
        row_form = SeriesRowForm(request.POST, prefix=f"s{session.pk}")
        row: dict[str, Any] = {
            "session": session, "due": session.due_date, "date": request.POST.get(prefix + "date", ""),
            "time": request.POST.get(prefix + "time", ""), "room": None, "message": "", "errors": [],
            "book": bool(request.POST.get(prefix + "book")),
        }  # fmt: skip
        rows.append(row)
        if not row["book"]:
            continue
        if not row_form.is_valid():
            row["errors"] = [m for errors in row_form.errors.values() for m in errors]
            continue
        data = row_form.cleaned_data
        row["room"] = data["room"] if data["room"] in room_ids else None
        starts_at = local_instant(row_form, data["date"], data["time"], zone(request))
        if starts_at is None:
            row["errors"] = [m for errors in row_form.errors.values() for m in errors]
            continue
        to_book.append(series.SeriesRow(session.pk, starts_at, row["room"]))
    if any(row["errors"] for row in rows):
        return rows, 400
    if not to_book:
        messages.error(request, "Tick at least one session to book.")
        return rows, 400
    try:
        booked = series.series_book(
            request=request, plan_id=state.plan.pk, clinician_id=wanted["clinician"], rows=to_book
        )
    except series.SeriesRefused as exc:
        for row in rows:
            row["errors"] = exc.rows.get(row["session"].pk, [])
        return rows, 400
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return rows, 400
    messages.success(request, f"{len(booked)} session(s) booked.")
    return rows, 302


def chart_url(patient_id: int) -> str:
    return reverse("patient_chart", args=[patient_id])
