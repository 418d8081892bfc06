"""Centrifuges with their spin programs, and kit and tube lots with recalls."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from prpclinic.audit.services import audit_record
from prpclinic.clinics.access import clinic_view, require
from prpclinic.forms import add_service_errors
from prpclinic.prp.forms import CentrifugeForm, LotForm, ProgramForm, ReasonForm
from prpclinic.prp.models import Centrifuge, ConsumableLot
from prpclinic.prp.selectors import lot_usage
from prpclinic.prp.services import inventory


@clinic_view("prp.view")
@require_http_methods(["GET", "POST"])
def devices(request: HttpRequest) -> HttpResponse:
    form = CentrifugeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        require(request, "prp.devices")
        if form.is_valid():
            try:
                device = inventory.centrifuge_save(request=request, centrifuge_id=None, data=form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"{device.name} added.")
                return redirect("prp_device", centrifuge_id=device.pk)
    centrifuges = Centrifuge.objects.filter(clinic=request.clinic).prefetch_related("programs")
    return render(
        request, "prp/devices.html", {"centrifuges": centrifuges, "form": form}, status=400 if form.errors else 200
    )


def _device(request: HttpRequest, centrifuge_id: int) -> Centrifuge:
    device = Centrifuge.objects.filter(pk=centrifuge_id, clinic=request.clinic).first()
    if device is None:
        raise Http404("No such centrifuge.")
    return device


@clinic_view("prp.view")
@require_http_methods(["GET", "POST"])
def device(request: HttpRequest, centrifuge_id: int) -> HttpResponse:
    centrifuge = _device(request, centrifuge_id)
    form = CentrifugeForm(request.POST if request.method == "POST" else None, instance=centrifuge)
    if request.method == "POST":
        require(request, "prp.devices")
        if form.is_valid():
            try:
                inventory.centrifuge_save(request=request, centrifuge_id=centrifuge.pk, data=form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, "Saved.")
                return redirect("prp_device", centrifuge_id=centrifuge.pk)
    return _render_device(request, centrifuge_id, form=form, program_form=ProgramForm())


def _render_device(
    request: HttpRequest, centrifuge_id: int, *, form: CentrifugeForm, program_form: ProgramForm
) -> HttpResponse:
    centrifuge = _device(request, centrifuge_id)  # fresh, not the form's edited copy
    return render(
        request,
        "prp/device.html",
        {"centrifuge": centrifuge, "programs": centrifuge.programs.all(), "form": form, "program_form": program_form},
        status=400 if form.errors or program_form.errors else 200,
    )


@clinic_view("prp.devices")
@require_POST
def program_add(request: HttpRequest, centrifuge_id: int) -> HttpResponse:
    centrifuge = _device(request, centrifuge_id)
    program_form = ProgramForm(request.POST)
    if program_form.is_valid():
        try:
            inventory.program_save(request=request, centrifuge_id=centrifuge.pk, **program_form.service_kwargs())
        except ValidationError as exc:
            if hasattr(exc, "error_dict") and "rcf" in exc.message_dict:
                program_form.add_error("spin1_rcf", exc.message_dict["rcf"])
            else:
                add_service_errors(program_form, exc)
        else:
            messages.success(request, "Program added.")
            return redirect("prp_device", centrifuge_id=centrifuge.pk)
    return _render_device(request, centrifuge_id, form=CentrifugeForm(instance=centrifuge), program_form=program_form)


@clinic_view("prp.view")
@require_http_methods(["GET", "POST"])
def lots(request: HttpRequest) -> HttpResponse:
    form = LotForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        require(request, "prp.lots")
        if form.is_valid():
            try:
                lot = inventory.lot_create(request=request, data=form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Lot {lot.lot_number} registered.")
                return redirect("prp_lots")
    all_lots = ConsumableLot.objects.filter(clinic=request.clinic).order_by("-expiry_date")[:300]
    return render(
        request,
        "prp/lots.html",
        {"lots": all_lots, "form": form, "reason_form": ReasonForm()},
        status=400 if form.errors else 200,
    )


@clinic_view("prp.recall")
@require_POST
def lot_recall(request: HttpRequest, lot_id: int) -> HttpResponse:
    if not ConsumableLot.objects.filter(pk=lot_id, clinic=request.clinic).exists():
        raise Http404("No such lot.")
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the recall notice or reason.")
        return redirect("prp_lots")
    lot = inventory.lot_recall(request=request, lot_id=lot_id, reason=form.cleaned_data["reason"])
    messages.success(request, f"Lot {lot.lot_number} recalled. Below: everyone it was used for.")
    return redirect("prp_lot_usage", lot_id=lot.pk)


@clinic_view("prp.recall")
@require_GET
def lot_usage_view(request: HttpRequest, lot_id: int) -> HttpResponse:
    lot, draws = lot_usage(request=request, lot_id=lot_id)
    audit_record(action="prp.recall_query", request=request, obj=lot, changes={"draws": len(draws)})
    return render(request, "prp/lot_usage.html", {"lot": lot, "draws": draws})
