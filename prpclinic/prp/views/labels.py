"""Label PDFs: a product's tube and syringe labels, and a patient's wristband. Every print is audited."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.http import require_GET

from prpclinic.audit.services import audit_record
from prpclinic.clinics.access import clinic_view
from prpclinic.patients.selectors import patient_get
from prpclinic.prp import labels
from prpclinic.prp.selectors import product_get


def pdf_response(pdf: bytes, filename: str) -> HttpResponse:
    """Shown in the browser's viewer (to print from there); the file name carries no patient data."""
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@clinic_view("prp.handle")
@require_GET
def product_labels(request: HttpRequest, product_id: int) -> HttpResponse:
    """``?layout=50x25`` (default: one label a page, for a label printer) or ``?layout=sheet`` (A4)."""
    layout = request.GET.get("layout", labels.LAYOUT_ROLL)
    if layout not in labels.LAYOUTS:
        return HttpResponseBadRequest(f"Unknown layout; choose one of: {', '.join(labels.LAYOUTS)}.")
    product = product_get(request=request, product_id=product_id)
    pdf = labels.product_labels_pdf(product, layout=layout)
    audit_record(
        action="prp.labels_print",
        request=request,
        obj=product,
        changes={"layout": layout, "tubes": product.draw.tube_count, "syringe": product.prepared_at is not None},
    )
    return pdf_response(pdf, f"labels-{product.barcode}.pdf")


@clinic_view("patient.view")
@require_GET
def patient_wristband(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The ``PT-<MRN>`` label for a wristband or the chart; refused (409) for a merged or inactive record."""
    patient = patient_get(request=request, patient_id=patient_id)
    refusal = labels.wristband_refusal(patient)
    if refusal:
        return HttpResponse(refusal, status=409, content_type="text/plain; charset=utf-8")
    pdf = labels.patient_wristband_pdf(patient)
    audit_record(action="patient.wristband_print", request=request, obj=patient)
    return pdf_response(pdf, "patient-label.pdf")
