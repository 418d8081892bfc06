"""Patient pages: search, register, chart, edit, deactivate, merge. Thin: forms in, services out."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from prpclinic.aftercare.timeline import ChartReads, patient_timeline
from prpclinic.audit.services import audit_record
from prpclinic.clinics.access import can, clinic_view
from prpclinic.links import address
from prpclinic.patients import selectors, services
from prpclinic.patients.forms import IdentifierForm, MergeForm, PatientForm, ReasonForm
from prpclinic.visits.models import TreatmentKind

CHART_VISITS = 20  # rows of the chart's visits table; the timeline lists more


@clinic_view("patient.view")
@require_http_methods(["GET"])
def patient_list(request: HttpRequest) -> HttpResponse:
    recent = selectors.patients_recent(clinic_id=request.clinic.pk)
    return render(request, "patients/list.html", {"recent": recent})


@clinic_view("patient.view")
@require_POST
def patient_search(request: HttpRequest) -> HttpResponse:
    """As-you-type results. POST, so that names typed never end up in a URL or access log."""
    query = request.POST.get("q", "")[:100]
    include_inactive = request.POST.get("inactive") == "1"
    results = selectors.patient_search(
        clinic_id=request.clinic.pk,
        query=query,
        include_inactive=include_inactive,
        fields=selectors.SEARCH_ROW_FIELDS,
    )
    exclude = request.POST.get("exclude", "")
    if exclude.isdigit():
        results = [p for p in results if p.pk != int(exclude)]
    template = "patients/list.html#results" if request.htmx else "patients/list.html"
    mode = "merge" if request.POST.get("mode") == "merge" else "open"
    for patient in results:
        # From the cached pattern (prpclinic.links): a reverse() per row cost ~0.5 ms for 25 rows.
        patient.chart_address = address("patient_chart", patient.pk)
    context = {"results": results, "query": query, "searched": True, "mode": mode}
    return render(request, template, context)


@clinic_view("patient.create")
@require_http_methods(["GET", "POST"])
def patient_create(request: HttpRequest) -> HttpResponse:
    clinical = can(request, "patient.edit_clinical")
    form = PatientForm(request.POST if request.method == "POST" else None, clinical=clinical, creating=True)
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.patient_create(request=request, data=form.writable_data())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{patient.full_name} registered as {patient.mrn}.")
            return redirect("patient_chart", patient_id=patient.pk)
    return render(request, "patients/form.html", {"form": form, "creating": True}, status=400 if form.errors else 200)


@clinic_view("patient.view")
@require_http_methods(["GET"])
def patient_chart(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The chart. Every opening is audited (who saw whose record, when, from where).

    One timeline merges each app's items (plans, screenings, consents, visits, PRP products,
    adverse events, aftercare), newest first and bounded; each app's panel adds its buttons.
    """
    patient = selectors.patient_get(request=request, patient_id=patient_id)
    audit_record(action="patient.view", request=request, obj=patient)
    history = selectors.patient_history(clinic_id=request.clinic.pk, patient_id=patient.pk)
    # Each table the panels and the timeline both show is read once, for both (see ChartReads).
    reads = ChartReads(clinic_id=request.clinic.pk, patient_id=patient.pk)
    timeline = patient_timeline(clinic_id=request.clinic.pk, patient_id=patient.pk, reads=reads)
    return render(
        request,
        "patients/chart.html",
        {
            "patient": patient,
            "identifiers": selectors.patient_identifiers(clinic_id=request.clinic.pk, patient_id=patient.pk),
            "history": history,
            "visits": reads.visits[:CHART_VISITS],
            "reads": reads,
            "timeline": timeline,
            "treatments": TreatmentKind.choices,
            "clinical": can(request, "patient.view_clinical"),
            "reason_form": ReasonForm(),
        },
    )


@clinic_view("patient.edit")
@require_http_methods(["GET", "POST"])
def patient_edit(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = selectors.patient_get(request=request, patient_id=patient_id)
    clinical = can(request, "patient.edit_clinical")
    form = PatientForm(request.POST if request.method == "POST" else None, instance=patient, clinical=clinical)
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_update(request=request, patient_id=patient.pk, data=form.writable_data())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Changes saved.")
            return redirect("patient_chart", patient_id=patient.pk)
    # The form edited the instance in memory; show the saved record's name in the heading.
    saved = selectors.patient_get(request=request, patient_id=patient_id)
    return render(request, "patients/form.html", {"form": form, "patient": saved}, status=400 if form.errors else 200)


@clinic_view("patient.deactivate")
@require_POST
def patient_deactivate(request: HttpRequest, patient_id: int) -> HttpResponse:
    return _set_active(request, patient_id, active=False)


@clinic_view("patient.deactivate")
@require_POST
def patient_reactivate(request: HttpRequest, patient_id: int) -> HttpResponse:
    return _set_active(request, patient_id, active=True)


def _set_active(request: HttpRequest, patient_id: int, *, active: bool) -> HttpResponse:
    selectors.patient_get(request=request, patient_id=patient_id)  # another clinic's: 404 first
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason to " + ("reactivate." if active else "deactivate."))
        return redirect("patient_chart", patient_id=patient_id)
    try:
        services.patient_set_active(
            request=request, patient_id=patient_id, active=active, reason=form.cleaned_data["reason"]
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Record reactivated." if active else "Record deactivated.")
    return redirect("patient_chart", patient_id=patient_id)


@clinic_view("patient.merge")
@require_http_methods(["GET", "POST"])
def patient_merge(request: HttpRequest, patient_id: int) -> HttpResponse:
    duplicate = selectors.patient_get(request=request, patient_id=patient_id)
    form = MergeForm(request.POST if request.method == "POST" else None)
    survivor = None
    if request.method == "POST" and form.is_valid():
        try:
            survivor = services.patient_merge(
                request=request,
                duplicate_id=duplicate.pk,
                survivor_id=form.cleaned_data["survivor"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Record {duplicate.mrn} merged into {survivor.mrn}.")
            return redirect("patient_chart", patient_id=survivor.pk)
    return render(
        request, "patients/merge.html", {"duplicate": duplicate, "form": form}, status=400 if form.errors else 200
    )


@clinic_view("patient.edit")
@require_http_methods(["GET", "POST"])
def patient_identifiers(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The patient's numbers in other systems; staff add one (a hospital's MRN on a referral letter)."""
    patient = selectors.patient_get(request=request, patient_id=patient_id)
    form = IdentifierForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            identifier = services.identifier_add(request=request, patient_id=patient.pk, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Number {identifier.value} added to the record.")
            return redirect("patient_chart", patient_id=patient.pk)
    identifiers = selectors.patient_identifier_list(clinic_id=request.clinic.pk, patient_id=patient.pk)
    return render(
        request,
        "patients/identifiers.html",
        {"patient": patient, "identifiers": identifiers, "form": form},
        status=400 if form.errors else 200,
    )
