"""Consent pages: a patient's consents, signing on the tablet, the record, its PDF, revocation; templates.

Thin: forms in, services and selectors out. No patient data in URLs (ids only).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from prpclinic.audit.services import audit_record
from prpclinic.clinics.access import clinic_view
from prpclinic.consents import selectors, services
from prpclinic.consents.defaults import headings_for
from prpclinic.consents.document import clinic_time
from prpclinic.consents.forms import RevokeForm, SettingsForm, SignForm, TemplateForm
from prpclinic.consents.models import ConsentKind, SignedConsent
from prpclinic.consents.signature import data_url
from prpclinic.forms import add_service_errors
from prpclinic.patients.selectors import patient_get


def _kind(kind: str) -> str:
    if kind not in ConsentKind.values:
        raise Http404("No such consent form.")
    return kind


@clinic_view("consent.view")
@require_GET
def patient_consents(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Every consent of the patient, newest first, and each form's status. Audited as a chart read."""
    patient = patient_get(request=request, patient_id=patient_id)
    consents = selectors.patient_consents(clinic_id=request.clinic.pk, patient_id=patient.pk)
    audit_record(action="consent.list", request=request, obj=patient)
    return render(
        request,
        "consents/patient.html",
        {
            "patient": patient,
            "consents": consents,
            "overview": selectors.consent_overview(clinic_id=request.clinic.pk, patient_id=patient.pk),
        },
    )


@clinic_view("consent.sign")
@require_http_methods(["GET", "POST"])
def consent_sign(request: HttpRequest, patient_id: int, kind: str) -> HttpResponse:
    """The tablet page: the form's text, who signs, the drawn signature(s). Refused input: 400, nothing saved."""
    kind = _kind(kind)
    patient = patient_get(request=request, patient_id=patient_id)
    template = selectors.current_template(clinic_id=request.clinic.pk, kind=kind)
    rules = selectors.settings_for(clinic_id=request.clinic.pk)
    form = SignForm(
        request.POST if request.method == "POST" else None,
        initial={"template_id": template.pk},
        photography=kind == ConsentKind.PHOTOGRAPHY,
        witness=rules.witness_required,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            consent = services.consent_sign(
                request=request,
                patient_id=patient.pk,
                kind=kind,
                template_id=data["template_id"],
                signer_name=data["signer_name"],
                signer_relationship=data["signer_relationship"],
                signature=data["signature"],
                witness_name=data["witness_name"],
                witness_signature=data["witness_signature"],
                photo_uses=data.get("photo_uses", ()),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{ConsentKind(kind).label}: consent signed and stored.")
            return redirect("consent_detail", consent_id=consent.pk)
    if not patient.is_active and not form.errors:
        form.add_error(None, "This patient's record is deactivated.")
    headings = headings_for(kind)
    return render(
        request,
        "consents/sign.html",
        {
            "patient": patient,
            "kind": kind,
            "template": template,
            "sections": [(headings[name], getattr(template, name)) for name in template.SECTIONS],
            "form": form,
            "witness_required": rules.witness_required,
        },
        status=400 if form.errors and request.method == "POST" else 200,
    )


@clinic_view("consent.view")
@require_GET
def consent_detail(request: HttpRequest, consent_id: int) -> HttpResponse:
    """The signed record as signed: version, signer, meaning, times, signatures; revocation if any."""
    consent = selectors.consent_get(request=request, consent_id=consent_id)
    audit_record(action="consent.view", request=request, obj=consent, changes={"patient": consent.patient_id})
    return render(request, "consents/detail.html", _detail_context(consent, RevokeForm()))


def _detail_context(consent: SignedConsent, revoke_form: RevokeForm) -> dict[str, object]:
    tz_name = consent.signed_timezone
    revocation = consent.revocation_or_none()
    return {
        "consent": consent,
        "patient": consent.patient,
        "revocation": revocation,
        "signed_at": clinic_time(consent.signed_at, tz_name),
        "expires_at": clinic_time(consent.expires_at, tz_name),
        "revoked_at": clinic_time(revocation.revoked_at, tz_name) if revocation else "",
        "signature": data_url(consent.signature_png),
        "witness_signature": data_url(consent.witness_signature_png) if consent.witness_signature_png else "",
        "revoke_form": revoke_form,
    }


@clinic_view("consent.view")
@require_GET
def consent_pdf(request: HttpRequest, consent_id: int) -> HttpResponse:
    """The frozen PDF, re-checked against its SHA-256; never cached. Each download is audited."""
    try:
        consent, pdf = services.consent_document_open(request=request, consent_id=consent_id)
    except services.DocumentMismatch:
        response = HttpResponse(
            "This signed document does not match the fingerprint taken when it was signed (it is missing or was "
            "altered). It is not shown. The event was recorded; tell the clinic's administrator.",
            status=409,
            content_type="text/plain; charset=utf-8",
        )
    else:
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="consent-{consent.pk}.pdf"'
    response["Cache-Control"] = "no-store"
    return response


@clinic_view("consent.sign")
@require_POST
def consent_revoke(request: HttpRequest, consent_id: int) -> HttpResponse:
    consent = selectors.consent_get(request=request, consent_id=consent_id)  # another clinic's: 404 first
    form = RevokeForm(request.POST)
    if form.is_valid():
        try:
            services.consent_revoke(request=request, consent_id=consent.pk, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Revocation recorded. The consent no longer allows treatment or photo use.")
            return redirect("consent_detail", consent_id=consent.pk)
    return render(request, "consents/detail.html", _detail_context(consent, form), status=400)


@clinic_view("consent.view")
@require_GET
def template_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "consents/templates.html",
        {
            "templates": selectors.current_templates(clinic_id=request.clinic.pk),
            "rules": selectors.settings_for(clinic_id=request.clinic.pk),
        },
    )


@clinic_view("consent.view")
@require_GET
def template_detail(request: HttpRequest, template_id: int) -> HttpResponse:
    """One version as written (the text a past signer read), and the form's version history."""
    template = selectors.template_get(request=request, template_id=template_id)
    headings = headings_for(template.kind)
    return render(
        request,
        "consents/template.html",
        {
            "template": template,
            "sections": [(headings[name], getattr(template, name)) for name in template.SECTIONS],
            "versions": selectors.template_versions(clinic_id=request.clinic.pk, kind=template.kind),
        },
    )


@clinic_view("consent.templates")
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, kind: str) -> HttpResponse:
    """Edit a form's text: saving writes the next version; signed consents keep theirs."""
    kind = _kind(kind)
    current = selectors.current_template(clinic_id=request.clinic.pk, kind=kind)
    form = TemplateForm(
        request.POST if request.method == "POST" else None, instance=current, headings=headings_for(kind)
    )
    if request.method == "POST" and form.is_valid():
        try:
            new = services.consent_template_revise(request=request, kind=kind, data=form.writable_data())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if new.pk == current.pk:
                messages.info(request, "Nothing changed; no new version was written.")
            else:
                messages.success(request, f"{new.title}: version {new.version} is now the one signed.")
            return redirect("consent_template_detail", template_id=new.pk)
    return render(
        request,
        "consents/template_edit.html",
        {"form": form, "current": current},
        status=400 if form.errors else 200,
    )


@clinic_view("consent.templates")
@require_http_methods(["GET", "POST"])
def settings_edit(request: HttpRequest) -> HttpResponse:
    rules = selectors.settings_for(clinic_id=request.clinic.pk)
    form = SettingsForm(request.POST if request.method == "POST" else None, instance=rules)
    if request.method == "POST" and form.is_valid():
        services.consent_settings_update(
            request=request,
            witness_required=form.cleaned_data["witness_required"],
            validity_days=form.cleaned_data["validity_days"],
        )
        messages.success(request, "Consent settings saved.")
        return redirect("consent_templates")
    return render(request, "consents/settings.html", {"form": form}, status=400 if form.errors else 200)
