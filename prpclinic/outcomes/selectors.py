"""Reads of the outcomes app, scoped to the clinic, each in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils import timezone

from prpclinic.db import compiled_read
from prpclinic.links import address
from prpclinic.outcomes import charts, scales
from prpclinic.outcomes.models import Photo, PhotoArea, PhotoStatus, PhotoView, Score, ScoreStatus
from prpclinic.patients.models import Patient
from prpclinic.visits.models import Visit, VisitStatus

PHOTO_LIMIT = 300  # a patient's series rarely has more; the pages say when the list is cut
SCORE_LIMIT = 500


def outcome_patient(*, request: HttpRequest, patient_id: int) -> Patient:
    """The patient of the active clinic; another clinic's answers 404."""
    try:
        return Patient.objects.get(clinic=request.clinic, pk=patient_id)
    except (Patient.DoesNotExist, ValueError, TypeError):
        raise Http404("No such patient in this clinic.") from None


def photo_get(*, clinic_id: int, photo_id: int, active_only: bool = True) -> Photo:
    photos = Photo.objects.filter(clinic_id=clinic_id, pk=photo_id)
    if active_only:
        photos = photos.filter(status=PhotoStatus.ACTIVE)
    photo = photos.first()
    if photo is None:
        raise Http404("No such photo in this clinic.")
    return photo


def patient_photos(*, clinic_id: int, patient_id: int, view: str = "", limit: int = PHOTO_LIMIT) -> list[Photo]:
    """The patient's active photos, oldest first (one query, at most ``limit``)."""
    photos = Photo.objects.filter(clinic_id=clinic_id, patient_id=patient_id, status=PhotoStatus.ACTIVE)
    if view:
        photos = photos.filter(view=view)
    return list(photos.select_related("visit").order_by("view", "taken_at", "id")[:limit])


def withdrawn_photos(*, clinic_id: int, patient_id: int, limit: int = 50) -> list[Photo]:
    return list(
        Photo.objects.filter(clinic_id=clinic_id, patient_id=patient_id, status=PhotoStatus.WITHDRAWN)
        .select_related("withdrawn_by")
        .order_by("-withdrawn_at")[:limit]
    )


@dataclass
class ViewGroup:
    view: str
    label: str
    photos: list[Photo]


def photos_by_view(photos: list[Photo]) -> list[ViewGroup]:
    """The photos grouped in the order of the standard views."""
    groups = {value: ViewGroup(value, label, []) for value, label in PhotoView.choices}
    for photo in photos:
        groups[photo.view].photos.append(photo)
    return [group for group in groups.values() if group.photos]


def guide_photos(*, clinic_id: int, patient_id: int) -> dict[str, int]:
    """For each view, the first photo taken: the camera draws it over the live image as a framing guide."""
    first: dict[str, int] = {}
    rows = (
        Photo.objects.filter(clinic_id=clinic_id, patient_id=patient_id, status=PhotoStatus.ACTIVE)
        .order_by("view", "taken_at", "id")
        .values_list("view", "id")[:PHOTO_LIMIT]
    )
    for view, photo_id in rows:
        first.setdefault(view, photo_id)
    return first


def patient_visits(*, clinic_id: int, patient_id: int, limit: int = 100) -> list[Visit]:
    return list(
        Visit.objects.filter(clinic_id=clinic_id, patient_id=patient_id)
        .exclude(status=VisitStatus.CANCELLED)
        .order_by("started_at", "id")[:limit]
    )


def patient_scores(*, clinic_id: int, patient_id: int, limit: int = SCORE_LIMIT) -> list[Score]:
    """The patient's current scores, oldest first, with who recorded them (one query)."""
    return list(
        Score.objects.filter(clinic_id=clinic_id, patient_id=patient_id, status=ScoreStatus.CURRENT)
        .select_related("recorded_by", "visit")
        .order_by("recorded_on", "recorded_at", "id")[:limit]
    )


def score_get(*, clinic_id: int, score_id: int) -> Score:
    score = Score.objects.filter(clinic_id=clinic_id, pk=score_id).select_related("patient").first()
    if score is None:
        raise Http404("No such score in this clinic.")
    return score


def score_display(score: Score) -> str:
    scale = scales.SCALES.get(score.scale)
    if scale is None:
        return score.level or str(score.value)
    if scale.kind == scales.ORDINAL:
        level = scale.level(score.level, score.variant)
        return level.label if level else score.level
    value = f"{score.value.normalize():f}" if score.value is not None else ""
    text = f"{value} {scale.unit}".strip()
    if score.area_cm2 is not None:
        text += f" in {score.area_cm2.normalize():f} cm²"
    return text


@dataclass
class ScoreSeries:
    scale: scales.Scale
    variant: str
    rater: str
    scores: list[Score]
    svg: str

    @property
    def title(self) -> str:
        parts = [self.scale.name]
        if len(self.scale.raters) > 1:
            parts.append(f"rated by the {scales.RATERS[self.rater].lower()}")
        chosen = self.scale.variant(self.variant)
        if chosen is not None and chosen.label:
            parts.append(chosen.label)
        return ", ".join(parts)


def progress_series(*, scores: list[Score], visits: list[Visit], standalone: bool = False) -> list[ScoreSeries]:
    """One chart per scale (and rater and variant): values over time, sessions marked. No query."""
    markers = [charts.Marker(v.started_at.date(), f"S{i}") for i, v in enumerate(visits, start=1)]
    grouped: dict[tuple[str, str, str], list[Score]] = {}
    for score in scores:
        if score.scale in scales.SCALES:
            grouped.setdefault((score.scale, score.variant, score.rater), []).append(score)
    order = list(scales.SCALES)
    series: list[ScoreSeries] = []
    for (code, variant, rater), rows in sorted(grouped.items(), key=lambda item: (order.index(item[0][0]), item[0])):
        scale = scales.SCALES[code]
        item = ScoreSeries(scale, variant, rater, rows, "")
        points: list[charts.Point] = []
        ticks: list[tuple[float, str]] | None = None
        if scale.kind == scales.ORDINAL:
            ticks = [(float(i), level.label) for i, level in enumerate(scale.levels(variant))]
            for row in rows:
                position = scale.position(row.level, variant)
                if position is not None:
                    points.append(charts.Point(row.recorded_on, float(position), row.level))
        else:
            for row in rows:
                if row.value is not None:
                    points.append(charts.Point(row.recorded_on, float(row.value), f"{row.value.normalize():f}"))
        item.svg = charts.svg_line_chart(
            title=item.title, points=points, markers=markers, y_ticks=ticks, unit=scale.unit, standalone=standalone
        )
        series.append(item)
    return series


def photo_urls(photo: Photo) -> dict[str, str]:
    return {
        "full": reverse("outcome_photo_file", args=[photo.pk, "full"]),
        "thumb": reverse("outcome_photo_file", args=[photo.pk, "thumb"]),
    }


TIMELINE_LIMIT = 50
# The chart reads the newest current scores once for its panel and its timeline; the panel's
# "latest of each scale" came from the newest 100 by rating date, so that many are read.
CHART_SCORES = 100


def chart_photos(*, clinic_id: int, patient_id: int) -> list[Photo]:
    """The patient's active photos, newest first, as many as the timeline groups (one query)."""
    return _chart_photos(clinic_id=clinic_id, patient_id=patient_id)


@compiled_read()
def _chart_photos(clinic_id: int, patient_id: int) -> QuerySet[Photo]:
    return Photo.objects.filter(clinic_id=clinic_id, patient_id=patient_id, status=PhotoStatus.ACTIVE).order_by(
        "-taken_at", "-id"
    )[: TIMELINE_LIMIT * 4]


def chart_scores(*, clinic_id: int, patient_id: int) -> list[Score]:
    """The patient's current scores, newest recorded first, for the chart's panel and timeline (one query)."""
    return _chart_scores(clinic_id=clinic_id, patient_id=patient_id)


@compiled_read()
def _chart_scores(clinic_id: int, patient_id: int) -> QuerySet[Score]:
    return Score.objects.filter(clinic_id=clinic_id, patient_id=patient_id, status=ScoreStatus.CURRENT).order_by(
        "-recorded_at", "-id"
    )[:CHART_SCORES]


def latest_summary(
    *, clinic_id: int, patient_id: int, photos: list[Photo] | None = None, scores: list[Score] | None = None
) -> dict[str, Any]:
    """For the chart panel: the three latest photos and the latest score of each scale (two queries).

    ``photos`` and ``scores``: the rows of ``chart_photos`` and ``chart_scores`` when the chart has
    read them already; then no query, unless the patient has more scores than were read (the
    latest of a scale is then asked of the database, as before).
    """
    if photos is None:
        photos = list(
            Photo.objects.filter(clinic_id=clinic_id, patient_id=patient_id, status=PhotoStatus.ACTIVE).order_by(
                "-taken_at", "-id"
            )[:3]
        )
    if scores is None or len(scores) >= CHART_SCORES:
        recent: list[Score] = list(
            Score.objects.filter(clinic_id=clinic_id, patient_id=patient_id, status=ScoreStatus.CURRENT).order_by(
                "-recorded_on", "-recorded_at", "-id"
            )[:CHART_SCORES]
        )
    else:  # all of them: the same order as the query above
        recent = sorted(scores, key=lambda s: (s.recorded_on, s.recorded_at, s.pk), reverse=True)
    latest: dict[tuple[str, str, str], Score] = {}
    for score in recent:
        latest.setdefault((score.scale, score.variant, score.rater), score)
    rows = [{"scale": scales.SCALES[s.scale].name if s.scale in scales.SCALES else s.scale, "score": s,
             "shown": score_display(s)} for s in latest.values()]  # fmt: skip
    return {"photos": photos[:3], "scores": rows}


def timeline_items(
    *, clinic_id: int, patient_id: int, photos: list[Photo] | None = None, scores: list[Score] | None = None
) -> list[dict[str, Any]]:
    """For the chart's timeline: photo sessions (one item per day) and scores, newest first; two queries.

    ``photos`` and ``scores``: the rows of ``chart_photos`` and ``chart_scores`` when the chart has
    read them already (no query then).
    """
    items: list[dict[str, Any]] = []
    days: dict[Any, list[Photo]] = {}
    if photos is None:
        photos = chart_photos(clinic_id=clinic_id, patient_id=patient_id)
    if scores is None:
        scores = chart_scores(clinic_id=clinic_id, patient_id=patient_id)
    for photo in photos[: TIMELINE_LIMIT * 4]:
        days.setdefault(timezone.localtime(photo.taken_at).date(), []).append(photo)
    photos_url = address("outcome_photos", patient_id)
    for group in days.values():
        views = sorted({p.get_view_display() for p in group})
        items.append(
            {
                "at": group[0].taken_at,
                "kind": "photos",
                "title": f"{len(group)} photo{'s' if len(group) != 1 else ''}",
                "detail": "; ".join(views) + ".",
                "url": photos_url,
            }
        )
    scores_url = address("outcome_progress", patient_id)
    for score in scores[:TIMELINE_LIMIT]:
        scale = scales.SCALES.get(score.scale)
        items.append(
            {
                "at": score.recorded_at,
                "kind": "score",
                "title": scale.name if scale else score.scale,
                "detail": f"{score_display(score)} (rated by the {score.get_rater_display().lower()}, "
                f"{score.recorded_on:%Y-%m-%d}).",
                "url": scores_url,
            }
        )
    items.sort(key=lambda item: item["at"], reverse=True)
    return items[:TIMELINE_LIMIT]


# The photographed area of each treatment: scalp PRP on the scalp, the face treatments on the face.
TREATMENT_AREA = {"prp_scalp": PhotoArea.SCALP, "microneedling_prp": PhotoArea.FACE, "mesotherapy": PhotoArea.FACE}
PLAN_LIMIT = 50


def patient_plans(*, clinic_id: int, patient_id: int) -> list[Any]:
    """The patient's treatment series (plans), newest first, with treatment and protocol (one query)."""
    from prpclinic.treatments.models import TreatmentPlan

    return list(
        TreatmentPlan.objects.filter(clinic_id=clinic_id, patient_id=patient_id)
        .select_related("treatment", "protocol")
        .order_by("-created_at", "-id")[:PLAN_LIMIT]
    )


def plan_get(*, clinic_id: int, patient_id: int, plan_id: object) -> Any:
    """One series of the patient, or 404 (another clinic's or patient's plan, or not a number)."""
    from prpclinic.treatments.models import TreatmentPlan

    try:
        return TreatmentPlan.objects.select_related("treatment", "protocol").get(
            clinic_id=clinic_id, patient_id=patient_id, pk=int(str(plan_id))
        )
    except (TreatmentPlan.DoesNotExist, ValueError):
        raise Http404("No such treatment series for this patient.") from None


def plan_visits(*, clinic_id: int, plan: Any, limit: int = 100) -> list[Visit]:
    """The visits that carried out the series' sessions, in order (one query)."""
    return list(
        Visit.objects.filter(clinic_id=clinic_id, planned_sessions__plan=plan)
        .exclude(status=VisitStatus.CANCELLED)
        .order_by("started_at", "id")
        .distinct()[:limit]
    )
