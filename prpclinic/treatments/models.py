"""The treatment catalogue (treatments, versioned protocols, mesotherapy formulary and vial lots)
and treatment plans (a patient's series of planned sessions).

A ``Protocol`` row is never changed once written: an edit writes version N+1 and marks it current,
so a plan or visit made under version N keeps N's values. Plans are never deleted: they stop, and
planned sessions are removed by status, each change recorded as a ``PlanChange`` with its reason.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from prpclinic.visits.models import TreatmentKind


class Treatment(models.Model):
    """One of the clinic's treatments, with the text patients read on the public pages."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=30, choices=TreatmentKind.choices)
    name = models.CharField(max_length=120)
    summary = models.CharField("one-line summary for patients", max_length=300, blank=True)
    patient_text = models.TextField("what patients read about it", max_length=6000, blank=True)
    is_offered = models.BooleanField("offered (listed on the public pages)", default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind"]
        constraints = [models.UniqueConstraint(fields=["clinic", "kind"], name="treatment_one_per_kind")]

    def __str__(self) -> str:
        return self.name


class Protocol(models.Model):
    """A version of a treatment's protocol. Immutable: edits write a new version (see services)."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="protocols")
    version = models.PositiveIntegerField()
    is_current = models.BooleanField(default=True)
    sessions = models.PositiveSmallIntegerField("sessions in the series")
    interval_days = models.PositiveSmallIntegerField("days between sessions")
    maintenance_interval_days = models.PositiveSmallIntegerField(
        "days between maintenance sessions", null=True, blank=True
    )
    # Lists of dicts in the shapes documented in treatments.catalogue (zone, device, technique).
    zones = models.JSONField(default=list)
    devices = models.JSONField(default=list, blank=True)
    techniques = models.JSONField(default=list, blank=True)
    # name -> {min, max, unit, note, source, tag}: quoted ranges around the defaults above.
    parameters = models.JSONField(default=dict, blank=True)
    aftercare = models.TextField("aftercare instructions", max_length=8000, blank=True)
    sources = models.JSONField(default=list, blank=True)  # [{"citation": ..., "tag": "V"|"S"|"U"}]
    change_note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["treatment_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "treatment", "version"], name="protocol_version_unique"),
            models.UniqueConstraint(
                fields=["clinic", "treatment"],
                condition=models.Q(is_current=True),
                name="protocol_one_current",
            ),
        ]
        indexes = [models.Index(fields=["clinic", "treatment", "is_current"], name="protocol_clinic_current")]

    def __str__(self) -> str:
        return f"{self.treatment} v{self.version}"

    @property
    def kind(self) -> str:
        return self.treatment.kind

    def zone(self, code: str) -> dict[str, Any] | None:
        return next((z for z in self.zones if z.get("code") == code), None)

    def zone_depth_range(self, code: str) -> tuple[Decimal, Decimal] | None:
        """The zone's needle/injection depth range in mm, or None when the clinic has set none."""
        zone = self.zone(code)
        if not zone or zone.get("depth_min_mm") is None or zone.get("depth_max_mm") is None:
            return None
        return Decimal(str(zone["depth_min_mm"])), Decimal(str(zone["depth_max_mm"]))

    def zone_volume_range(self, code: str) -> tuple[Decimal, Decimal] | None:
        """The zone's volume range in mL/cm², or None when none is set."""
        zone = self.zone(code)
        if not zone or zone.get("volume_min_ml_cm2") is None or zone.get("volume_max_ml_cm2") is None:
            return None
        return Decimal(str(zone["volume_min_ml_cm2"])), Decimal(str(zone["volume_max_ml_cm2"]))

    def device(self, code: str) -> dict[str, Any] | None:
        return next((d for d in self.devices if d.get("code") == code), None)

    def device_max_depth(self, code: str) -> Decimal | None:
        """The deepest setting the device allows (mm); charting refuses depths beyond it."""
        device = self.device(code)
        if not device or device.get("max_depth_mm") is None:
            return None
        return Decimal(str(device["max_depth_mm"]))

    def zones_on(self, body_map: str) -> list[dict[str, Any]]:
        return [z for z in self.zones if z.get("map") == body_map]


class Cocktail(models.Model):
    """A mesotherapy product of the clinic's formulary. Retired, never deleted."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=120)
    ingredients = models.JSONField(default=list)  # ingredient names, as the manufacturer lists them
    notes = models.TextField(max_length=2000, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["clinic", "name"], name="cocktail_name_unique")]
        indexes = [models.Index(fields=["clinic", "is_active"], name="cocktail_clinic_active")]

    def __str__(self) -> str:
        return self.name


class VialLot(models.Model):
    """A registered lot of a cocktail's vials. An expired lot cannot be chosen at the bedside."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    cocktail = models.ForeignKey(Cocktail, on_delete=models.PROTECT, related_name="lots")
    lot_number = models.CharField(max_length=60)
    expiry_date = models.DateField()
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    registered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["expiry_date", "lot_number"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "cocktail", "lot_number"], name="viallot_number_unique")
        ]
        indexes = [models.Index(fields=["clinic", "expiry_date"], name="viallot_clinic_expiry")]

    def __str__(self) -> str:
        return f"{self.cocktail} lot {self.lot_number}"

    def is_expired(self, on: dt.date | None = None) -> bool:
        return self.expiry_date < (on or timezone.localdate())


class PlanStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    STOPPED = "stopped", "Stopped"


class TreatmentPlan(models.Model):
    """A patient's series of a treatment, planned from one protocol version."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="treatment_plans")
    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="plans")
    # The treatment's kind, copied so visits (which carry a kind) find their plan in one query.
    kind = models.CharField(max_length=30, choices=TreatmentKind.choices)
    protocol = models.ForeignKey(Protocol, on_delete=models.PROTECT, related_name="plans")
    status = models.CharField(max_length=12, choices=PlanStatus.choices, default=PlanStatus.ACTIVE)
    start_date = models.DateField()
    notes = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["clinic", "patient", "-created_at"], name="plan_clinic_patient"),
            models.Index(fields=["clinic", "patient", "kind", "status"], name="plan_clinic_patient_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.treatment} plan from {self.start_date:%Y-%m-%d}"


class SessionKind(models.TextChoices):
    SERIES = "series", "Series"
    MAINTENANCE = "maintenance", "Maintenance"


class SessionStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    REMOVED = "removed", "Removed"


class PlannedSession(models.Model):
    """One session of a plan, due on a date; linked to the visit that carried it out."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(TreatmentPlan, on_delete=models.PROTECT, related_name="sessions")
    number = models.PositiveSmallIntegerField()
    due_date = models.DateField()
    kind = models.CharField(max_length=12, choices=SessionKind.choices, default=SessionKind.SERIES)
    status = models.CharField(max_length=10, choices=SessionStatus.choices, default=SessionStatus.PLANNED)
    visit = models.ForeignKey(
        "visits.Visit", on_delete=models.PROTECT, null=True, blank=True, related_name="planned_sessions"
    )

    class Meta:
        ordering = ["plan_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "plan", "number"], name="session_number_unique"),
            models.UniqueConstraint(
                fields=["clinic", "visit"], condition=models.Q(visit__isnull=False), name="session_one_per_visit"
            ),
        ]
        indexes = [
            models.Index(fields=["clinic", "plan", "number"], name="session_clinic_plan"),
            models.Index(fields=["clinic", "visit"], name="session_clinic_visit"),
            models.Index(fields=["clinic", "due_date"], name="session_clinic_due"),
        ]

    def __str__(self) -> str:
        return f"Session {self.number} due {self.due_date:%Y-%m-%d}"

    def clean(self) -> None:
        if self.visit_id is not None and self.status == SessionStatus.REMOVED:
            raise ValidationError("A session carried out in a visit cannot be removed.")


class PlanChangeKind(models.TextChoices):
    ADD = "add", "Session added"
    REMOVE = "remove", "Session removed"
    MOVE = "move", "Session moved"
    COUNT = "count", "Number of sessions changed"
    MAINTENANCE = "maintenance", "Maintenance planned"
    STOP = "stop", "Plan stopped"


class PlanChange(models.Model):
    """A change to a plan after it was made, with who, when and why (append-only)."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(TreatmentPlan, on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(max_length=12, choices=PlanChangeKind.choices)
    reason = models.CharField(max_length=500)
    detail = models.JSONField(default=dict, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["clinic", "plan", "-at"], name="planchange_clinic_plan")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.reason}"
