"""A patient's visit: the frame that draws, products and charting hang on; and its zone entries.

Zone entries are never edited or deleted: a correction writes a new row that supersedes the old
one (``ZoneEntry.supersedes``), and the old row's ``is_current`` turns false, so the chart shows
the current value per zone and the history of every value charted.
"""

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
    # The protocol version the visit was done under (set by visit_start; empty on older rows,
    # which the charting service fills with the current version at the first entry).
    protocol = models.ForeignKey(
        "treatments.Protocol", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "patient", "-started_at"], name="visit_clinic_patient"),
            models.Index(fields=["clinic", "-started_at"], name="visit_clinic_day"),
        ]

    def __str__(self) -> str:
        return f"{self.get_treatment_display()} {self.started_at:%Y-%m-%d}"

    @property
    def is_open(self) -> bool:
        return self.status == VisitStatus.OPEN


class BodyMap(models.TextChoices):
    FACE = "face", "Face"
    SCALP = "scalp", "Scalp"


class ZoneEntry(models.Model):
    """What was done to one zone in one visit, as charted (one row per value charted, never edited).

    Which fields are filled depends on the treatment: micro-needling (depth, passes, device,
    cartridge lot, PRP volume), scalp PRP (injections, depth, technique, PRP volume), mesotherapy
    (cocktail, vial lot, depth, technique, volume of the cocktail).
    """

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="zone_entries")
    map = models.CharField(max_length=8, choices=BodyMap.choices)
    zone = models.CharField(max_length=40)
    zone_label = models.CharField(max_length=80)
    depth_mm = models.DecimalField("depth (mm)", max_digits=4, decimal_places=2, null=True, blank=True)
    passes = models.PositiveSmallIntegerField(null=True, blank=True)
    injections = models.PositiveSmallIntegerField(null=True, blank=True)
    device = models.CharField(max_length=40, blank=True)  # the protocol's device code
    device_label = models.CharField(max_length=80, blank=True)
    # Needle cartridges have no ConsumableLot kind in the PRP inventory: the lot number as printed.
    cartridge_lot = models.CharField("needle cartridge lot", max_length=60, blank=True)
    technique = models.CharField(max_length=40, blank=True)  # the protocol's technique code
    technique_label = models.CharField(max_length=80, blank=True)
    cocktail = models.ForeignKey(
        "treatments.Cocktail", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    vial_lot = models.ForeignKey(
        "treatments.VialLot", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    volume_ml = models.DecimalField("cocktail volume (mL)", max_digits=5, decimal_places=2, null=True, blank=True)
    prp_volume_ml = models.DecimalField("PRP volume (mL)", max_digits=5, decimal_places=2, null=True, blank=True)
    # The PRP application (chain of custody: product, bedside check) this zone's PRP came from.
    application = models.ForeignKey(
        "prp.Application", on_delete=models.PROTECT, null=True, blank=True, related_name="zone_entries"
    )
    # Warnings shown before saving and acknowledged by the clinician: [{"code", "message"}].
    warnings = models.JSONField(default=list, blank=True)
    note = models.CharField(max_length=300, blank=True)
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    correction_reason = models.CharField(max_length=300, blank=True)
    is_current = models.BooleanField(default=True)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["entered_at", "id"]
        constraints = [
            # One current value per zone of a visit; the history keeps the superseded ones.
            models.UniqueConstraint(
                fields=["clinic", "visit", "map", "zone"],
                condition=models.Q(is_current=True),
                name="zoneentry_one_current",
            ),
        ]
        indexes = [models.Index(fields=["clinic", "visit", "entered_at"], name="zoneentry_clinic_visit")]

    def __str__(self) -> str:
        return f"{self.zone_label} ({self.entered_at:%Y-%m-%d %H:%M})"
