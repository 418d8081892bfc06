"""Writes of the intake app. Each runs in one transaction and writes its audit event."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.clinics.models import Clinic
from prpclinic.intake import rules, selectors
from prpclinic.intake.models import (
    ReviewStatus,
    Screening,
    ScreeningResult,
    ScreeningSettings,
    ScreeningSource,
    Submission,
    SubmissionStatus,
)
from prpclinic.patients import services as patient_services
from prpclinic.patients.selectors import patient_get
from prpclinic.visits.models import TreatmentKind

# Abuse guard of the public questionnaire: a few per sender and hour, a ceiling per clinic and hour.
PER_SOURCE_PER_HOUR = 5
PER_CLINIC_PER_HOUR = 200
REVIEW_DECISIONS = (ReviewStatus.CLEARED, ReviewStatus.DECLINED)


def clean_answers(*, treatment: str, answers: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """The answers to ``treatment``'s questions in their stored form; refuses missing or impossible ones.

    Yes/no -> bool (every one required); dates -> ISO text or None (not in the future); labs ->
    ``{"value": text, "date": ISO}`` or None (a value needs the day the blood was taken).
    """
    if treatment not in TreatmentKind.values:
        raise ValidationError({"treatment": "Choose a treatment."})
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for question in rules.questions_for(treatment):
        value = answers.get(question.key)
        if question.kind == "yes_no":
            if not isinstance(value, bool):
                errors[question.key] = "Answer yes or no."
            cleaned[question.key] = value
        elif question.kind == "date":
            if value in (None, ""):
                cleaned[question.key] = None
                continue
            day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
            if day > today:
                errors[question.key] = "This date is in the future."
            cleaned[question.key] = day.isoformat()
        else:
            if not value or value.get("value") in (None, ""):
                cleaned[question.key] = None
                continue
            taken = value.get("date")
            if taken in (None, ""):
                errors[question.key] = "Give the date the blood was taken."
            elif (taken if isinstance(taken, dt.date) else dt.date.fromisoformat(str(taken))) > today:
                errors[question.key] = "This date is in the future."
            cleaned[question.key] = {"value": str(value["value"]), "date": str(taken)}
    if errors:
        raise ValidationError(errors)
    return cleaned


def _record(
    *, request: HttpRequest, patient_id: int, treatment: str, answers: dict[str, Any], source: str
) -> Screening:
    """Evaluate and store a screening (inside the caller's transaction). Audited."""
    patient = patient_get(request=request, patient_id=patient_id)  # another clinic's: 404 first
    if not patient.is_active:
        raise ValidationError("This patient's record is deactivated.")
    now = timezone.now()
    today = timezone.localdate(now)
    cleaned = clean_answers(treatment=treatment, answers=answers, today=today)
    clinic_settings = selectors.screening_settings(clinic_id=request.clinic.pk)
    evaluation = rules.evaluate(cleaned, rules.rules_for(treatment), today, overrides=clinic_settings.overrides or {})
    screening = Screening(
        clinic=request.clinic,
        patient=patient,
        treatment=treatment,
        source=source,
        answers=cleaned,
        result=evaluation.result,
        fired=[f.as_dict() for f in evaluation.fired],
        ruleset_version=rules.RULESET_VERSION,
        rule_versions=evaluation.rule_versions,
        parameters_used=evaluation.parameters_used,
        recorded_by=request.user,
        recorded_at=now,
        expires_at=now + dt.timedelta(days=clinic_settings.validity_days),
        review_status=ReviewStatus.PENDING if evaluation.result == ScreeningResult.NEEDS_REVIEW else ReviewStatus.NONE,
    )
    screening.full_clean()
    screening.save()
    audit_record(
        action="screening.record",
        request=request,
        obj=screening,
        changes={
            "patient": patient.pk,
            "treatment": treatment,
            "source": source,
            "result": screening.result,
            "fired": [f.rule_id for f in evaluation.fired],
            "ruleset_version": rules.RULESET_VERSION,
        },
    )
    return screening


def screening_record(*, request: HttpRequest, patient_id: int, treatment: str, answers: dict[str, Any]) -> Screening:
    """Screen a patient for ``treatment`` with the current rules and the clinic's overrides.

    Side effects: stores the answers, the result, the rules that fired, the rule versions and
    the numbers used; the screening expires after the clinic's validity days; a "needs review"
    result waits in the physicians' review list; audits ``screening.record``.
    """
    access.require(request, "screening.record")
    with transaction.atomic():
        return _record(
            request=request, patient_id=patient_id, treatment=treatment, answers=answers, source=ScreeningSource.STAFF
        )


def screening_review(*, request: HttpRequest, screening_id: int, decision: str, reason: str) -> Screening:
    """A physician clears (or declines) a screening that needs review, with a written reason.

    Side effects: sets the review status, who and when; audits ``screening.review`` with the
    decision and reason. Only a pending, unexpired screening may be reviewed, once.
    """
    access.require(request, "screening.review")
    reason = reason.strip()
    if decision not in REVIEW_DECISIONS:
        raise ValidationError({"decision": "Choose clear or decline."})
    if not reason:
        raise ValidationError({"reason": "Write the reason for your decision."})
    with transaction.atomic():
        screening = selectors.screening_get(request=request, screening_id=screening_id, for_update=True)
        if screening.review_status != ReviewStatus.PENDING:
            raise ValidationError("This screening does not await a review.")
        if screening.is_expired:
            raise ValidationError("This screening expired: screen the patient again.")
        screening.review_status = decision
        screening.reviewed_by = request.user
        screening.reviewed_at = timezone.now()
        screening.review_reason = reason
        screening.full_clean()
        screening.save(update_fields=["review_status", "reviewed_by", "reviewed_at", "review_reason"])
        audit_record(
            action="screening.review",
            request=request,
            obj=screening,
            changes={"review_status": [ReviewStatus.PENDING, decision], "reason": reason},
        )
    return screening


def screening_settings_update(
    *, request: HttpRequest, validity_days: int, overrides: dict[str, Any]
) -> ScreeningSettings:
    """Change how long screenings stay valid and the clinic's rule numbers. Audited with old and new values.

    Only configurable rules may be overridden; a blank value returns the rule to its default.
    Screenings already recorded keep the numbers they were evaluated with.
    """
    access.require(request, "screening.settings")
    unknown = [key for key in overrides if key not in rules.RULES_BY_ID or not rules.RULES_BY_ID[key].configurable]
    if unknown:
        raise ValidationError(f"Unknown rule: {', '.join(sorted(unknown))}")
    clean = {key: str(value) for key, value in overrides.items() if value not in (None, "")}
    with transaction.atomic():
        row, _ = ScreeningSettings.objects.select_for_update().get_or_create(clinic=request.clinic)
        changes: dict[str, Any] = {}
        if row.validity_days != validity_days:
            changes["validity_days"] = [row.validity_days, validity_days]
        if (row.overrides or {}) != clean:
            changes["overrides"] = [row.overrides, clean]
        row.validity_days = validity_days
        row.overrides = clean
        row.full_clean()
        row.save()
        if changes:
            audit_record(action="screening.settings", request=request, obj=row, changes=changes)
    return row


def source_hash(address: str | None) -> str:
    """A keyed hash of the sender's address: equal for the same sender, useless to find them."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, (address or "").encode(), hashlib.sha256).hexdigest()


def submission_receive(
    *, clinic: Clinic, treatment: str, person: dict[str, Any], answers: dict[str, Any], address: str | None
) -> Submission:
    """Store a pre-visit questionnaire sent from the public page as pending (in no chart yet).

    Side effects: refuses a sender past ``PER_SOURCE_PER_HOUR`` or a clinic past
    ``PER_CLINIC_PER_HOUR`` in the last hour; audits ``screening.questionnaire_received``
    without any of the patient's data.
    """
    now = timezone.now()
    cleaned = clean_answers(treatment=treatment, answers=answers, today=timezone.localdate(now))
    sender = source_hash(address)
    hour_ago = now - dt.timedelta(hours=1)
    with transaction.atomic():
        if (
            selectors.recent_submissions_from(clinic_id=clinic.pk, source_hash=sender, since=hour_ago)
            >= PER_SOURCE_PER_HOUR
            or selectors.recent_submissions(clinic_id=clinic.pk, since=hour_ago) >= PER_CLINIC_PER_HOUR
        ):
            raise ValidationError("Too many questionnaires were sent just now. Please try again later or call us.")
        submission = Submission(
            clinic=clinic, treatment=treatment, answers=cleaned, submitted_at=now, source_hash=sender, **person
        )
        submission.full_clean()
        submission.save()
        audit_record(
            action="screening.questionnaire_received",
            clinic=clinic,
            obj=submission,
            changes={"treatment": treatment},
        )
    return submission


def submission_file(
    *, request: HttpRequest, submission_id: int, patient_id: int | None = None, register: bool = False
) -> Screening:
    """File a pending questionnaire in a patient's chart: an existing patient, or a new registration.

    Side effects: may register the patient (``patients.services.patient_create``, audited); records a
    screening from the answers with today's rules (recorded by the staff member filing it);
    marks the questionnaire filed with the patient and screening; audits ``screening.questionnaire_filed``.
    """
    access.require(request, "screening.intake")
    if (patient_id is None) == (not register):
        raise ValidationError({"patient": "Choose the patient, or register a new one."})
    with transaction.atomic():
        submission = selectors.submission_get(request=request, submission_id=submission_id, for_update=True)
        if submission.status != SubmissionStatus.PENDING:
            raise ValidationError("This questionnaire was already handled.")
        if register:
            patient = patient_services.patient_create(
                request=request,
                data={
                    "given_name": submission.given_name,
                    "family_name": submission.family_name,
                    "date_of_birth": submission.date_of_birth,
                    "sex": submission.sex,
                    "phone": submission.phone,
                    "email": submission.email,
                },
            )
            patient_id = patient.pk
        assert patient_id is not None
        screening = _record(
            request=request,
            patient_id=patient_id,
            treatment=submission.treatment,
            answers=submission.answers,
            source=ScreeningSource.QUESTIONNAIRE,
        )
        submission.status = SubmissionStatus.FILED
        submission.patient_id = patient_id
        submission.screening = screening
        submission.handled_by = request.user
        submission.handled_at = timezone.now()
        submission.save(update_fields=["status", "patient", "screening", "handled_by", "handled_at"])
        audit_record(
            action="screening.questionnaire_filed",
            request=request,
            obj=submission,
            changes={"patient": patient_id, "screening": screening.pk, "registered": register},
        )
    return screening


def submission_discard(*, request: HttpRequest, submission_id: int, reason: str) -> Submission:
    """Set a pending questionnaire aside (spam, duplicate, withdrawn): kept, with who and why. Audited."""
    access.require(request, "screening.intake")
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why, for the record."})
    with transaction.atomic():
        submission = selectors.submission_get(request=request, submission_id=submission_id, for_update=True)
        if submission.status != SubmissionStatus.PENDING:
            raise ValidationError("This questionnaire was already handled.")
        submission.status = SubmissionStatus.DISCARDED
        submission.discard_reason = reason
        submission.handled_by = request.user
        submission.handled_at = timezone.now()
        submission.save(update_fields=["status", "discard_reason", "handled_by", "handled_at"])
        audit_record(
            action="screening.questionnaire_discarded",
            request=request,
            obj=submission,
            changes={"status": [SubmissionStatus.PENDING, SubmissionStatus.DISCARDED], "reason": reason},
        )
    return submission
