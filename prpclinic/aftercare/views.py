"""Adverse events, aftercare handouts, the visit summary and the full patient timeline. Thin: forms in, services out."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from prpclinic.aftercare import selectors, services, summary
from prpclinic.aftercare.forms import AdverseEventForm, ContactForm, EventFilterForm, OutcomeForm
from prpclinic.aftercare.instructions import contact_of
from prpclinic.aftercare.timeline import ALL_LIMIT, patient_timeline
from prpclinic.audit.services import audit_record
from prpclinic.clinics.access import can, clinic_view
from prpclinic.patients.selectors import patient_get


def pdf_response(pdf: bytes, filename: str) -> HttpResponse:
    """Shown in the browser's viewer; never cached; the file name carries no patient data."""
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "no-store, private"
    return response


# --- adverse events ---------------------------------------------------------------------------


@clinic_view("visit.adverse")
@require_http_methods(["GET", "POST"])
def event_new(request: HttpRequest, visit_id: int) -> HttpResponse:
    visit = selectors.visit_get(request=request, visit_id=visit_id)
    form = AdverseEventForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.adverse_event_record(request=request, visit_id=visit.pk, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Adverse event recorded.")
            return redirect("visit_detail", visit_id=visit.pk)
    return render(
        request, "aftercare/event_new.html", {"visit": visit, "form": form}, status=400 if form.errors else 200
    )


@clinic_view("patient.view_clinical")
@require_GET
def event_list(request: HttpRequest) -> HttpResponse:
    form = EventFilterForm(request.GET or None)
    filters = form.filters() if request.GET else selectors.EventFilters()
    events = selectors.adverse_event_list(clinic_id=request.clinic.pk, filters=filters)
    return render(
        request,
        "aftercare/event_list.html",
        {"form": form, "events": events, "limit": selectors.LIST_LIMIT},
        status=400 if form.errors else 200,
    )


@clinic_view("patient.view_clinical")
@require_GET
def event_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    event = selectors.event_get(request=request, event_id=event_id)
    audit_record(action="adverse_event.view", request=request, obj=event)
    return render(request, "aftercare/event_detail.html", {"event": event, "form": OutcomeForm()})


@clinic_view("visit.adverse")
@require_POST
def event_outcome(request: HttpRequest, event_id: int) -> HttpResponse:
    event = selectors.event_get(request=request, event_id=event_id)  # another clinic's: 404 first
    form = OutcomeForm(request.POST)
    if form.is_valid():
        try:
            services.adverse_event_add_outcome(
                request=request, event_id=event.pk, outcome=form.cleaned_data["outcome"], note=form.cleaned_data["note"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Outcome added.")
            return redirect("aftercare_event", event_id=event.pk)
    return render(request, "aftercare/event_detail.html", {"event": event, "form": form}, status=400)


# --- aftercare handouts and the visit summary -------------------------------------------------


@clinic_view("aftercare.send")
@require_POST
def handout_print(request: HttpRequest, visit_id: int) -> HttpResponse:
    selectors.visit_get(request=request, visit_id=visit_id)  # another clinic's: 404 first
    try:
        _record, pdf = services.aftercare_print(request=request, visit_id=visit_id)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("visit_detail", visit_id=visit_id)
    return pdf_response(pdf, "aftercare.pdf")


@clinic_view("aftercare.send")
@require_POST
def handout_email(request: HttpRequest, visit_id: int) -> HttpResponse:
    selectors.visit_get(request=request, visit_id=visit_id)  # another clinic's: 404 first
    try:
        record = services.aftercare_email(request=request, visit_id=visit_id)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Aftercare e-mailed to {record.to_address}.")
    return redirect("visit_detail", visit_id=visit_id)


# The summary carries depths, lots and adverse events: clinical detail, not for the front desk.
@clinic_view("patient.view_clinical")
@require_GET
def visit_summary(request: HttpRequest, visit_id: int) -> HttpResponse:
    visit = selectors.visit_get(request=request, visit_id=visit_id)
    pdf = summary.visit_summary_pdf(visit)
    audit_record(action="visit.summary_print", request=request, obj=visit)
    return pdf_response(pdf, f"visit-{visit.pk}-summary.pdf")


# --- the patient's whole timeline and the clinic's contact settings ----------------------------


@clinic_view("patient.view")
@require_GET
def patient_timeline_all(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_get(request=request, patient_id=patient_id)
    audit_record(action="patient.timeline_view", request=request, obj=patient)
    timeline = patient_timeline(clinic_id=request.clinic.pk, patient_id=patient.pk, limit=ALL_LIMIT)
    return render(
        request,
        "aftercare/timeline.html",
        {"patient": patient, "timeline": timeline, "clinical": can(request, "patient.view_clinical")},
    )


@clinic_view("catalogue.edit")
@require_http_methods(["GET", "POST"])
def contact_edit(request: HttpRequest) -> HttpResponse:
    contact = contact_of(request.clinic.pk)
    form = ContactForm(request.POST if request.method == "POST" else None, instance=contact)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in services.CONTACT_FIELDS}
        try:
            services.aftercare_contact_save(request=request, data=data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Aftercare contact saved.")
            return redirect("aftercare_contact")
    return render(request, "aftercare/contact.html", {"form": form}, status=400 if form.errors else 200)
