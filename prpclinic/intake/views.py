"""Screening pages for staff: questionnaire, result, physician review, review list, settings, inbox.

Thin: forms in, services and selectors out. Patient data never goes into a URL: pages take ids,
and the inbox's patient search is a POST.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from prpclinic.audit.services import audit_record
from prpclinic.clinics.access import can, clinic_view
from prpclinic.forms import add_service_errors
from prpclinic.intake import rules, selectors, services
from prpclinic.intake.forms import DiscardForm, FileForm, QuestionnaireForm, ReviewForm, SearchForm, SettingsForm
from prpclinic.intake.models import ReviewStatus, Screening, Submission
from prpclinic.patients.models import Patient
from prpclinic.patients.selectors import patient_get, patient_search
from prpclinic.visits.models import TreatmentKind


def _kind(kind: str) -> str:
    if kind not in TreatmentKind.values:
        raise Http404("No such treatment.")
    return kind


@clinic_view("screening.record")
@require_http_methods(["GET", "POST"])
def screening_new(request: HttpRequest, patient_id: int, kind: str) -> HttpResponse:
    patient = patient_get(request=request, patient_id=patient_id)
    treatment = _kind(kind)
    form = QuestionnaireForm(request.POST if request.method == "POST" else None, treatment=treatment)
    if request.method == "POST" and form.is_valid():
        try:
            screening = services.screening_record(
                request=request, patient_id=patient.pk, treatment=treatment, answers=form.answers()
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Screening recorded: {screening.get_result_display()}.")
            return redirect("intake_detail", screening_id=screening.pk)
    return render(
        request,
        "intake/new.html",
        {"patient": patient, "form": form, "treatment_label": TreatmentKind(treatment).label},
        status=400 if form.errors else 200,
    )


@clinic_view("patient.view_clinical")
@require_http_methods(["GET"])
def screening_detail(request: HttpRequest, screening_id: int) -> HttpResponse:
    """The result with each fired rule and its source. Audited as a read of clinical data."""
    screening = selectors.screening_get(request=request, screening_id=screening_id)
    audit_record(action="screening.view", request=request, obj=screening)
    return render(request, "intake/detail.html", _detail_context(request, screening, ReviewForm()))


def _answered(treatment: str, answers: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(group, question, answer as shown) for each question of the treatment."""
    answered = []
    for q in rules.questions_for(treatment):
        value = answers.get(q.key)
        if q.kind == "yes_no":
            shown = "—" if value is None else ("Yes" if value else "No")
        elif q.kind == "lab":
            shown = f"{value['value']} {q.unit} (taken {value['date']})" if value else "—"
        else:
            shown = value or "—"
        answered.append((q.group, q.text, shown))
    return answered


def _detail_context(request: HttpRequest, screening: Screening, form: ReviewForm) -> dict[str, Any]:
    return {
        "screening": screening,
        "patient": screening.patient,
        "answered": _answered(screening.treatment, screening.answers),
        "form": form,
        "can_review": can(request, "screening.review")
        and screening.review_status == ReviewStatus.PENDING
        and not screening.is_expired,
    }


@clinic_view("screening.review")
@require_http_methods(["GET", "POST"])
def screening_review(request: HttpRequest, screening_id: int) -> HttpResponse:
    screening = selectors.screening_get(request=request, screening_id=screening_id)
    form = ReviewForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.screening_review(
                request=request,
                screening_id=screening.pk,
                decision=form.cleaned_data["decision"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Review recorded.")
            return redirect("intake_detail", screening_id=screening.pk)
    if request.method == "GET":
        return redirect("intake_detail", screening_id=screening.pk)
    return render(request, "intake/detail.html", _detail_context(request, screening, form), status=400)


@clinic_view("screening.review")
@require_http_methods(["GET"])
def review_list(request: HttpRequest) -> HttpResponse:
    queue = selectors.review_queue(clinic_id=request.clinic.pk)
    return render(request, "intake/review_list.html", {"queue": queue})


@clinic_view("screening.settings")
@require_http_methods(["GET", "POST"])
def screening_settings(request: HttpRequest) -> HttpResponse:
    current = selectors.screening_settings(clinic_id=request.clinic.pk)
    initial = {"validity_days": current.validity_days} | {
        f"rule__{key}": value for key, value in (current.overrides or {}).items()
    }
    form = SettingsForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.screening_settings_update(
                request=request, validity_days=form.cleaned_data["validity_days"], overrides=form.overrides()
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Screening settings saved.")
            return redirect("intake_settings")
    return render(request, "intake/settings.html", {"form": form}, status=400 if form.errors else 200)


@clinic_view("screening.intake")
@require_http_methods(["GET"])
def inbox(request: HttpRequest) -> HttpResponse:
    return render(request, "intake/inbox.html", {"pending": selectors.submission_inbox(clinic_id=request.clinic.pk)})


@clinic_view("screening.intake")
@require_http_methods(["GET", "POST"])
def submission_detail(request: HttpRequest, submission_id: int) -> HttpResponse:
    """A questionnaire with the patients it may belong to; POST searches (names stay out of URLs)."""
    submission = selectors.submission_get(request=request, submission_id=submission_id)
    audit_record(action="screening.questionnaire_view", request=request, obj=submission)
    search = SearchForm(request.POST if request.method == "POST" else None)
    results = None
    if request.method == "POST" and search.is_valid():
        results = patient_search(clinic_id=request.clinic.pk, query=search.cleaned_data["q"])
    return _submission_page(request, submission, search=search, results=results)


def _submission_page(
    request: HttpRequest,
    submission: Submission,
    *,
    search: SearchForm | None = None,
    results: list[Patient] | None = None,
    file_form: FileForm | None = None,
    discard_form: DiscardForm | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "intake/submission.html",
        {
            "submission": submission,
            "answered": _answered(submission.treatment, submission.answers),
            "candidates": selectors.submission_candidates(clinic_id=request.clinic.pk, submission=submission),
            "search": search or SearchForm(),
            "results": results,
            "file_form": file_form or FileForm(),
            "discard_form": discard_form or DiscardForm(),
        },
        status=status,
    )


@clinic_view("screening.intake")
@require_POST
def submission_file(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = selectors.submission_get(request=request, submission_id=submission_id)
    form = FileForm(request.POST)
    if form.is_valid():
        choice = form.cleaned_data["patient"]
        try:
            screening = services.submission_file(
                request=request,
                submission_id=submission.pk,
                patient_id=None if choice == "new" else int(choice),
                register=choice == "new",
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Questionnaire filed in the chart.")
            return redirect("intake_detail", screening_id=screening.pk)
    return _submission_page(request, submission, file_form=form, status=400)


@clinic_view("screening.intake")
@require_POST
def submission_discard(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = selectors.submission_get(request=request, submission_id=submission_id)
    form = DiscardForm(request.POST)
    if form.is_valid():
        try:
            services.submission_discard(
                request=request, submission_id=submission.pk, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Questionnaire set aside (kept on record).")
            return redirect("intake_inbox")
    return _submission_page(request, submission, discard_form=form, status=400)
