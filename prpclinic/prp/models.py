"""The PRP chain of custody: devices, lots, draws, spins, products, bedside checks, applications.

A product's ``status`` is changed by ``prp.services.state.product_move`` only (a test looks for
any other assignment). Records here are never deleted: a product is discarded, a lot recalled,
a device taken out of service.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from prpclinic.planner.rcf import rcf_from_rpm

USER = settings.AUTH_USER_MODEL
PRODUCT_PREFIX = "PRP-"
PATIENT_PREFIX = "PT-"
TUBE_MARK = "-T"


class RadiusReference(models.TextChoices):
    # Miron 2018: quote g at the tube bottom (RCF-max); RCF-clot is a known source of error.
    MAX = "max", "Tube bottom (RCF-max)"
    AVERAGE = "average", "Middle of the tube (RCF-avg)"
    MIN = "min", "Top of the liquid (RCF-min)"


class Centrifuge(models.Model):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=60, help_text="What staff call it, e.g. “Room 2 centrifuge”.")
    make = models.CharField(max_length=60)
    model = models.CharField(max_length=60)
    serial_number = models.CharField(max_length=60)
    rotor_radius_cm = models.DecimalField(
        "rotor radius (cm)",
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
    )
    radius_reference = models.CharField(
        "radius measured at", max_length=8, choices=RadiusReference.choices, default=RadiusReference.MAX
    )
    max_rpm = models.PositiveIntegerField("maximum RPM", validators=[MinValueValidator(100), MaxValueValidator(30000)])
    tube_slots = models.PositiveSmallIntegerField(default=8, validators=[MinValueValidator(1), MaxValueValidator(96)])
    calibration_due = models.DateField()
    in_service = models.BooleanField(default=True)
    out_of_service_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clinic", "serial_number"], name="centrifuge_serial_per_clinic")]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.make} {self.model}, SN {self.serial_number})"

    @property
    def calibration_overdue(self) -> bool:
        return self.calibration_due < timezone.localdate()

    @property
    def max_rcf(self) -> float:
        return rcf_from_rpm(self.max_rpm, float(self.rotor_radius_cm))


class SpinProgram(models.Model):
    """A named protocol on one device; speeds are stored as g (RCF) and as the RPM for that rotor."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    centrifuge = models.ForeignKey(Centrifuge, on_delete=models.PROTECT, related_name="programs")
    name = models.CharField(max_length=80)
    spin1_rcf = models.PositiveIntegerField("spin 1 (x g)")
    spin1_rpm = models.PositiveIntegerField("spin 1 (RPM)")
    spin1_minutes = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(60)])
    spin2_rcf = models.PositiveIntegerField("spin 2 (x g)", null=True, blank=True)
    spin2_rpm = models.PositiveIntegerField("spin 2 (RPM)", null=True, blank=True)
    spin2_minutes = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    temperature_c = models.PositiveSmallIntegerField(
        "temperature (°C)", default=22, validators=[MinValueValidator(4), MaxValueValidator(37)]
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["centrifuge", "name"], name="program_name_per_device")]
        ordering = ["name"]

    def __str__(self) -> str:
        second = f" + {self.spin2_rcf} g × {self.spin2_minutes} min" if self.spin2_rcf else ""
        return f"{self.name}: {self.spin1_rcf} g × {self.spin1_minutes} min{second}"

    @property
    def spins(self) -> int:
        return 2 if self.spin2_rcf else 1


class LotKind(models.TextChoices):
    KIT = "kit", "PRP kit"
    TUBE = "tube", "Blood tube"


class Anticoagulant(models.TextChoices):
    CITRATE = "sodium_citrate_3_2", "Sodium citrate 3.2 %"
    ACD_A = "acd_a", "ACD-A"
    EDTA = "edta", "EDTA"
    NONE = "none", "None"


class ConsumableLot(models.Model):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=LotKind.choices)
    product_name = models.CharField(max_length=80)
    manufacturer = models.CharField(max_length=80, blank=True)
    lot_number = models.CharField(max_length=40)
    expiry_date = models.DateField()
    tube_capacity_ml = models.DecimalField(
        "capacity per tube (mL)", max_digits=5, decimal_places=1, validators=[MinValueValidator(1)]
    )
    anticoagulant = models.CharField(max_length=20, choices=Anticoagulant.choices, default=Anticoagulant.CITRATE)
    recalled_at = models.DateTimeField(null=True, blank=True)
    recall_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "kind", "product_name", "lot_number"], name="lot_unique_per_clinic"
            )
        ]
        indexes = [models.Index(fields=["clinic", "expiry_date"], name="lot_clinic_expiry")]
        ordering = ["expiry_date", "product_name"]

    def __str__(self) -> str:
        return f"{self.product_name} lot {self.lot_number} (exp. {self.expiry_date:%Y-%m-%d})"

    def unusable_reason(self, on: dt.date | None = None) -> str:
        """Why this lot may not be used today, or "" when it may."""
        if self.recalled_at:
            return f"lot {self.lot_number} was recalled: {self.recall_reason}"
        if self.expiry_date < (on or timezone.localdate()):
            return f"lot {self.lot_number} expired on {self.expiry_date:%Y-%m-%d}"
        return ""


class DrawSite(models.TextChoices):
    ANTECUBITAL_LEFT = "antecubital_left", "Left antecubital vein"
    ANTECUBITAL_RIGHT = "antecubital_right", "Right antecubital vein"
    HAND_LEFT = "hand_left", "Left hand vein"
    HAND_RIGHT = "hand_right", "Right hand vein"
    OTHER = "other", "Other"


class IdentityCheck(models.TextChoices):
    SCAN = "scan", "Wristband scanned"
    CONFIRMED = "confirmed", "Name and date of birth confirmed with the patient"


class BloodDraw(models.Model):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    visit = models.ForeignKey("visits.Visit", on_delete=models.PROTECT, related_name="draws")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="blood_draws")
    drawn_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    drawn_at = models.DateTimeField()
    site = models.CharField(max_length=20, choices=DrawSite.choices)
    volume_ml = models.DecimalField("whole blood drawn (mL)", max_digits=5, decimal_places=1)
    tube_count = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(12)])
    tube_lot = models.ForeignKey(ConsumableLot, on_delete=models.PROTECT, related_name="tube_draws")
    kit_lot = models.ForeignKey(
        ConsumableLot, on_delete=models.PROTECT, null=True, blank=True, related_name="kit_draws"
    )
    anticoagulant = models.CharField(max_length=20, choices=Anticoagulant.choices)
    # Baseline whole-blood values (optional): platelets and WBC in 10^3/µL, hematocrit in %.
    platelets_k_per_ul = models.DecimalField(
        "platelets (10³/µL)", max_digits=6, decimal_places=1, null=True, blank=True
    )
    hematocrit_pct = models.DecimalField("hematocrit (%)", max_digits=4, decimal_places=1, null=True, blank=True)
    wbc_k_per_ul = models.DecimalField("WBC (10³/µL)", max_digits=5, decimal_places=2, null=True, blank=True)
    identity_check = models.CharField(max_length=10, choices=IdentityCheck.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["clinic", "-drawn_at"], name="draw_clinic_time")]

    def __str__(self) -> str:
        return f"draw {self.pk} at {self.drawn_at:%Y-%m-%d %H:%M}"


class ProductStatus(models.TextChoices):
    DRAWN = "drawn", "Drawn"
    SPUN = "spun", "Spun"
    PREPARED = "prepared", "Prepared"
    VERIFIED = "verified", "Verified at bedside"
    APPLIED = "applied", "Applied"
    DISCARDED = "discarded", "Discarded"
    QUARANTINED = "quarantined", "Quarantined"


class Activation(models.TextChoices):
    NONE = "none", "None"
    CACL2 = "calcium_chloride", "Calcium chloride"
    CA_GLUCONATE = "calcium_gluconate", "Calcium gluconate"
    THROMBIN = "thrombin", "Thrombin"
    OTHER = "other", "Other"


def new_product_code() -> str:
    # 8 characters without look-alikes (0/O, 1/I): about 10^12 codes, typed by hand if need be.
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(8))


class Product(models.Model):
    """One patient's blood from the draw to the syringe at the bedside."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=12, unique=True, default=new_product_code)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="prp_products")
    draw = models.OneToOneField(BloodDraw, on_delete=models.PROTECT, related_name="product")
    status = models.CharField(max_length=12, choices=ProductStatus.choices, default=ProductStatus.DRAWN)
    # Where a quarantined product returns when a physician releases it.
    status_before_quarantine = models.CharField(max_length=12, choices=ProductStatus.choices, blank=True)
    prepared_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    volume_ml = models.DecimalField("PRP volume (mL)", max_digits=5, decimal_places=2, null=True, blank=True)
    platelets_k_per_ul = models.DecimalField(
        "PRP platelets (10³/µL)", max_digits=7, decimal_places=1, null=True, blank=True
    )
    wbc_k_per_ul = models.DecimalField("PRP WBC (10³/µL)", max_digits=6, decimal_places=2, null=True, blank=True)
    rbc_m_per_ul = models.DecimalField("PRP RBC (10⁶/µL)", max_digits=5, decimal_places=3, null=True, blank=True)
    activation = models.CharField(max_length=20, choices=Activation.choices, default=Activation.NONE)
    prepared_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "status"], name="product_clinic_status"),
            models.Index(fields=["clinic", "-created_at"], name="product_clinic_day"),
        ]

    def __str__(self) -> str:
        return self.barcode

    @property
    def barcode(self) -> str:
        return f"{PRODUCT_PREFIX}{self.code}"

    @property
    def last_spin(self) -> Spin | None:
        """The latest spin, from the prefetched spins when the selector fetched them."""
        spins = list(self.spins.all())
        return max(spins, key=lambda spin: spin.number) if spins else None

    def tube_barcode(self, number: int) -> str:
        return f"{self.barcode}{TUBE_MARK}{number}"

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        return self.expires_at is not None and (now or timezone.now()) >= self.expires_at


class ProductEvent(models.Model):
    """Each move of a product's state: from, to, who, when, why. Written by product_move only."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=12, choices=ProductStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=ProductStatus.choices)
    actor = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    # Room for a 300-character reason plus the service's prefix ("released: ...").
    reason = models.CharField(max_length=400, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.from_status or '∅'} → {self.to_status}"


class Spin(models.Model):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="spins")
    number = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(2)])
    centrifuge = models.ForeignKey(Centrifuge, on_delete=models.PROTECT, related_name="spins")
    program = models.ForeignKey(SpinProgram, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    rcf = models.PositiveIntegerField("x g")
    rpm = models.PositiveIntegerField()
    minutes = models.PositiveSmallIntegerField()
    temperature_c = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    started_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["product", "number"], name="spin_number_per_product")]
        indexes = [models.Index(fields=["clinic", "-started_at"], name="spin_clinic_time")]

    def __str__(self) -> str:
        return f"spin {self.number}: {self.rcf} g × {self.minutes} min"


class VerificationResult(models.TextChoices):
    MATCH = "match", "Match"
    MISMATCH = "mismatch", "Wrong patient"
    REFUSED = "refused", "Refused"


class Verification(models.Model):
    """One bedside scan of patient and product, whatever its result."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, null=True, blank=True, related_name="verifications")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    scanned_patient_code = models.CharField(max_length=40)
    scanned_product_code = models.CharField(max_length=40)
    result = models.CharField(max_length=10, choices=VerificationResult.choices)
    reason = models.CharField(max_length=300, blank=True)
    by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["clinic", "-at"], name="verification_clinic_time")]

    def __str__(self) -> str:
        return f"{self.scanned_product_code} / {self.scanned_patient_code}: {self.result}"


class IncidentStatus(models.TextChoices):
    OPEN = "open", "Open"
    RELEASED = "released", "Product released"
    DISCARDED = "discarded", "Product discarded"
    CLOSED = "closed", "Closed after review"


class Incident(models.Model):
    """A wrong-patient scan: recorded at once, the product quarantined until a physician decides."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="incidents")
    verification = models.OneToOneField(Verification, on_delete=models.PROTECT, related_name="incident")
    donor = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    scanned_patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    reported_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    reported_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=IncidentStatus.choices, default=IncidentStatus.OPEN)
    resolved_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["clinic", "status", "-reported_at"], name="incident_clinic_status")]

    def __str__(self) -> str:
        return f"incident {self.pk} ({self.status})"


class Application(models.Model):
    """The PRP given: to whom, by whom, when, where on the body, how much, and what was left."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    product = models.OneToOneField(Product, on_delete=models.PROTECT, related_name="application")
    verification = models.OneToOneField(Verification, on_delete=models.PROTECT, related_name="application")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="prp_applications")
    visit = models.ForeignKey("visits.Visit", on_delete=models.PROTECT, related_name="prp_applications")
    applied_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    applied_at = models.DateTimeField(default=timezone.now)
    # [{"zone": "forehead", "volume_ml": "1.0"}, ...]: the visit charting links zones to these.
    zones = models.JSONField(default=list)
    volume_applied_ml = models.DecimalField(max_digits=5, decimal_places=2)
    remainder_ml = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    remainder_disposed_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    remainder_disposed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"application of {self.product_id}"
