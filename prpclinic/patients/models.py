"""The patient registry."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone

from prpclinic.patients import skin_types

EARLIEST_BIRTH = dt.date(1900, 1, 1)


def validate_person_name(value: str) -> None:
    """Letters (any script), spaces, hyphens, apostrophes and full stops: nothing that is markup."""
    allowed_punctuation = set(" -'’.")
    if not any(unicodedata.category(ch).startswith("L") for ch in value):
        raise ValidationError("A name needs at least one letter.")
    for ch in value:
        if not (unicodedata.category(ch)[0] in "LM" or ch in allowed_punctuation):
            raise ValidationError(
                "A name may contain letters, spaces, hyphens, apostrophes and full stops only; "
                "“%(char)s” is not allowed.",
                params={"char": ch},
                code="invalid_name",
            )


def validate_date_of_birth(value: dt.date) -> None:
    today = timezone.localdate()
    if value > today:
        raise ValidationError("The date of birth cannot be in the future.")
    if value < EARLIEST_BIRTH:
        raise ValidationError("The date of birth cannot be before 1900.")


def fold(text: str) -> str:
    """Lower case without accents, for search: “Müller” and “muller” find each other."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


class Sex(models.TextChoices):
    # The FHIR AdministrativeGender codes, so that later export needs no mapping table.
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class Patient(models.Model):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="patients")
    mrn = models.CharField("medical record number", max_length=20)
    given_name = models.CharField(max_length=80, validators=[validate_person_name])
    family_name = models.CharField(max_length=80, validators=[validate_person_name])
    date_of_birth = models.DateField(validators=[validate_date_of_birth])
    sex = models.CharField(max_length=10, choices=Sex.choices)
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    address = models.TextField(max_length=300, blank=True)
    # The patient's choice, kept with their contact details: no reminder, aftercare or next-session message by
    # e-mail or SMS. db_default so rows written without it (bulk loads, the benchmark's COPY) mean "messages on".
    no_reminders = models.BooleanField(
        "No reminders or messages",
        default=False,
        db_default=False,
        help_text="The patient asked not to get appointment reminders, aftercare or next-session messages.",
    )
    fitzpatrick_skin_type = models.CharField(
        "Fitzpatrick skin type",
        max_length=3,
        choices=skin_types.CHOICES,
        blank=True,
        help_text=f"Source: {skin_types.SOURCE}",
    )
    allergies = models.TextField(max_length=2000, blank=True)
    current_medications = models.TextField(max_length=2000, blank=True)
    notes = models.TextField(max_length=4000, blank=True)
    is_active = models.BooleanField(default=True)
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_duplicates"
    )
    # Folded "family given mrn", kept by save(); what search matches. Indexed on PostgreSQL by
    # migration 0002 (trigram GIN and pattern B-tree), which Meta.indexes cannot express.
    search_text = models.CharField(max_length=200, editable=False, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clinic", "mrn"], name="patient_mrn_unique_per_clinic")]
        indexes = [
            models.Index(fields=["clinic", "family_name", "given_name"], name="patient_clinic_name"),
            models.Index(fields=["clinic", "date_of_birth"], name="patient_clinic_dob"),
            models.Index(fields=["clinic", "-updated_at"], name="patient_clinic_recent"),
        ]
        ordering = ["family_name", "given_name", "id"]

    CLINICAL_FIELDS = ("fitzpatrick_skin_type", "allergies", "current_medications", "notes")

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.search_text = fold(f"{self.family_name} {self.given_name} {self.mrn}")[:200]
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def age_on(self, day: dt.date) -> int:
        born = self.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    @property
    def age(self) -> int:
        return self.age_on(timezone.localdate())


# A FHIR Identifier.system: an absolute http(s) URL or a URN (urn:oid:…, urn:uuid:…, urn:<nid>:…).
_URN = re.compile(r"^urn:[a-z0-9][a-z0-9-]{0,31}:\S+$", re.IGNORECASE)
_HTTP_URL = URLValidator(schemes=["http", "https"])


def validate_identifier_system(value: str) -> None:
    """The system must be a URI that names who issued the number; a bare word matches nothing reliably."""
    if value != value.strip() or any(ch.isspace() for ch in value):
        raise ValidationError("An identifier system may not contain spaces.")
    if _URN.match(value):
        return
    try:
        _HTTP_URL(value)
    except ValidationError:
        raise ValidationError(
            "“%(system)s” is not an identifier system: give a URI such as https://hospital.example/mrn "
            "or urn:oid:1.2.36.146.595.217.0.1.",
            params={"system": value},
            code="invalid_system",
        ) from None


def mrn_system(clinic_slug: str) -> str:
    """The identifier system of a clinic's own record numbers, as FHIR exports and imports name it."""
    return f"urn:prpclinic:clinic:{clinic_slug}:mrn"


class IdentifierSource(models.TextChoices):
    FHIR_IMPORT = "fhir-import", "FHIR import"
    CSV_IMPORT = "csv-import", "CSV import"
    STAFF = "staff", "Entered by staff"


class ExternalIdentifier(models.Model):
    """A patient's number in another system (a hospital's MRN, a national id), kept to recognise the patient again.

    Unique per clinic and system: one hospital number names one patient of this clinic, which is what lets an
    import of the same hospital export update instead of duplicate. Two clinics may each hold the same foreign
    number for their own record of the person (tenancy). Never deleted: a merge moves it to the survivor.
    """

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="external_identifiers")
    system = models.CharField(max_length=255, validators=[validate_identifier_system])
    value = models.CharField(max_length=100)
    source = models.CharField(max_length=20, choices=IdentifierSource.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        # The unique constraint's index is also the lookup index for (clinic, system, value).
        constraints = [
            models.UniqueConstraint(fields=["clinic", "system", "value"], name="external_identifier_unique_per_clinic")
        ]
        ordering = ["system", "value", "id"]

    def __str__(self) -> str:
        return f"{self.system}|{self.value}"

    def clean_fields(self, exclude: Any = None) -> None:
        # Stripped before the validators run: a number pasted with a trailing space is the same number.
        self.system = (self.system or "").strip()
        self.value = (self.value or "").strip()
        super().clean_fields(exclude=exclude)

    def clean(self) -> None:
        if self.patient_id is not None and self.clinic_id is not None and self.patient.clinic_id != self.clinic_id:
            raise ValidationError("The identifier must belong to a patient of the same clinic.")
