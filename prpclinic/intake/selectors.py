"""Reads of the intake app, scoped to the clinic, each in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import Http404, HttpRequest
from django.utils import timezone

from prpclinic.db import compiled_read
from prpclinic.intake.models import (
    ReviewStatus,
    Screening,
    ScreeningResult,
    ScreeningSettings,
    Submission,
    SubmissionStatus,
)
from prpclinic.links import address
from prpclinic.patients.models import Patient, fold
from prpclinic.visits.models import TreatmentKind

LIST_LIMIT = 100
# The chart reads this many screenings, newest first, for its timeline and its screening panel.
SCREENINGS_READ = 50


def screening_settings(*, clinic_id: int) -> ScreeningSettings:
    """The clinic's settings row, or the defaults (unsaved) when the clinic never changed them."""
    return ScreeningSettings.objects.filter(clinic_id=clinic_id).first() or ScreeningSettings(clinic_id=clinic_id)


def latest_screening(*, clinic_id: int, patient_id: int, treatment: str) -> Screening | None:
    """The most recent screening of this patient for ``treatment``: the one the gate reads."""
    return (
        Screening.objects.filter(clinic_id=clinic_id, patient_id=patient_id, treatment=treatment)
        .order_by("-recorded_at", "-id")
        .first()
    )


def screening_blocker(*, clinic_id: int, patient_id: int, treatment: str) -> str | None:
    """Why this patient may not start ``treatment`` now, as a sentence for staff; None when nothing blocks.

    Reads the latest screening for the treatment: missing, expired, not eligible, awaiting a
    physician's review or declined by one blocks; eligible or cleared by a physician does not.
    """
    label = TreatmentKind(treatment).label if treatment in TreatmentKind.values else treatment
    screening = latest_screening(clinic_id=clinic_id, patient_id=patient_id, treatment=treatment)
    if screening is None:
        return f"No screening for {label} on record: screen the patient first."
    if screening.is_expired:
        day = timezone.localtime(screening.expires_at).date().isoformat()
        return f"The screening for {label} expired on {day}: screen the patient again."
    if screening.result == ScreeningResult.NOT_ELIGIBLE:
        reasons = "; ".join(f["message"] for f in screening.fired if f["kind"] == "absolute")
        return f"Not eligible for {label}: {reasons}."
    if screening.result == ScreeningResult.NEEDS_REVIEW:
        if screening.review_status == ReviewStatus.CLEARED:
            return None
        if screening.review_status == ReviewStatus.DECLINED:
            return f"A physician declined {label} for this patient: {screening.review_reason}"
        reasons = "; ".join(f["message"] for f in screening.fired)
        return f"The screening for {label} awaits a physician's review ({reasons})."
    return None


def latest_by_treatment(
    *, clinic_id: int, patient_id: int, screenings: list[Screening] | None = None
) -> list[tuple[str, str, Screening | None]]:
    """(kind, label, latest screening or None) for each treatment, in one query (the chart shows it).

    ``screenings``: ``patient_screenings``' newest-first rows when the chart has read them for its
    timeline. The first of each treatment there is its latest; only when those rows were cut off
    and a treatment is missing from them is the database asked (a contraindication must never be
    hidden because it is older than fifty other screenings).
    """
    latest: dict[str, Screening] = {}
    if screenings is not None:
        for screening in screenings:
            latest.setdefault(screening.treatment, screening)
    kinds = [kind for kind, _ in TreatmentKind.choices]
    if screenings is None or (len(screenings) >= SCREENINGS_READ and any(k not in latest for k in kinds)):
        mine = Screening.objects.filter(clinic_id=clinic_id, patient_id=patient_id)
        newest = mine.filter(treatment=OuterRef("treatment")).order_by("-recorded_at", "-id").values("pk")[:1]
        latest = {s.treatment: s for s in mine.filter(pk=Subquery(newest))}
    return [(kind, label, latest.get(kind)) for kind, label in TreatmentKind.choices]


def screening_get(*, request: HttpRequest, screening_id: int, for_update: bool = False) -> Screening:
    """The screening of the active clinic; another clinic's answers 404."""
    screenings = Screening.objects.filter(clinic=request.clinic).select_related("patient", "recorded_by", "reviewed_by")
    if for_update:
        screenings = screenings.select_for_update(of=("self",))
    try:
        return screenings.get(pk=screening_id)
    except (Screening.DoesNotExist, ValueError, TypeError):
        raise Http404("No such screening in this clinic.") from None


def review_queue(*, clinic_id: int, limit: int = LIST_LIMIT) -> list[Screening]:
    """Screenings awaiting a physician, oldest first (expired ones drop out: they need a new screening)."""
    return list(
        Screening.objects.filter(clinic_id=clinic_id, review_status=ReviewStatus.PENDING, expires_at__gt=timezone.now())
        .select_related("patient", "recorded_by")
        .order_by("recorded_at", "id")[:limit]
    )


def patient_screenings(*, clinic_id: int, patient_id: int, limit: int = SCREENINGS_READ) -> list[Screening]:
    return _screenings(clinic_id=clinic_id, patient_id=patient_id, limit=limit)


@compiled_read(limit=SCREENINGS_READ)
def _screenings(clinic_id: int, patient_id: int) -> QuerySet[Screening]:
    return (
        Screening.objects.filter(clinic_id=clinic_id, patient_id=patient_id)
        .select_related("recorded_by", "reviewed_by")
        .order_by("-recorded_at", "-id")
    )


def submission_inbox(*, clinic_id: int, limit: int = LIST_LIMIT) -> list[Submission]:
    """Pending pre-visit questionnaires, oldest first."""
    return list(
        Submission.objects.filter(clinic_id=clinic_id, status=SubmissionStatus.PENDING).order_by("submitted_at", "id")[
            :limit
        ]
    )


def submission_get(*, request: HttpRequest, submission_id: int, for_update: bool = False) -> Submission:
    submissions = Submission.objects.filter(clinic=request.clinic)
    if for_update:
        submissions = submissions.select_for_update(of=("self",))
    try:
        return submissions.get(pk=submission_id)
    except (Submission.DoesNotExist, ValueError, TypeError):
        raise Http404("No such questionnaire in this clinic.") from None


def submission_candidates(*, clinic_id: int, submission: Submission, limit: int = 25) -> list[Patient]:
    """Active patients who may be the sender: same date of birth, or the same family name. One query."""
    family = fold(submission.family_name)
    return list(
        Patient.objects.filter(clinic_id=clinic_id, is_active=True)
        .filter(Q(date_of_birth=submission.date_of_birth) | Q(search_text__startswith=family + " "))
        .order_by("family_name", "given_name", "id")[:limit]
    )


def recent_submissions_from(*, clinic_id: int, source_hash: str, since: dt.datetime) -> int:
    return Submission.objects.filter(clinic_id=clinic_id, source_hash=source_hash, submitted_at__gte=since).count()


def recent_submissions(*, clinic_id: int, since: dt.datetime) -> int:
    return Submission.objects.filter(clinic_id=clinic_id, submitted_at__gte=since).count()


def timeline_items(
    *, clinic_id: int, patient_id: int, screenings: list[Screening] | None = None
) -> list[dict[str, Any]]:
    """The patient's screenings and physician reviews for the chart's timeline, newest first. One query.

    ``screenings``: ``patient_screenings``' rows when the chart has read them already (no query then).
    """
    items: list[dict[str, Any]] = []
    if screenings is None:
        screenings = patient_screenings(clinic_id=clinic_id, patient_id=patient_id)
    for s in screenings[:SCREENINGS_READ]:
        url = address("intake_detail", s.pk)
        fired = ", ".join(f["message"] for f in s.fired)
        items.append(
            {
                "at": s.recorded_at,
                "kind": "screening",
                "title": f"Screening for {s.get_treatment_display()}: {s.get_result_display()}",
                "detail": fired or "No contraindication found.",
                "url": url,
            }
        )
        if s.reviewed_at is not None:
            items.append(
                {
                    "at": s.reviewed_at,
                    "kind": "review",
                    "title": f"{s.get_review_status_display()} ({s.get_treatment_display()})",
                    "detail": s.review_reason,
                    "url": url,
                }
            )
    items.sort(key=lambda item: item["at"], reverse=True)
    return items
