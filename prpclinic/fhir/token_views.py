"""Staff pages of the FHIR interface (/interop/): tokens, bulk exports, a patient's own export. Thin views."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from prpclinic.clinics.access import clinic_view
from prpclinic.clinics.models import Membership
from prpclinic.fhir import bulk
from prpclinic.fhir.auth import issue_token, revoke_token
from prpclinic.fhir.models import SCOPES, ExportJob, FhirToken
from prpclinic.fhir.patient_export import patient_export
from prpclinic.patients.models import Patient
from prpclinic.patients.selectors import patient_get

LIST_LIMIT = 100
# issue_token's ValidationError keys -> the token form's fields.
SERVICE_FIELDS = {"patient": "patient_mrn", "expires_at": "expires_on"}


class TokenForm(forms.Form):
    label = forms.CharField(max_length=100, help_text="Who or what will use it, e.g. “Hospital EHR”.")
    user = forms.ModelChoiceField(
        queryset=Membership.objects.none(),
        required=False,
        label="Staff member",
        help_text="Leave empty for a system client; a staff member's token stops when their place in the clinic ends.",
    )
    scopes = forms.MultipleChoiceField(choices=list(SCOPES.items()), widget=forms.CheckboxSelectMultiple)
    expires_on = forms.DateField(
        required=False, label="Expires on", widget=forms.DateInput(attrs={"type": "date"}), help_text="Optional."
    )
    # By MRN in the POST body: a patient's id or name never goes into a URL or the list of tokens.
    patient_mrn = forms.CharField(
        required=False,
        max_length=20,
        label="Limit to one patient (MRN)",
        help_text="Optional: the token then reads only this patient's record (scope patient/*.read only), "
        "e.g. for the patient's own app.",
    )

    def __init__(self, *args: Any, clinic: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        self.fields["user"].queryset = (  # type: ignore[attr-defined]
            Membership.objects.filter(clinic=clinic, is_active=True).select_related("user").order_by("user__email")
        )
        self.fields["user"].label_from_instance = lambda m: f"{m.user.get_full_name() or m.user.email} ({m.role})"  # type: ignore[attr-defined]

    def clean_patient_mrn(self) -> Patient | None:
        mrn = self.cleaned_data["patient_mrn"].strip()
        if not mrn:
            return None
        patient = Patient.objects.filter(clinic=self.clinic, mrn=mrn).first()
        if patient is None:
            raise ValidationError("No patient of this clinic has this MRN.")
        return patient

    def clean_expires_on(self) -> dt.date | None:
        value = self.cleaned_data["expires_on"]
        if value is not None and value <= timezone.localdate():
            raise ValidationError("The expiry must be after today.")
        return value


def initials(patient: Patient) -> str:
    """“A. B.”: enough, with the MRN, for the admin to see the right patient, without writing the name out."""
    return f"{patient.given_name[:1]}. {patient.family_name[:1]}.".upper()


def _token_page(
    request: HttpRequest, form: TokenForm, new_token: FhirToken | None = None, raw: str | None = None, status: int = 200
) -> HttpResponse:
    tokens = list(
        FhirToken.objects.filter(clinic=request.clinic).select_related("user", "created_by", "patient")[:LIST_LIMIT]  # type: ignore[attr-defined]
    )
    now = timezone.now()
    rows = [(token, token.state(now)) for token in tokens]
    context = {
        "form": form,
        "rows": rows,
        "new_token": raw,
        "new_token_patient": (
            f"{initials(new_token.patient)} (MRN {new_token.patient.mrn})"
            if new_token is not None and new_token.patient is not None
            else None
        ),
        "scopes": SCOPES,
    }
    return render(request, "fhir/tokens.html", context, status=status)


@clinic_view("fhir.tokens")
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST if request.method == "POST" else None, clinic=request.clinic)  # type: ignore[attr-defined]
    if request.method == "POST" and form.is_valid():
        expires_on = form.cleaned_data["expires_on"]
        expires_at = (
            timezone.make_aware(dt.datetime.combine(expires_on, dt.time.min)) if expires_on is not None else None
        )
        membership = form.cleaned_data["user"]
        try:
            token, raw = issue_token(
                request=request,
                label=form.cleaned_data["label"],
                scopes=form.cleaned_data["scopes"],
                user=membership.user if membership is not None else None,
                expires_at=expires_at,
                patient=form.cleaned_data["patient_mrn"],
            )
        except ValidationError as exc:
            # The service names model fields; show each message next to the form field it is about.
            if hasattr(exc, "error_dict"):
                exc = ValidationError(
                    {SERVICE_FIELDS.get(name, name): errors for name, errors in exc.error_dict.items()}
                )
            form.add_error(None, exc)
        else:
            # Shown on this response only: it is stored hashed and cannot be shown again.
            return _token_page(request, TokenForm(clinic=request.clinic), new_token=token, raw=raw, status=201)  # type: ignore[attr-defined]
    return _token_page(request, form, status=400 if form.errors else 200)


@clinic_view("fhir.tokens")
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = FhirToken.objects.filter(clinic=request.clinic, pk=token_id).first()  # type: ignore[attr-defined]
    if token is None:
        raise Http404("No such token in this clinic.")
    revoke_token(request=request, token=token)
    messages.success(request, f"Token “{token.label}” revoked: it no longer opens the API.")
    return redirect("fhir_tokens")


class ExportForm(forms.Form):
    types = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Resource types", help_text="None ticked: all."
    )
    since = forms.DateField(
        required=False,
        label="Changed since",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional: only resources changed after this day (types without a change time are exported whole).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from prpclinic.fhir import registry

        super().__init__(*args, **kwargs)
        self.fields["types"].choices = [(d.type_name, d.type_name) for d in registry.all_types()]  # type: ignore[attr-defined]


@clinic_view("data.export")
@require_http_methods(["GET", "POST"])
def export_list(request: HttpRequest) -> HttpResponse:
    form = ExportForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        since_day = form.cleaned_data["since"]
        since = timezone.make_aware(dt.datetime.combine(since_day, dt.time.min)) if since_day else None
        job = bulk.start_export(
            clinic=request.clinic,  # type: ignore[attr-defined]
            request_url=request.build_absolute_uri("/fhir/R4/$export"),
            request=request,
            types=sorted(form.cleaned_data["types"]),
            since=since,
            requested_by=request.user,
        )
        messages.success(request, f"Export {job.pk} started.")
        return redirect("fhir_exports")
    jobs = list(ExportJob.objects.filter(clinic=request.clinic).select_related("requested_by", "token")[:LIST_LIMIT])  # type: ignore[attr-defined]
    return render(request, "fhir/exports.html", {"form": form, "jobs": jobs}, status=400 if form.errors else 200)


@clinic_view("data.export")
@require_GET
def export_download(request: HttpRequest, job_id: int, index: int) -> HttpResponse:
    job = ExportJob.objects.filter(clinic=request.clinic, pk=job_id).first()  # type: ignore[attr-defined]
    if job is None or job.status != "done" or not 0 <= index < len(job.output):
        raise Http404("No such export file.")
    return bulk.file_response(job, index)


@clinic_view("patient.export")
@require_POST
def patient_export_download(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_get(request=request, patient_id=patient_id)
    export = patient_export(request=request, patient=patient, base_url=request.build_absolute_uri("/fhir/R4"))
    response = FileResponse(export.file, content_type="application/zip", as_attachment=True, filename=export.filename)
    response["Cache-Control"] = "no-store"
    return response
