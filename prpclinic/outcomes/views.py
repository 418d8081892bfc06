"""Outcome pages: photos, comparison, scale scores, progress charts. Thin: forms in, services out."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from prpclinic.audit.services import audit_record
from prpclinic.clinics.access import clinic_view
from prpclinic.outcomes import analytics, scales, selectors, services
from prpclinic.outcomes.forms import AnalyticsForm, PhotoForm, ReasonForm, ScoreForm
from prpclinic.outcomes.images import outline
from prpclinic.outcomes.models import PhotoView
from prpclinic.outcomes.stats import Summary
from prpclinic.outcomes.uploads import PhotoSizeLimit


def _int_or_none(value: object) -> int | None:
    return int(value) if value not in (None, "") else None  # type: ignore[call-overload]


def _audit_page(request: HttpRequest, action: str, patient: object, **changes: object) -> None:
    # Photos and scores are clinical data: opening one of these pages is a chart view.
    audit_record(action=action, request=request, obj=patient, changes=changes or None)  # type: ignore[arg-type]


@clinic_view("outcome.view")
@require_http_methods(["GET"])
def outcome_patient(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = selectors.outcome_patient(request=request, patient_id=patient_id)
    _audit_page(request, "outcome.patient.view", patient)
    scores = selectors.patient_scores(clinic_id=request.clinic.pk, patient_id=patient.pk)
    rows = [{"score": s, "shown": selectors.score_display(s), "scale": scales.SCALES.get(s.scale)} for s in scores]
    return render(
        request,
        "outcomes/patient.html",
        {"patient": patient, "rows": list(reversed(rows)), "scales": scales.SCALES.values()},
    )


@clinic_view("outcome.view")
@require_http_methods(["GET"])
def outcome_photos(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = selectors.outcome_patient(request=request, patient_id=patient_id)
    _audit_page(request, "outcome.photos.view", patient)
    photos = selectors.patient_photos(clinic_id=request.clinic.pk, patient_id=patient.pk)
    return render(
        request,
        "outcomes/photos.html",
        {
            "patient": patient,
            "groups": selectors.photos_by_view(photos),
            "cut": len(photos) >= selectors.PHOTO_LIMIT,
            "withdrawn": selectors.withdrawn_photos(clinic_id=request.clinic.pk, patient_id=patient.pk),
            "reason_form": ReasonForm(),
            "consent_uses": services.allowed_photo_uses(clinic_id=request.clinic.pk, patient_id=patient.pk),
        },
    )


@clinic_view("outcome.record")
@csrf_exempt  # only so that the size limit is in place before the body is read: CSRF is checked just below
@require_http_methods(["GET", "POST"])
def outcome_photo_upload(request: HttpRequest, patient_id: int) -> HttpResponse:
    limit = PhotoSizeLimit(request, max_bytes=services.photo_limits()[0])
    request.upload_handlers.insert(0, limit)
    return _photo_upload(request, patient_id=patient_id, limit=limit)


@csrf_protect
def _photo_upload(request: HttpRequest, *, patient_id: int, limit: PhotoSizeLimit) -> HttpResponse:
    patient = selectors.outcome_patient(request=request, patient_id=patient_id)
    visits = selectors.patient_visits(clinic_id=request.clinic.pk, patient_id=patient.pk)
    form = PhotoForm(request.POST if request.method == "POST" else None, request.FILES or None, visits=visits)
    max_bytes = limit.max_bytes
    if request.method == "POST" and limit.too_large:
        # The file was dropped while it arrived; say why rather than "this field is required".
        form.is_valid()
        form.errors.pop("image", None)
        form.add_error("image", f"The file is too large: at most {max_bytes / (1024 * 1024):.3g} MB.")
    elif request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["image"]
        try:
            if upload.size is not None and upload.size > max_bytes:
                raise ValidationError({"image": f"The file is too large: at most {max_bytes / (1024 * 1024):.3g} MB."})
            photo = services.photo_upload(
                request=request,
                patient_id=patient.pk,
                raw=upload.read(max_bytes + 1),
                view=form.cleaned_data["view"],
                visit_id=_int_or_none(form.cleaned_data["visit"]),
                session_number=form.cleaned_data["session_number"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Photo saved: {photo.get_view_display()}.")
            if request.POST.get("next") == "another":
                return redirect("outcome_photo_upload", patient_id=patient.pk)
            return redirect("outcome_photos", patient_id=patient.pk)
    form.fields["image"].widget.attrs["data-max-bytes"] = str(max_bytes)
    guides = selectors.guide_photos(clinic_id=request.clinic.pk, patient_id=patient.pk)
    return render(
        request,
        "outcomes/photo_upload.html",
        {
            "patient": patient,
            "form": form,
            "guides": [(view, label, guides.get(view)) for view, label in PhotoView.choices],
            "consent_uses": services.allowed_photo_uses(clinic_id=request.clinic.pk, patient_id=patient.pk),
        },
        status=400 if form.errors else 200,
    )


@clinic_view("outcome.view")
@require_http_methods(["GET"])
def outcome_photo_file(request: HttpRequest, photo_id: int, size: str) -> HttpResponse:
    """The image itself, for this clinic's staff only; never cached by the browser or a proxy.

    ``outline`` is the photo's edges as a transparent PNG, made on request: the camera's framing guide.
    """
    photo = selectors.photo_get(clinic_id=request.clinic.pk, photo_id=photo_id)
    name = photo.thumb_name if size == "thumb" else photo.file_name
    try:
        handle = default_storage.open(name, "rb")
    except FileNotFoundError:
        raise Http404("The photo's file is missing.") from None
    if size == "outline":
        with handle:
            response: HttpResponse = HttpResponse(outline(handle.read()), content_type="image/png")
    else:
        response = FileResponse(handle, content_type=photo.content_type if size == "full" else "image/jpeg")
    response["Cache-Control"] = "no-store, private"
    response["Content-Disposition"] = "inline"
    return response


@clinic_view("outcome.record")
@require_POST
def outcome_photo_withdraw(request: HttpRequest, photo_id: int) -> HttpResponse:
    photo = selectors.photo_get(clinic_id=request.clinic.pk, photo_id=photo_id, active_only=False)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the photo is withdrawn.")
        return redirect("outcome_photos", patient_id=photo.patient_id)
    try:
        services.photo_withdraw(request=request, photo_id=photo.pk, reason=form.cleaned_data["reason"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Photo withdrawn: it is hidden from every page and kept in the record.")
    return redirect("outcome_photos", patient_id=photo.patient_id)


@clinic_view("outcome.record")
@require_http_methods(["GET", "POST"])
def outcome_score_record(request: HttpRequest, patient_id: int, scale_code: str) -> HttpResponse:
    patient = selectors.outcome_patient(request=request, patient_id=patient_id)
    scale = scales.SCALES.get(scale_code)
    if scale is None:
        raise Http404("No such scale.")
    visits = selectors.patient_visits(clinic_id=request.clinic.pk, patient_id=patient.pk)
    form = ScoreForm(request.POST if request.method == "POST" else None, scale=scale, visits=visits)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.score_record(
                request=request,
                patient_id=patient.pk,
                scale_code=scale.code,
                value=data["value"],
                recorded_on=data["recorded_on"],
                rater=data["rater"],
                variant=data.get("variant", ""),
                visit_id=_int_or_none(data["visit"]),
                session_number=data["session_number"],
                area_cm2=data.get("area_cm2"),
                site=data["site"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{scale.name} recorded.")
            return redirect("outcome_patient", patient_id=patient.pk)
    return render(
        request,
        "outcomes/score_form.html",
        {"patient": patient, "scale": scale, "form": form},
        status=400 if form.errors else 200,
    )


@clinic_view("outcome.record")
@require_http_methods(["GET", "POST"])
def outcome_score_correct(request: HttpRequest, score_id: int) -> HttpResponse:
    old = selectors.score_get(clinic_id=request.clinic.pk, score_id=score_id)
    scale = scales.scale_get(old.scale)
    initial = {
        "value": old.level or (f"{old.value.normalize():f}" if old.value is not None else ""),
        "variant": old.variant,
        "rater": old.rater,
        "area_cm2": old.area_cm2,
        "site": old.site,
        "recorded_on": old.recorded_on,
    }
    form = ScoreForm(
        request.POST if request.method == "POST" else None, scale=scale, visits=[], correcting=True, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.score_correct(
                request=request,
                score_id=old.pk,
                value=data["value"],
                reason=data["reason"],
                recorded_on=data["recorded_on"],
                variant=data.get("variant"),
                rater=data["rater"],
                area_cm2=data.get("area_cm2"),
                site=data["site"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{scale.name} corrected; the earlier value is kept as superseded.")
            return redirect("outcome_patient", patient_id=old.patient_id)
    return render(
        request,
        "outcomes/score_form.html",
        {"patient": old.patient, "scale": scale, "form": form, "old": old, "old_shown": selectors.score_display(old)},
        status=400 if form.errors else 200,
    )


@clinic_view("outcome.view")
@require_http_methods(["GET"])
def outcome_progress(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = selectors.outcome_patient(request=request, patient_id=patient_id)
    _audit_page(request, "outcome.progress.view", patient)
    scores = selectors.patient_scores(clinic_id=request.clinic.pk, patient_id=patient.pk)
    visits = selectors.patient_visits(clinic_id=request.clinic.pk, patient_id=patient.pk)
    series = selectors.progress_series(scores=scores, visits=visits)
    plans = selectors.patient_plans(clinic_id=request.clinic.pk, patient_id=patient.pk)
    charts = [
        {
            "series": s,
            # Built by charts.svg_line_chart, which escapes every text it prints.
            "svg": mark_safe(s.svg),
            "rows": [(score, selectors.score_display(score)) for score in s.scores],
        }
        for s in series
    ]
    return render(
        request, "outcomes/progress.html", {"patient": patient, "charts": charts, "visits": visits, "plans": plans}
    )


@clinic_view("outcome.view")
@require_http_methods(["GET"])
def outcome_compare(request: HttpRequest, patient_id: int) -> HttpResponse:
    """One view across sessions: all photos side by side, and two of them under a slider or overlay."""
    patient = selectors.outcome_patient(request=request, patient_id=patient_id)
    photos = selectors.patient_photos(clinic_id=request.clinic.pk, patient_id=patient.pk)
    groups = selectors.photos_by_view(photos)
    view = request.GET.get("view", "")
    group = next((g for g in groups if g.view == view), groups[0] if groups else None)
    before = after = None
    if group is not None:
        by_id = {str(p.pk): p for p in group.photos}
        before = by_id.get(request.GET.get("a", ""), group.photos[0])
        after = by_id.get(request.GET.get("b", ""), group.photos[-1])
    _audit_page(
        request,
        "outcome.compare.view",
        patient,
        view=group.view if group else "",
        photos=[p.pk for p in (before, after) if p is not None],
    )
    return render(
        request,
        "outcomes/compare.html",
        {"patient": patient, "groups": groups, "group": group, "before": before, "after": after},
    )


def _analysis(request: HttpRequest) -> tuple[AnalyticsForm, analytics.Analysis | None]:
    data = None
    if "scale" in request.GET:
        # Without cut-offs of its own the analysis uses the defaults, and the field shows them.
        data = request.GET.copy()
        if not data.get("dose_cutoffs", "").strip():
            data["dose_cutoffs"] = ", ".join(f"{c.normalize():f}" for c in analytics.default_dose_cutoffs())
    form = AnalyticsForm(data)
    if not form.is_valid():
        return form, None
    data = form.cleaned_data
    scale = scales.SCALES[data["scale"]]
    if data["rater"] and data["rater"] not in scale.raters:
        form.add_error("rater", f"{scale.name} is not rated by the {data['rater']}.")
        return form, None
    result = analytics.change_from_baseline(
        clinic_id=request.clinic.pk,
        scale_code=scale.code,
        treatment=data["treatment"],
        sessions=data["sessions"],
        rater=data["rater"],
        variant=data["variant"],
        dose_cutoffs=data["dose_cutoffs"],
    )
    return form, result


def _analysis_terms(result: analytics.Analysis) -> dict[str, object]:
    """What the audit trail keeps of an analysis: enough to run it again."""
    return {
        "scale": result.scale.code,
        "treatment": result.treatment,
        "sessions": result.sessions,
        "rater": result.rater,
        "variant": result.variant,
        "dose_cutoffs": result.dose_cutoffs_text,
    }


@clinic_view("outcome.analytics")
@require_http_methods(["GET"])
def outcome_analytics(request: HttpRequest) -> HttpResponse:
    """Change from baseline (or, for GAIS and satisfaction, the rating) after N sessions: n, mean and 95 % CI,
    per protocol, split by the PRP given."""
    form, result = _analysis(request)
    if result is not None:
        audit_record(
            action="outcome.analytics.view",
            request=request,
            object_type="outcomes.analytics",
            changes=_analysis_terms(result),
        )
    return render(
        request,
        "outcomes/analytics.html",
        {"form": form, "result": result, "query": request.GET.urlencode()},
        status=400 if form.errors else 200,
    )


@clinic_view("outcome.analytics")
@require_http_methods(["GET"])
def outcome_analytics_csv(request: HttpRequest) -> HttpResponse:
    """The analytics table as CSV (groups only, no patient rows). Audited as an export."""
    _form, result = _analysis(request)
    if result is None:
        return HttpResponse("Choose a measure, a treatment and a number of sessions.", status=400)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="outcomes-{result.scale.code}-{result.sessions}.csv"'
    writer = csv.writer(response)
    if result.scale.rated_after:
        unit = "rating"
    else:
        unit = result.scale.unit if result.scale.kind == scales.NUMERIC else "scale steps"
    writer.writerow(
        ["measure", "quantity", "unit", "treatment", "sessions", "rater", "variant", "protocol", "split", "group",
         "n", "mean", "sd", "ci95_low", "ci95_high", "note", "source"]
    )  # fmt: skip

    def fmt(value: float | None) -> str:
        return "" if value is None else f"{value:.2f}"

    def row(protocol: str, split: str, group: str, summary: Summary | None, source: str) -> None:
        if summary is None:
            return
        writer.writerow(
            [result.scale.code, result.quantity, unit, result.treatment, result.sessions, result.rater,
             result.variant, protocol, split, group, summary.n, fmt(None if summary.too_few else summary.mean),
             fmt(summary.sd), fmt(summary.ci_low), fmt(summary.ci_high),
             f"too few patients (under {result.min_n})" if summary.too_few else "", source]
        )  # fmt: skip

    for section in result.sections:
        row(section.protocol, "all", "all", section.overall, "")
        for split in section.splits:
            for group in split.groups:
                row(section.protocol, split.code, group.label, group.summary, split.source)
    audit_record(
        action="outcome.analytics.export",
        request=request,
        object_type="outcomes.analytics",
        changes=_analysis_terms(result),
    )
    return response


@clinic_view("outcome.view")
@require_http_methods(["GET"])
def outcome_report(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The outcome report PDF (first and latest photos, progress charts), of the patient or of one series
    (``?plan=<id>``). Audited as a chart view."""
    from prpclinic.outcomes.report import outcome_report_pdf

    patient = selectors.outcome_patient(request=request, patient_id=patient_id)
    plan = None
    if request.GET.get("plan"):
        plan = selectors.plan_get(clinic_id=request.clinic.pk, patient_id=patient.pk, plan_id=request.GET["plan"])
    _audit_page(request, "outcome.report.view", patient, **({"plan": plan.pk} if plan is not None else {}))
    pdf = outcome_report_pdf(clinic=request.clinic, patient=patient, plan=plan)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="outcome-report.pdf"'
    response["Cache-Control"] = "no-store, private"
    return response
