"""Chain actions posted from the visit page: draw, spin, prepare, discard, quarantine, release."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from prpclinic.clinics.access import clinic_view
from prpclinic.forms import add_service_errors
from prpclinic.prp.forms import DrawForm, PrepareForm, ReasonForm, SpinForm
from prpclinic.prp.selectors import product_get
from prpclinic.prp.services import bedside, draw, spin
from prpclinic.visits.views import render_visit, visit_get


@clinic_view("prp.handle")
@require_POST
def draw_blood(request: HttpRequest, visit_id: int) -> HttpResponse:
    visit = visit_get(request=request, visit_id=visit_id)
    form = DrawForm(request.POST, clinic_id=request.clinic.pk, auto_id="id_draw_%s")
    if form.is_valid():
        try:
            product = draw.blood_draw(request=request, visit_id=visit.pk, **form.service_kwargs())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Blood drawn: product {product.barcode}. Print the tube labels now.")
            return redirect("visit_detail", visit_id=visit.pk)
    return render_visit(request, visit, draw_form=form, status=400)


def _product_form_action(
    request: HttpRequest, product_id: int, form: Form, action: Callable[..., Any], success: str, slot: str
) -> HttpResponse:
    product = product_get(request=request, product_id=product_id)
    visit = product.draw.visit
    if form.is_valid():
        try:
            kwargs = form.service_kwargs() if hasattr(form, "service_kwargs") else dict(form.cleaned_data)
            action(request=request, product_id=product.pk, **kwargs)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, success.format(product=product.barcode))
            return redirect("visit_detail", visit_id=visit.pk)
    return render_visit(request, visit, errors_for=product.pk, status=400, **{slot: form})


@clinic_view("prp.handle")
@require_POST
def spin_start(request: HttpRequest, product_id: int) -> HttpResponse:
    form = SpinForm(request.POST, clinic_id=request.clinic.pk, auto_id=f"id_p{product_id}_spin_%s")
    response = _product_form_action(
        request, product_id, form, spin.spin_start, "Spin started for {product}.", "spin_form"
    )
    device = form.cleaned_data.get("centrifuge") if form.is_valid() else None
    if response.status_code == 302 and device is not None and device.calibration_overdue:
        messages.warning(request, f"{device.name}'s calibration was due on {device.calibration_due:%Y-%m-%d}; book it.")
    return response


@clinic_view("prp.handle")
@require_POST
def prepare(request: HttpRequest, product_id: int) -> HttpResponse:
    form = PrepareForm(request.POST, auto_id=f"id_p{product_id}_%s")
    return _product_form_action(
        request, product_id, form, spin.product_prepare, "{product} prepared. Print the syringe label.", "prepare_form"
    )


def _reason_action(request: HttpRequest, product_id: int, action: Callable[..., Any], done: str) -> HttpResponse:
    product = product_get(request=request, product_id=product_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason.")
    else:
        try:
            action(request=request, product_id=product.pk, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{product.barcode} {done}.")
    target = request.POST.get("next", "")
    if target == "incidents":
        return redirect("prp_incidents")
    return redirect("visit_detail", visit_id=product.draw.visit_id)


@clinic_view("prp.handle")
@require_POST
def discard(request: HttpRequest, product_id: int) -> HttpResponse:
    return _reason_action(request, product_id, bedside.product_discard, "discarded")


@clinic_view("prp.handle")
@require_POST
def quarantine(request: HttpRequest, product_id: int) -> HttpResponse:
    return _reason_action(request, product_id, bedside.product_quarantine, "quarantined")


@clinic_view("prp.release")
@require_POST
def release(request: HttpRequest, product_id: int) -> HttpResponse:
    return _reason_action(request, product_id, bedside.product_release, "released")
