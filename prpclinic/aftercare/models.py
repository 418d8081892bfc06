"""Adverse events after a treatment, their outcome history, and the aftercare handed to the patient.

Nothing here is edited in place or deleted: an adverse event's outcome changes by appending an
``AdverseEventOutcome`` (the latest one is the current outcome), and every aftercare print or
e-mail is a new ``AftercareHandout`` keeping the exact text the patient received.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

USER = settings.AUTH_USER_MODEL


class AdverseEventType(models.TextChoices):
    # Event categories (a coded list, not clinical numbers); "other" needs a written description.
    PAIN = "pain", "Pain"
    ERYTHEMA = "erythema", "Erythema (redness)"
    OEDEMA = "oedema", "Oedema (swelling)"
    BRUISING = "bruising", "Bruising"
    BLEEDING = "bleeding", "Bleeding"
    HEMATOMA = "hematoma", "Hematoma"
    INFECTION = "infection", "Infection"
    ALLERGIC = "allergic_reaction", "Allergic reaction"
    VASOVAGAL = "vasovagal", "Vasovagal reaction / syncope"
    NODULES = "nodules", "Nodules"
    OTHER = "other", "Other"


class Severity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


class Outcome(models.TextChoices):
    RESOLVED = "resolved", "Resolved"
    RESOLVING = "resolving", "Resolving"
    NOT_RESOLVED = "not_resolved", "Not resolved"
    SEQUELAE = "resolved_with_sequelae", "Resolved with sequelae"
    UNKNOWN = "unknown", "Unknown"


class AdverseEvent(models.Model):
    """One adverse event of a visit, possibly reported days after it. Its outcome lives in ``outcomes``."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    visit = models.ForeignKey("visits.Visit", on_delete=models.PROTECT, related_name="adverse_events")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="adverse_events")
    type = models.CharField(max_length=24, choices=AdverseEventType.choices)
    type_other = models.CharField("other: what", max_length=120, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    # Severity says how intense; "serious" is the regulatory sense (hospitalisation, lasting harm,
    # life-threatening): a mild event can be serious and a severe one not.
    serious = models.BooleanField(
        default=False,
        help_text="Led to hospitalisation, lasting harm or danger to life, or needed intervention to prevent it.",
    )
    onset_at = models.DateTimeField("onset")
    description = models.TextField(blank=True, max_length=2000)
    action_taken = models.TextField("action taken", max_length=2000)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "-onset_at"], name="ae_clinic_onset"),
            models.Index(fields=["clinic", "patient", "-onset_at"], name="ae_clinic_patient"),
            models.Index(fields=["clinic", "visit"], name="ae_clinic_visit"),
            models.Index(fields=["clinic", "type", "-onset_at"], name="ae_clinic_type"),
            models.Index(fields=["clinic", "severity", "-onset_at"], name="ae_clinic_severity"),
            models.Index(fields=["clinic", "serious", "-onset_at"], name="ae_clinic_serious"),
        ]

    def __str__(self) -> str:
        return f"{self.type_label} ({self.get_severity_display().lower()})"

    @property
    def type_label(self) -> str:
        if self.type == AdverseEventType.OTHER and self.type_other:
            return f"Other: {self.type_other}"
        return self.get_type_display()

    @property
    def current_outcome_label(self) -> str:
        """The latest outcome, from the ``current_outcome`` annotation the list selectors add."""
        value = getattr(self, "current_outcome", None)
        return Outcome(value).label if value in Outcome.values else "—"


class AdverseEventOutcome(models.Model):
    """The outcome as assessed at one time. Appended, never changed: the latest is the current outcome."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    event = models.ForeignKey(AdverseEvent, on_delete=models.PROTECT, related_name="outcomes")
    outcome = models.CharField(max_length=24, choices=Outcome.choices)
    note = models.TextField(blank=True, max_length=2000)
    assessed_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "event", "-recorded_at"], name="ae_outcome_event"),
        ]
        ordering = ["recorded_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} at {self.assessed_at:%Y-%m-%d %H:%M}"


class HandoutMethod(models.TextChoices):
    PRINT = "print", "Printed"
    EMAIL = "email", "E-mailed"


class AftercareHandout(models.Model):
    """Aftercare given to the patient: how, when, by whom, to which address, and the exact text."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    visit = models.ForeignKey("visits.Visit", on_delete=models.PROTECT, related_name="aftercare_handouts")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="aftercare_handouts")
    method = models.CharField(max_length=8, choices=HandoutMethod.choices)
    to_address = models.EmailField(blank=True)
    # Where the instructions came from (e.g. "Micro-needling with PRP, protocol v3"), and the text sent.
    source = models.CharField(max_length=200)
    text = models.TextField()
    by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "visit", "-at"], name="handout_clinic_visit"),
            models.Index(fields=["clinic", "patient", "-at"], name="handout_clinic_patient"),
        ]

    def __str__(self) -> str:
        return f"aftercare {self.get_method_display().lower()} {self.at:%Y-%m-%d %H:%M}"


class AftercareContact(models.Model):
    """Whom the patient calls, as the clinic words it: printed and e-mailed with every handout."""

    clinic = models.OneToOneField("clinics.Clinic", on_delete=models.PROTECT, related_name="aftercare_contact")
    phone = models.CharField("phone for questions after a treatment", max_length=40, blank=True)
    hours = models.CharField("when it is answered", max_length=120, blank=True)
    out_of_hours = models.TextField(
        "outside those hours",
        max_length=1000,
        blank=True,
        help_text="What to do when the clinic is closed, e.g. the on-call number or the emergency number.",
    )
    watch_for = models.TextField(
        "what to watch for",
        max_length=2000,
        blank=True,
        help_text="Signs for which the patient should call, in the clinic's words (added to every handout).",
    )
    updated_by = models.ForeignKey(USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"aftercare contact of clinic {self.clinic_id}"
