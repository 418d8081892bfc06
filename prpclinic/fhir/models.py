"""FHIR access tokens and bulk export jobs.

A token is shown once when issued and stored only as its SHA-256 hash: a copy of the database
does not let anyone call the API. Tokens and jobs are never deleted (revocation and status fields
keep the history the audit trail points at).
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

# The scopes this server grants (SMART App Launch v1 style). `patient/*.read` reads the patient-compartment
# types resource by resource (any patient of the clinic, or only the token's own patient when it has one);
# `system/*.read` reads every type and adds the bulk exports.
SCOPES: dict[str, str] = {
    "patient/*.read": "Read patient records (read and search)",
    "system/*.read": "Read everything, including bulk export ($export)",
}

TOKEN_PREFIX = "prpfhir_"  # noqa: S105 (a public prefix, not a secret)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def new_raw_token() -> str:
    # 32 random bytes: unguessable; the prefix lets secret scanners recognise a leaked token.
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class TokenKind(models.TextChoices):
    STAFF = "staff", "Staff member"
    SYSTEM = "system", "System client"


class FhirToken(models.Model):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="fhir_tokens")
    label = models.CharField(max_length=100, help_text="Who or what uses this token, e.g. “Hospital EHR”.")
    kind = models.CharField(max_length=10, choices=TokenKind.choices, default=TokenKind.SYSTEM)
    # A staff token acts for this person and stops working when their place in the clinic ends.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="fhir_tokens"
    )
    scopes = models.CharField(max_length=200, help_text="Space-separated SMART scopes.")
    token_hash = models.CharField(max_length=64, editable=False)
    # The first characters of the token, so that staff can tell tokens apart without the secret.
    hint = models.CharField(max_length=16, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    # SMART patient context: the token reads this one patient's compartment and nothing else. related_name "+"
    # on purpose: a patient merge moves every *visible* relation to the survivor, and a token must not silently
    # follow its patient into another record (it answers 401 once its patient is merged; see auth.authenticate).
    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "token_hash"], name="fhir_token_unique_hash_per_clinic"),
        ]
        indexes = [
            # Every API request looks its token up by hash alone (the clinic comes from the token).
            models.Index(fields=["token_hash"], name="fhir_token_hash_idx"),
            models.Index(fields=["clinic", "-created_at"], name="fhir_token_clinic_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.hint}…)"

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    def state(self, now: object = None) -> str:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:  # type: ignore[operator]
            return "expired"
        return "active"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ExportLevel(models.TextChoices):
    SYSTEM = "system", "System ($export)"
    PATIENT = "patient", "Patients (Patient/$export)"


class ExportJob(models.Model):
    """One bulk export ($export): NDJSON files per resource type in Django storage."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="fhir_exports")
    # Started through the API (token) or from the staff page (user); the files are served to the same token.
    token = models.ForeignKey(FhirToken, null=True, blank=True, on_delete=models.PROTECT, related_name="exports")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    types = models.JSONField(default=list, blank=True, help_text="Resource types asked for; empty means all.")
    since = models.DateTimeField(null=True, blank=True)
    # System level: every served type. Patient level: the patient-compartment types, of ``patients`` (ids), or of
    # every patient of the clinic when that list is empty.
    level = models.CharField(max_length=10, choices=ExportLevel.choices, default=ExportLevel.SYSTEM)
    patients = models.JSONField(
        default=list, blank=True, help_text="Patient ids of a patient-level export; empty means all."
    )
    request_url = models.CharField(max_length=500)
    transaction_time = models.DateTimeField(default=timezone.now)
    progress = models.CharField(max_length=200, blank=True)
    # [{"type": "Patient", "name": "<storage name>", "count": 12}, ...]
    output = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["clinic", "-created_at"], name="fhir_export_clinic_idx")]

    def __str__(self) -> str:
        return f"Export {self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (ExportStatus.DONE, ExportStatus.FAILED, ExportStatus.CANCELLED)
