"""A centrifuge's calibration: the model fitted to the clinic's own products on that device."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class CentrifugeCalibration(models.Model):
    """One run of ``planner.calibration.calibrate`` over a centrifuge's products; kept, never edited.

    The planner page uses the newest calibrated one of the device, and says so.
    """

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    centrifuge = models.ForeignKey("prp.Centrifuge", on_delete=models.PROTECT, related_name="calibrations")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=12)  # "calibrated" or "too_few"
    n_observations = models.PositiveIntegerField()
    g_scale = models.FloatField()
    harvest_yield = models.FloatField()
    g_scale_identified = models.BooleanField(default=False)
    rmse_recovery_before = models.FloatField(null=True)
    rmse_recovery_after = models.FloatField(null=True)
    # Per product: code, measured and predicted (before/after) recovery and concentration.
    observations = models.JSONField(default=list)
    notes = models.JSONField(default=list)

    class Meta:
        indexes = [models.Index(fields=["clinic", "centrifuge", "-created_at"], name="calibration_latest")]

    def __str__(self) -> str:
        return f"{self.centrifuge_id} {self.created_at:%Y-%m-%d} ({self.status})"

    @property
    def calibrated(self) -> bool:
        return self.status == "calibrated"
