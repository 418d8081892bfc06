"""Writes of the outcomes app: photos (upload, withdraw) and scale scores (record, correct)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils import timezone

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.outcomes import scales
from prpclinic.outcomes.images import ImageRefused, clean_photo
from prpclinic.outcomes.models import Photo, PhotoStatus, PhotoView, Rater, Score, ScoreStatus, area_of
from prpclinic.patients.models import Patient
from prpclinic.visits.models import Visit

# Engineering limits (not clinical): a 12-48 MP tablet or camera photo fits; settings may override.
# The byte limit stays under the reverse proxy's request limit (deploy/nginx: client_max_body_size
# 20m) so that the user reads our message, not the proxy's 413 page.
MAX_BYTES = 18 * 1024 * 1024
MAX_PIXELS = 50_000_000


# The photo use an outcome photo needs: it is kept in the patient's record (consents' PhotoUse value).
RECORD_USE = "clinical_record"


def photo_limits() -> tuple[int, int]:
    return (
        int(getattr(settings, "OUTCOMES_PHOTO_MAX_BYTES", MAX_BYTES)),
        int(getattr(settings, "OUTCOMES_PHOTO_MAX_PIXELS", MAX_PIXELS)),
    )


def allowed_photo_uses(*, clinic_id: int, patient_id: int) -> list[str] | None:
    """The photo uses the patient's photography consent allows, as a list of words; None without consent.

    Asks the consents app (``photo_consent``, its contract). Its answer may be a collection of
    uses, an object with ``uses``, or a mapping of use -> allowed; all become a sorted list.
    """
    from prpclinic.consents import selectors as consent_selectors

    ask = getattr(consent_selectors, "photo_consent", None)
    answer = ask(clinic_id=clinic_id, patient_id=patient_id) if ask is not None else None
    if answer is None:
        return None
    uses: Any = getattr(answer, "uses", answer)
    if isinstance(uses, dict):
        uses = [use for use, allowed in uses.items() if allowed]
    elif isinstance(uses, str):
        uses = [uses]
    result = sorted({str(use) for use in uses}) if isinstance(uses, Iterable) else []
    return result or None


def _patient(request: HttpRequest, patient_id: int) -> Patient:
    try:
        return Patient.objects.select_for_update(of=("self",)).get(clinic=request.clinic, pk=patient_id)
    except (Patient.DoesNotExist, ValueError, TypeError):
        raise Http404("No such patient in this clinic.") from None


def _visit(request: HttpRequest, patient: Patient, visit_id: int | None) -> Visit | None:
    if visit_id is None:
        return None
    visit = Visit.objects.filter(clinic=request.clinic, patient=patient, pk=visit_id).first()
    if visit is None:
        raise ValidationError({"visit": "Choose one of this patient's visits."})
    return visit


def _session_of(visit: Visit | None, session_number: int | None) -> int | None:
    """The session number as entered, else the number of the series' session the visit carried out."""
    if session_number is not None or visit is None:
        return session_number
    from prpclinic.treatments.models import PlannedSession

    return (
        PlannedSession.objects.filter(clinic_id=visit.clinic_id, visit=visit).values_list("number", flat=True).first()
    )


def photo_upload(
    *,
    request: HttpRequest,
    patient_id: int,
    raw: bytes,
    view: str,
    visit_id: int | None = None,
    session_number: int | None = None,
    note: str = "",
) -> Photo:
    """Store a checked, cleaned photo of a patient with its thumbnail. Audited.

    Refused (ValidationError, nothing stored) without a photography consent, for a file that is
    not a usable photo, or over the limits. Side effects: two files in the default storage under
    ``outcomes/<clinic id>/`` with random names, the Photo row, the audit event ``outcome.photo.upload``.
    If the transaction fails after the files were written, they are removed again.
    """
    access.require(request, "outcome.record")
    if view not in PhotoView.values:
        raise ValidationError({"view": "Choose the view of the photo."})
    max_bytes, max_pixels = photo_limits()
    try:
        clean = clean_photo(raw, max_bytes=max_bytes, max_pixels=max_pixels)
    except ImageRefused as exc:
        raise ValidationError({"image": str(exc)}) from None
    written: list[str] = []
    try:
        with transaction.atomic():
            patient = _patient(request, patient_id)
            if not patient.is_active:
                raise ValidationError("This patient's record is deactivated.")
            uses = allowed_photo_uses(clinic_id=request.clinic.pk, patient_id=patient.pk)
            if uses is None:
                raise ValidationError(
                    {"image": "There is no photography consent on record for this patient: record it first."}
                )
            if RECORD_USE not in uses:
                # Outcome photos are kept in the clinical record: a consent to other uses only is not enough.
                raise ValidationError(
                    {"image": "The patient's photography consent does not allow photos in the clinical record."}
                )
            visit = _visit(request, patient, visit_id)
            session_number = _session_of(visit, session_number)
            stem = f"outcomes/{request.clinic.pk}/{uuid.uuid4().hex}"
            file_name = default_storage.save(f"{stem}.{clean.extension}", ContentFile(clean.data))
            written.append(file_name)
            thumb_name = default_storage.save(f"{stem}-thumb.jpg", ContentFile(clean.thumb))
            written.append(thumb_name)
            photo = Photo(
                clinic=request.clinic,
                patient=patient,
                visit=visit,
                session_number=session_number,
                area=area_of(view),
                view=view,
                file_name=file_name,
                thumb_name=thumb_name,
                content_type=clean.content_type,
                width=clean.width,
                height=clean.height,
                byte_size=len(clean.data),
                source_format=clean.source_format,
                consent_uses=uses,
                note=note,
                uploaded_by=request.user,
            )
            photo.full_clean()
            photo.save()
            audit_record(
                action="outcome.photo.upload",
                request=request,
                obj=photo,
                changes={
                    "patient": patient.pk,
                    "view": view,
                    "visit": visit.pk if visit else None,
                    "session_number": session_number,
                    "consent_uses": uses,
                },
            )
    except BaseException:
        for name in written:
            default_storage.delete(name)
        raise
    return photo


def photo_withdraw(*, request: HttpRequest, photo_id: int, reason: str) -> Photo:
    """Hide a photo from every page (it stays stored, never deleted), with the reason. Audited."""
    access.require(request, "outcome.record")
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the photo is withdrawn."})
    with transaction.atomic():
        photo = Photo.objects.select_for_update().filter(clinic=request.clinic, pk=photo_id).first()
        if photo is None:
            raise Http404("No such photo in this clinic.")
        if photo.status == PhotoStatus.WITHDRAWN:
            raise ValidationError("This photo is already withdrawn.")
        photo.status = PhotoStatus.WITHDRAWN
        photo.withdrawn_reason = reason[:300]
        photo.withdrawn_by = request.user
        photo.withdrawn_at = timezone.now()
        photo.full_clean()
        photo.save(update_fields=["status", "withdrawn_reason", "withdrawn_by", "withdrawn_at"])
        audit_record(
            action="outcome.photo.withdraw",
            request=request,
            obj=photo,
            changes={"status": ["active", "withdrawn"], "reason": photo.withdrawn_reason},
        )
    return photo


def _score_fields(
    scale: scales.Scale, *, value: str, variant: str, rater: str, area_cm2: Decimal | None
) -> dict[str, Any]:
    errors: dict[str, str] = {}
    variant_code = ""
    if scale.variants and scale.variants[0].code:
        chosen = next((v for v in scale.variants if v.code == variant), None)
        if chosen is None:
            errors["variant"] = "Choose which variant of the scale was used."
        else:
            variant_code = chosen.code
    if rater not in scale.raters:
        errors["rater"] = f"{scale.name} is rated by: " + ", ".join(scales.RATERS[r] for r in scale.raters) + "."
    numeric: Decimal | None = None
    level = ""
    if "variant" not in errors:
        try:
            numeric, level = scales.parse_value(scale, value, variant=variant_code)
        except scales.ScaleValueError as exc:
            errors["value"] = str(exc)
    if scale.needs_area:
        if area_cm2 is None or area_cm2 <= 0:
            errors["area_cm2"] = "Enter the size of the marked target area in cm²."
    elif area_cm2 is not None and area_cm2 <= 0:
        errors["area_cm2"] = "The area must be more than 0 cm²."
    if errors:
        raise ValidationError(errors)
    return {"variant": variant_code, "value": numeric, "level": level, "rater": rater, "area_cm2": area_cm2}


def score_record(
    *,
    request: HttpRequest,
    patient_id: int,
    scale_code: str,
    value: str,
    recorded_on: dt.date,
    rater: str = Rater.CLINICIAN,
    variant: str = "",
    visit_id: int | None = None,
    session_number: int | None = None,
    area_cm2: Decimal | None = None,
    site: str = "",
) -> Score:
    """Record one rating on one scale for a patient, checked against the scale's definition. Audited."""
    access.require(request, "outcome.record")
    try:
        scale = scales.scale_get(scale_code)
    except scales.ScaleValueError as exc:
        raise ValidationError({"scale": str(exc)}) from None
    fields = _score_fields(scale, value=value, variant=variant, rater=rater, area_cm2=area_cm2)
    if recorded_on > timezone.localdate():
        raise ValidationError({"recorded_on": "The date cannot be in the future."})
    with transaction.atomic():
        patient = _patient(request, patient_id)
        if not patient.is_active:
            raise ValidationError("This patient's record is deactivated.")
        visit = _visit(request, patient, visit_id)
        session_number = _session_of(visit, session_number)
        score = Score(
            clinic=request.clinic,
            patient=patient,
            visit=visit,
            session_number=session_number,
            scale=scale.code,
            recorded_on=recorded_on,
            recorded_by=request.user,
            site=site,
            **fields,
        )
        score.full_clean()
        score.save()
        audit_record(action="outcome.score.record", request=request, obj=score, changes=_score_changes(score))
    return score


def score_correct(
    *,
    request: HttpRequest,
    score_id: int,
    value: str,
    reason: str,
    recorded_on: dt.date | None = None,
    variant: str | None = None,
    rater: str | None = None,
    area_cm2: Decimal | None = None,
    site: str | None = None,
) -> Score:
    """Correct a score: a new current score replaces it, the old one becomes superseded (kept). Audited."""
    access.require(request, "outcome.record")
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the score is corrected."})
    with transaction.atomic():
        old = Score.objects.select_for_update().filter(clinic=request.clinic, pk=score_id).first()
        if old is None:
            raise Http404("No such score in this clinic.")
        if old.status != ScoreStatus.CURRENT:
            raise ValidationError("This score was already corrected; correct the current one.")
        scale = scales.scale_get(old.scale)
        fields = _score_fields(
            scale,
            value=value,
            variant=old.variant if variant is None else variant,
            rater=old.rater if rater is None else rater,
            area_cm2=area_cm2 if area_cm2 is not None else (old.area_cm2 if scale.needs_area else None),
        )
        new = Score(
            clinic=old.clinic,
            patient_id=old.patient_id,
            visit_id=old.visit_id,
            session_number=old.session_number,
            scale=old.scale,
            recorded_on=recorded_on or old.recorded_on,
            recorded_by=request.user,
            site=old.site if site is None else site,
            corrects=old,
            correction_reason=reason[:300],
            **fields,
        )
        new.full_clean()
        old.status = ScoreStatus.SUPERSEDED
        old.save(update_fields=["status"])
        new.save()
        audit_record(
            action="outcome.score.correct",
            request=request,
            obj=new,
            changes={"corrects": old.pk, "reason": new.correction_reason, **_score_changes(new, old)},
        )
    return new


def _score_changes(score: Score, old: Score | None = None) -> dict[str, Any]:
    def shown(s: Score | None) -> str | None:
        if s is None:
            return None
        return s.level or (f"{Decimal(s.value).normalize():f}" if s.value is not None else None)

    return {
        "patient": score.patient_id,
        "scale": score.scale,
        "value": [shown(old), shown(score)],
        "rater": score.rater,
        "variant": score.variant,
        "recorded_on": score.recorded_on.isoformat(),
    }
