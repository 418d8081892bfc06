"""Outcomes: standardised photos and scale scores, per patient, over the treatment series.

Nothing here is ever deleted: a photo is withdrawn (hidden, with a reason), a score is
corrected by a new score that supersedes it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class PhotoArea(models.TextChoices):
    FACE = "face", "Face"
    SCALP = "scalp", "Scalp"


class PhotoView(models.TextChoices):
    FACE_FRONT = "face_front", "Face, front"
    FACE_LEFT_45 = "face_left_45", "Face, left 45°"
    FACE_RIGHT_45 = "face_right_45", "Face, right 45°"
    FACE_LEFT_90 = "face_left_90", "Face, left 90°"
    FACE_RIGHT_90 = "face_right_90", "Face, right 90°"
    SCALP_TOP = "scalp_top", "Scalp, top"
    SCALP_VERTEX = "scalp_vertex", "Scalp, vertex"
    SCALP_PART = "scalp_part", "Scalp, part line"
    SCALP_HAIRLINE = "scalp_hairline", "Scalp, hairline"


def area_of(view: str) -> str:
    return PhotoArea.SCALP if view.startswith("scalp") else PhotoArea.FACE


class PhotoStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Photo(models.Model):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    visit = models.ForeignKey("visits.Visit", on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    session_number = models.PositiveSmallIntegerField(null=True, blank=True)
    area = models.CharField(max_length=10, choices=PhotoArea.choices)
    view = models.CharField(max_length=20, choices=PhotoView.choices)
    taken_at = models.DateTimeField(default=timezone.now)
    # Storage names (never containing patient identifiers); served only through the photo view.
    file_name = models.CharField(max_length=200)
    thumb_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=30)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    byte_size = models.PositiveIntegerField()
    source_format = models.CharField(max_length=10)
    # The uses of the photo the patient's photography consent allowed when it was taken.
    consent_uses = models.JSONField(default=list)
    note = models.CharField(max_length=200, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=PhotoStatus.choices, default=PhotoStatus.ACTIVE)
    withdrawn_reason = models.CharField(max_length=300, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "patient", "status", "view", "taken_at"], name="photo_patient_view"),
            models.Index(fields=["clinic", "visit"], name="photo_clinic_visit"),
        ]

    def __str__(self) -> str:
        return f"{self.get_view_display()} {self.taken_at:%Y-%m-%d}"

    @property
    def label(self) -> str:
        """Date and session, as printed under the photo everywhere."""
        session = f" · session {self.session_number}" if self.session_number else ""
        return f"{timezone.localtime(self.taken_at):%Y-%m-%d}{session}"


class Rater(models.TextChoices):
    CLINICIAN = "clinician", "Clinician"
    PATIENT = "patient", "Patient"


class ScoreStatus(models.TextChoices):
    CURRENT = "current", "Current"
    SUPERSEDED = "superseded", "Superseded"


class Score(models.Model):
    """One rating on one scale (``scales.SCALES``). A correction is a new row; the old one is superseded."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    visit = models.ForeignKey("visits.Visit", on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    session_number = models.PositiveSmallIntegerField(null=True, blank=True)
    scale = models.CharField(max_length=30)
    variant = models.CharField(max_length=20, blank=True)
    value = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)  # numeric scales
    level = models.CharField(max_length=20, blank=True)  # ordinal scales
    area_cm2 = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    site = models.CharField(max_length=120, blank=True)
    rater = models.CharField(max_length=10, choices=Rater.choices, default=Rater.CLINICIAN)
    recorded_on = models.DateField(default=timezone.localdate)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=12, choices=ScoreStatus.choices, default=ScoreStatus.CURRENT)
    corrects = models.ForeignKey("self", on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    correction_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "patient", "status", "scale", "recorded_on"], name="score_patient_scale"),
            models.Index(fields=["clinic", "scale", "status"], name="score_clinic_scale"),
            models.Index(fields=["clinic", "visit"], name="score_clinic_visit"),
        ]
        constraints = [
            # A score is corrected once; a later correction corrects the correction.
            models.UniqueConstraint(
                fields=["clinic", "corrects"], condition=models.Q(corrects__isnull=False), name="score_one_correction"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scale} {self.recorded_on:%Y-%m-%d}"
