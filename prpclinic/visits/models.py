"""A patient's visit: the frame that draws, products and (later) charting hang on."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class TreatmentKind(models.TextChoices):
    # The three treatments prpclinic serves; the treatments issue adds a versioned catalogue.
    MICRONEEDLING_PRP = "microneedling_prp", "Micro-needling with PRP"
    PRP_SCALP = "prp_scalp", "PRP for hair loss"
    MESOTHERAPY = "mesotherapy", "Mesotherapy"


class VisitStatus(models.TextChoices):
    OPEN = "open", "Open"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class Visit(models.Model):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="visits")
    treatment = models.CharField(max_length=30, choices=TreatmentKind.choices)
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=12, choices=VisitStatus.choices, default=VisitStatus.OPEN)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "patient", "-started_at"], name="visit_clinic_patient"),
            models.Index(fields=["clinic", "-started_at"], name="visit_clinic_day"),
        ]

    def __str__(self) -> str:
        return f"{self.get_treatment_display()} {self.started_at:%Y-%m-%d}"
