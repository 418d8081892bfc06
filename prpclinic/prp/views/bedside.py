"""The bedside: scan wristband and syringe, then record the application."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from prpclinic.clinics.access import clinic_view
from prpclinic.forms import add_service_errors
from prpclinic.prp.forms import ApplyForm, VerifyForm
from prpclinic.prp.models import ProductStatus, VerificationResult
from prpclinic.prp.selectors import measures_of, product_get
from prpclinic.prp.services import bedside


@clinic_view("prp.handle")
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """One scan field: each scan goes to the patient or product slot by its prefix (PT-, PRP-).

    A mismatch answers with a full-screen stop naming both patients; the product is
    quarantined and an incident recorded by the service.
    """
    form = VerifyForm(request.POST if request.method == "POST" else None)
    verification = None
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            verification = bedside.product_verify_at_bedside(
                request=request,
                patient_code=form.cleaned_data["patient_code"],
                product_code=form.cleaned_data["product_code"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
            status = 400
        else:
            status = 200 if verification.result == VerificationResult.MATCH else 409
    elif request.method == "POST":
        status = 400
    return render(request, "prp/verify.html", {"form": form, "verification": verification}, status=status)


@clinic_view("prp.handle")
@require_http_methods(["GET", "POST"])
def apply(request: HttpRequest, product_id: int) -> HttpResponse:
    product = product_get(request=request, product_id=product_id)
    verification = product.verifications.select_related("patient", "by").order_by("-at", "-id").first()
    form = ApplyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            bedside.product_apply(
                request=request,
                product_id=product.pk,
                patient_id=int(request.POST.get("patient_id", "0") or 0),
                visit_id=product.draw.visit_id,
                zones=form.zones(),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{product.barcode} applied and recorded.")
            return redirect("visit_detail", visit_id=product.draw.visit_id)
    return render(
        request,
        "prp/apply.html",
        {
            "product": product,
            "verification": verification,
            "form": form,
            "ready": product.status == ProductStatus.VERIFIED,
            "measures": measures_of(product),
        },
        status=400 if form.errors else 200,
    )
