"""Consent templates (versioned), the clinic's consent settings, signed consents and their revocations.

A template is never edited in place: a change writes the next version and the older one stops
being current, so every signed consent keeps pointing at the exact text the patient read. A signed
consent never changes after signing either: its revocation is a row of its own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from prpclinic.visits.models import TreatmentKind

# How long a consent stays valid unless the clinic or the template says otherwise. An
# administrative choice of the clinic (re-consent yearly), not a clinical fact.
DEFAULT_VALIDITY_DAYS = 365
MAX_VALIDITY_DAYS = 5 * 366


class ConsentKind(models.TextChoices):
    # One per treatment (the same values as visits.TreatmentKind), and the photography consent.
    MICRONEEDLING_PRP = TreatmentKind.MICRONEEDLING_PRP.value, TreatmentKind.MICRONEEDLING_PRP.label
    PRP_SCALP = TreatmentKind.PRP_SCALP.value, TreatmentKind.PRP_SCALP.label
    MESOTHERAPY = TreatmentKind.MESOTHERAPY.value, TreatmentKind.MESOTHERAPY.label
    PHOTOGRAPHY = "photography", "Photography and use of photos"


class PhotoUse(models.TextChoices):
    CLINICAL_RECORD = "clinical_record", "In my clinical record only (to follow my treatment)"
    SHARE_WITH_PATIENT = "share_with_patient", "Shared with me (copies given or sent to me)"
    TEACHING = "teaching", "Teaching and publication, anonymised (face and identifying marks hidden)"
    MARKETING = "marketing", "The clinic's marketing (website, social media, brochures)"


class SignerRelationship(models.TextChoices):
    PATIENT = "patient", "The patient"
    PARENT = "parent", "Parent"
    GUARDIAN = "guardian", "Legal guardian"
    REPRESENTATIVE = "representative", "Other legal representative"


def validity_validators() -> list[object]:
    return [MinValueValidator(1), MaxValueValidator(MAX_VALIDITY_DAYS)]


class ConsentSettings(models.Model):
    """The clinic's consent rules: whether a witness co-signs, and how long a consent stays valid."""

    clinic = models.OneToOneField("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    witness_required = models.BooleanField(
        "A witness co-signs every consent",
        default=False,
        help_text="When set, no consent is recorded without the witness's name and signature.",
    )
    validity_days = models.PositiveIntegerField(
        "A consent is valid for (days)",
        default=DEFAULT_VALIDITY_DAYS,
        validators=validity_validators(),
        help_text="Used for templates that do not set their own validity.",
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"Consent settings of clinic {self.clinic_id}"


class ConsentTemplate(models.Model):
    """One version of a consent form's text. Immutable: an edit writes version n+1."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=30, choices=ConsentKind.choices)
    version = models.PositiveIntegerField()
    is_current = models.BooleanField(default=True)
    title = models.CharField(max_length=200)
    procedure = models.TextField()
    benefits = models.TextField()
    risks = models.TextField()
    alternatives = models.TextField()
    aftercare = models.TextField()
    statement = models.TextField(
        "Meaning of the signature",
        help_text='What the signer declares by signing, e.g. "I have read and understood … and consent to …".',
    )
    validity_days = models.PositiveIntegerField(
        "Valid for (days)",
        null=True,
        blank=True,
        validators=validity_validators(),
        help_text="Leave empty to use the clinic's consent setting.",
    )
    change_note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "kind", "version"], name="consent_template_version"),
            models.UniqueConstraint(
                fields=["clinic", "kind"], condition=models.Q(is_current=True), name="consent_template_one_current"
            ),
        ]
        indexes = [models.Index(fields=["clinic", "kind", "is_current"], name="consent_template_current")]

    SECTIONS = ("procedure", "benefits", "risks", "alternatives", "aftercare")

    def __str__(self) -> str:
        return f"{self.title} (version {self.version})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A version once written is what past signers read: only its "current" mark may move.
        if not self._state.adding and set(kwargs.get("update_fields") or ()) != {"is_current"}:
            raise ValueError("A consent template version never changes; write a new version instead.")
        super().save(*args, **kwargs)


class SignedConsent(models.Model):
    """A consent as signed: the template version, who signed, what the signature meant, when, the frozen PDF.

    Never changed after signing (services.consent_sign writes it once); a revocation is a
    ``ConsentRevocation`` row, so the record reads exactly as it was signed.
    """

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="consents")
    kind = models.CharField(max_length=30, choices=ConsentKind.choices)
    template = models.ForeignKey(ConsentTemplate, on_delete=models.PROTECT, related_name="signatures")
    template_version = models.PositiveIntegerField()
    signer_name = models.CharField(max_length=150)
    signer_relationship = models.CharField(
        max_length=20, choices=SignerRelationship.choices, default=SignerRelationship.PATIENT
    )
    signature_png = models.BinaryField()
    meaning = models.TextField()
    photo_uses = models.JSONField(default=list, blank=True)
    witness_name = models.CharField(max_length=150, blank=True)
    witness_signature_png = models.BinaryField(blank=True, default=b"")
    signed_at = models.DateTimeField(default=timezone.now)  # UTC in the database
    signed_timezone = models.CharField(max_length=64)  # the clinic's zone, as shown to the signer
    expires_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    pdf_name = models.CharField(max_length=255)
    pdf_sha256 = models.CharField(max_length=64)
    pdf_size = models.PositiveIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "patient", "kind", "-signed_at"], name="consent_patient_kind"),
            models.Index(fields=["clinic", "-signed_at"], name="consent_clinic_day"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} consent, version {self.template_version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("A signed consent never changes; record a revocation or a new consent instead.")
        super().save(*args, **kwargs)

    def revocation_or_none(self) -> ConsentRevocation | None:
        try:
            return self.revocation
        except ConsentRevocation.DoesNotExist:
            return None

    def status_at(self, now: dt.datetime) -> str:
        """``revoked``, ``expired`` or ``valid`` at ``now``."""
        if self.revocation_or_none() is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "valid"

    @property
    def status(self) -> str:
        return self.status_at(timezone.now())

    def photo_use_labels(self) -> list[str]:
        return [PhotoUse(use).label for use in self.photo_uses if use in PhotoUse.values]


class ConsentRevocation(models.Model):
    """The patient withdrew a consent: who recorded it, when, why. The consent stays, revoked."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    consent = models.OneToOneField(SignedConsent, on_delete=models.PROTECT, related_name="revocation")
    revoked_at = models.DateTimeField(default=timezone.now)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500)

    class Meta:
        indexes = [models.Index(fields=["clinic", "-revoked_at"], name="consent_revoked_day")]

    def __str__(self) -> str:
        return f"Revocation of consent {self.consent_id}"
