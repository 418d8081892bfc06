"""Screenings for contraindications, the clinic's screening settings, and patients' pre-visit questionnaires."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from prpclinic.patients.models import Sex, validate_date_of_birth, validate_person_name
from prpclinic.visits.models import TreatmentKind


class ScreeningSettings(models.Model):
    """One row per clinic: how long a screening stays valid, and the clinic's rule overrides.

    The validity is a clinic setting, not a clinical fact. ``overrides`` maps a configurable
    rule id (``rules.RULES``) to the clinic's number (days or a lab threshold).
    """

    clinic = models.OneToOneField("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    validity_days = models.PositiveSmallIntegerField(
        "A screening is valid for (days)", default=30, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    overrides = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Screening settings of clinic {self.clinic_id}"


class ScreeningResult(models.TextChoices):
    ELIGIBLE = "eligible", "Eligible"
    NEEDS_REVIEW = "needs_review", "Needs physician review"
    NOT_ELIGIBLE = "not_eligible", "Not eligible"


class ReviewStatus(models.TextChoices):
    NONE = "none", "No review needed"
    PENDING = "pending", "Awaiting physician review"
    CLEARED = "cleared", "Cleared by a physician"
    DECLINED = "declined", "Declined by a physician"


class ScreeningSource(models.TextChoices):
    STAFF = "staff", "Asked by staff"
    QUESTIONNAIRE = "questionnaire", "Patient's pre-visit questionnaire"


class Screening(models.Model):
    """A patient's answers for one treatment, evaluated once against the rule set of that day.

    Never changed after recording except for the physician's review; a later screening of the
    same treatment supersedes it (the gate reads the latest).
    """

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="screenings")
    treatment = models.CharField(max_length=30, choices=TreatmentKind.choices)
    source = models.CharField(max_length=16, choices=ScreeningSource.choices, default=ScreeningSource.STAFF)
    answers = models.JSONField(default=dict, blank=True)
    result = models.CharField(max_length=16, choices=ScreeningResult.choices)
    fired = models.JSONField(default=list, blank=True)
    ruleset_version = models.CharField(max_length=20)
    rule_versions = models.JSONField(default=dict, blank=True)
    parameters_used = models.JSONField(default=dict, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    review_status = models.CharField(max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.NONE)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_reason = models.TextField(max_length=2000, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "patient", "treatment", "-recorded_at"], name="screening_latest"),
            models.Index(fields=["clinic", "review_status", "recorded_at"], name="screening_review_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.get_treatment_display()} screening {self.recorded_at:%Y-%m-%d}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def allows_treatment(self) -> bool:
        return not self.is_expired and (
            self.result == ScreeningResult.ELIGIBLE or self.review_status == ReviewStatus.CLEARED
        )

    @property
    def state_label(self) -> str:
        """What staff need to know at a glance."""
        if self.is_expired:
            return "Expired"
        if self.result == ScreeningResult.NEEDS_REVIEW:
            return self.get_review_status_display()
        return self.get_result_display()


class SubmissionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    FILED = "filed", "Filed in a chart"
    DISCARDED = "discarded", "Discarded"


class Submission(models.Model):
    """A pre-visit questionnaire a patient sent from the clinic's public page: not in any chart
    until staff match it to a patient and file it. Discarded ones are kept, with who and why."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    treatment = models.CharField(max_length=30, choices=TreatmentKind.choices)
    given_name = models.CharField(max_length=80, validators=[validate_person_name])
    family_name = models.CharField(max_length=80, validators=[validate_person_name])
    date_of_birth = models.DateField(validators=[validate_date_of_birth])
    sex = models.CharField(max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    answers = models.JSONField(default=dict, blank=True)
    submitted_at = models.DateTimeField(default=timezone.now)
    # A keyed hash of the sender's address: enough to slow a flood from one place, not to find anyone.
    source_hash = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=SubmissionStatus.choices, default=SubmissionStatus.PENDING)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    discard_reason = models.TextField(max_length=1000, blank=True)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="questionnaires"
    )
    screening = models.OneToOneField(
        Screening, on_delete=models.PROTECT, null=True, blank=True, related_name="submission"
    )

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "status", "submitted_at"], name="submission_inbox"),
            models.Index(fields=["clinic", "source_hash", "submitted_at"], name="submission_source"),
            models.Index(fields=["clinic", "submitted_at"], name="submission_recent"),
        ]

    def __str__(self) -> str:
        return f"Questionnaire {self.pk} ({self.get_treatment_display()})"
