"""The schedule set-up page (clinic admins): rooms, clinicians' working hours and absences, appointment
types, and the centrifuges' tube slots (read here, edited on the PRP devices page)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from prpclinic.clinics.access import clinic_view
from prpclinic.forms import add_service_errors
from prpclinic.prp.models import Centrifuge
from prpclinic.scheduling import resources, selectors
from prpclinic.scheduling.forms import AbsenceForm, HoursForm, RoomForm, TypeForm, local_instant
from prpclinic.scheduling.models import AppointmentType, Room
from prpclinic.scheduling.views import zone


def _type_form(kind: AppointmentType) -> TypeForm:
    fields = ("prep_minutes", "spin_minutes", "treatment_minutes", "tubes")
    return TypeForm(initial={name: getattr(kind, name) for name in fields}, prefix=f"t{kind.pk}")


def _page(request: HttpRequest, *, status: int = 200, **forms: Any) -> HttpResponse:
    clinic_id = request.clinic.pk
    people = selectors.clinicians(clinic_id=clinic_id)
    types = resources.appointment_types_seed(clinic=request.clinic)
    type_forms = {t.pk: forms.get(f"type_{t.pk}") or _type_form(t) for t in types}
    context = {
        "rooms": selectors.rooms(clinic_id=clinic_id, active_only=False),
        "room_form": forms.get("room_form") or RoomForm(),
        "hours": selectors.working_hours_rows(clinic_id=clinic_id),
        "hours_form": forms.get("hours_form") or HoursForm(clinicians=people),
        "absences": selectors.absences_upcoming(clinic_id=clinic_id),
        "absence_form": forms.get("absence_form") or AbsenceForm(clinicians=people),
        "types": [(t, type_forms[t.pk]) for t in types],
        "centrifuges": list(Centrifuge.objects.filter(clinic_id=clinic_id).order_by("name")),
        "failed_room": forms.get("failed_room"),
        "failed_room_form": forms.get("failed_room_form"),
    }
    return render(request, "scheduling/setup.html", context, status=status)


@clinic_view("schedule.resources")
@require_GET
def setup(request: HttpRequest) -> HttpResponse:
    return _page(request)


@clinic_view("schedule.resources")
@require_POST
def room_add(request: HttpRequest) -> HttpResponse:
    form = RoomForm(request.POST)
    if form.is_valid():
        try:
            room = resources.room_save(request=request, name=form.cleaned_data["name"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{room.name} added.")
            return redirect("scheduling_setup")
    return _page(request, room_form=form, status=400)


@clinic_view("schedule.resources")
@require_POST
def room_edit(request: HttpRequest, room_id: int) -> HttpResponse:
    room = Room.objects.filter(clinic=request.clinic, pk=room_id).first()
    if room is None:
        raise Http404("No such room in this clinic.")
    form = RoomForm(request.POST, prefix=f"r{room.pk}")
    if form.is_valid():
        try:
            resources.room_save(
                request=request, room_id=room.pk, name=form.cleaned_data["name"],
                is_active=form.cleaned_data["is_active"],
            )  # fmt: skip
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Room saved.")
            return redirect("scheduling_setup")
    return _page(request, failed_room=room.pk, failed_room_form=form, status=400)


@clinic_view("schedule.resources")
@require_POST
def hours_add(request: HttpRequest) -> HttpResponse:
    form = HoursForm(request.POST, clinicians=selectors.clinicians(clinic_id=request.clinic.pk))
    if form.is_valid():
        try:
            data = form.cleaned_data
            resources.working_hours_add(
                request=request, user_id=data["user"], weekday=data["weekday"], starts=data["starts"], ends=data["ends"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Working hours added.")
            return redirect("scheduling_setup")
    return _page(request, hours_form=form, status=400)


@clinic_view("schedule.resources")
@require_POST
def hours_remove(request: HttpRequest, hours_id: int) -> HttpResponse:
    resources.working_hours_remove(request=request, hours_id=hours_id)
    messages.success(request, "Working hours removed.")
    return redirect("scheduling_setup")


@clinic_view("schedule.resources")
@require_POST
def absence_add(request: HttpRequest) -> HttpResponse:
    form = AbsenceForm(request.POST, clinicians=selectors.clinicians(clinic_id=request.clinic.pk))
    if form.is_valid():
        data = form.cleaned_data
        starts_at = local_instant(form, data["start_date"], data["start_time"], zone(request))
        ends_at = local_instant(form, data["end_date"], data["end_time"], zone(request))
        if starts_at is not None and ends_at is not None:
            try:
                resources.absence_add(
                    request=request, user_id=data["user"], starts_at=starts_at, ends_at=ends_at, reason=data["reason"]
                )
            except ValidationError as exc:
                add_service_errors(form, exc, rename={"starts_at": "start_date", "ends_at": "end_date"})
            else:
                messages.success(request, "Absence recorded.")
                return redirect("scheduling_setup")
    return _page(request, absence_form=form, status=400)


@clinic_view("schedule.resources")
@require_POST
def absence_withdraw(request: HttpRequest, absence_id: int) -> HttpResponse:
    resources.absence_withdraw(request=request, absence_id=absence_id)
    messages.success(request, "Absence withdrawn.")
    return redirect("scheduling_setup")


@clinic_view("schedule.resources")
@require_POST
def type_edit(request: HttpRequest, type_id: int) -> HttpResponse:
    kind = AppointmentType.objects.filter(clinic=request.clinic, pk=type_id).first()
    if kind is None:
        raise Http404("No such appointment type in this clinic.")
    form = TypeForm(request.POST, prefix=f"t{kind.pk}")
    if form.is_valid():
        try:
            resources.appointment_type_update(request=request, type_id=kind.pk, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{kind.get_treatment_display()}: appointment length saved.")
            return redirect("scheduling_setup")
    return _page(request, status=400, **{f"type_{kind.pk}": form})
