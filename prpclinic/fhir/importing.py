"""Import from another system: a FHIR transaction Bundle of Patients and Appointments, or a CSV of patients.

Both imports are all-or-nothing: every entry (or row) is tried inside one transaction, each in a
savepoint so that one refusal does not hide the next; if any entry is refused, the whole
transaction is rolled back and the report says what would have been created or updated and why
the refused ones were refused. Writes go through the apps' services (``patients.services``,
``scheduling.services.appointment_book``), so every created or changed record is audited as if
typed in by the importing admin; one ``data.import`` event sums up a committed import.

De-duplication is by any identifier. Our own MRN (system ``urn:prpclinic:clinic:<slug>:mrn``)
matches the record number; any other system (a hospital's MRN, a national id) matches the
clinic's ``ExternalIdentifier`` rows. All matches on one patient: that record is updated and
takes the entry's new foreign identifiers; no match: a record is created (the MRN kept if given,
else the clinic's next one) with its foreign identifiers; matches on two different patients, an
identifier without a system, or the same identifier in two entries of one file: refused. A match
on a merged-away record updates the record it was merged into, never the merged one.

Nothing here logs patient data; the report is shown to the importing admin only.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from pydantic import ValidationError as FhirValidationError

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.patients.models import (
    ExternalIdentifier,
    IdentifierSource,
    Patient,
    Sex,
    mrn_system,
    validate_identifier_system,
)
from prpclinic.patients.services import patient_create, patient_update
from prpclinic.scheduling.models import Appointment
from prpclinic.scheduling.services import appointment_book
from prpclinic.visits.models import TreatmentKind

# Size limits: a clinic's migration comes in several files rather than one that exhausts the server.
MAX_BUNDLE_BYTES = 5 * 1024 * 1024
MAX_BUNDLE_ENTRIES = 2000
MAX_CSV_BYTES = 5 * 1024 * 1024
MAX_CSV_ROWS = 5000
PREVIEW_ROWS = 10

LOCAL_SYSTEM = "https://prpclinic.org/fhir/CodeSystem/prpclinic"
TREATMENT_PREFIX = "treatment-"

# The patient fields an import may fill (the demographic ones: clinical fields are charted, not imported).
IMPORT_FIELDS: dict[str, str] = {
    "mrn": "Record number (MRN)",
    "given_name": "Given name",
    "family_name": "Family name",
    "date_of_birth": "Date of birth",
    "sex": "Sex",
    "phone": "Phone",
    "email": "E-mail",
    "address": "Address",
    # Another system's number for the patient; its system is typed on the mapping page (one per file).
    "external_id": "External identifier value",
}
REQUIRED_FIELDS = ("given_name", "family_name", "date_of_birth", "sex")

DATE_FORMATS: dict[str, str] = {
    "%Y-%m-%d": "YYYY-MM-DD (2026-03-31)",
    "%d.%m.%Y": "DD.MM.YYYY (31.03.2026)",
    "%d/%m/%Y": "DD/MM/YYYY (31/03/2026)",
    "%m/%d/%Y": "MM/DD/YYYY (03/31/2026)",
}

# Words other systems use for sex, folded to the FHIR AdministrativeGender codes the model stores.
SEX_WORDS: dict[str, str] = {
    "female": Sex.FEMALE,
    "f": Sex.FEMALE,
    "w": Sex.FEMALE,
    "male": Sex.MALE,
    "m": Sex.MALE,
    "other": Sex.OTHER,
    "diverse": Sex.OTHER,
    "d": Sex.OTHER,
    "unknown": Sex.UNKNOWN,
    "u": Sex.UNKNOWN,
}


class ImportRefused(Exception):
    """The file as a whole cannot be read (not the right format, too large)."""


@dataclass
class EntryResult:
    """One entry's (or row's) outcome: ``created``, ``updated``, ``unchanged`` or ``refused``."""

    number: int
    kind: str
    outcome: str
    record: str = ""
    messages: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    entries: list[EntryResult]
    committed: bool

    def count(self, outcome: str) -> int:
        return sum(1 for entry in self.entries if entry.outcome == outcome)

    @property
    def created(self) -> int:
        return self.count("created")

    @property
    def updated(self) -> int:
        return self.count("updated")

    @property
    def unchanged(self) -> int:
        return self.count("unchanged")

    @property
    def refused(self) -> int:
        return self.count("refused")


# How many merges deep a match is followed to its survivor (a merge chain is short; this only stops a cycle).
MAX_MERGE_HOPS = 20


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [
            # An identifier refusal names the identifier itself: no field label in front.
            f"{IMPORT_FIELDS.get(name, name.replace('_', ' '))}: {message}"
            if name not in ("__all__", "identifier")
            else message
            for name, errors in exc.message_dict.items()
            for message in errors
        ]
    return list(exc.messages)


ForeignId = tuple[str, str]  # (system, value) of an identifier issued by another system


def _label(identifier: ForeignId) -> str:
    return f"{identifier[0]}|{identifier[1]}"


def foreign_identifier(system: str, value: str) -> ForeignId:
    """A checked (system, value) pair, stripped; ValidationError saying what is wrong with it."""
    system, value = system.strip(), value.strip()
    if not system:
        raise ValidationError(
            {"identifier": f"Identifier {value} has no system: it cannot be matched to a patient, so it is refused."}
        )
    try:
        validate_identifier_system(system)
    except ValidationError as exc:
        raise ValidationError(exc.messages) from exc
    max_system = ExternalIdentifier._meta.get_field("system").max_length or 255
    max_value = ExternalIdentifier._meta.get_field("value").max_length or 100
    if len(system) > max_system:
        raise ValidationError(f"The identifier system is longer than {max_system} characters.")
    if len(value) > max_value:
        raise ValidationError(f"Identifier {_label((system, value))} is longer than {max_value} characters.")
    return system, value


def _survivor(patient: Patient) -> Patient:
    """The record a merged-away duplicate now lives in (following merges of merges), or the patient itself."""
    hops = 0
    while patient.merged_into_id is not None and hops < MAX_MERGE_HOPS:
        patient = Patient.objects.only("pk", "mrn", "merged_into_id").get(pk=patient.merged_into_id)
        hops += 1
    return patient


def _match(
    clinic: Any, mrn: str, foreign: list[ForeignId], entry: EntryResult
) -> tuple[Patient | None, set[ForeignId]]:
    """The one patient the entry's identifiers name (or None) and the foreign identifiers already on record.

    Refuses (ValidationError) when the identifiers name two different patients, or when the entry's record
    number is unknown here while one of its foreign identifiers names a patient: the file contradicts itself.
    """
    found: list[tuple[str, Patient]] = []  # (how it was found, the record found)
    by_mrn = Patient.objects.filter(clinic=clinic, mrn=mrn).only("pk", "mrn", "merged_into_id").first() if mrn else None
    if by_mrn is not None:
        found.append((f"record number {mrn}", by_mrn))
    known: set[ForeignId] = set()
    if foreign:
        wanted = Q(pk__in=[])
        for system, value in foreign:
            wanted |= Q(system=system, value=value)
        rows = (
            ExternalIdentifier.objects.filter(clinic=clinic)
            .filter(wanted)
            .select_related("patient")
            .only("system", "value", "patient__id", "patient__mrn", "patient__merged_into_id")
            .order_by("pk")
        )
        for row in rows:
            known.add((row.system, row.value))
            found.append((f"identifier {_label((row.system, row.value))}", row.patient))
    if not found:
        return None, known
    survivors: dict[int, tuple[Patient, list[str]]] = {}
    for how, patient in found:
        survivor = _survivor(patient)
        if survivor.pk != patient.pk:
            entry.messages.append(
                f"Matched by {how}: record {patient.mrn} was merged into {survivor.mrn}, which is updated instead."
            )
        survivors.setdefault(survivor.pk, (survivor, []))[1].append(how)
    if len(survivors) > 1:
        parts = [f"{', '.join(hows)} to MRN {patient.mrn}" for patient, hows in survivors.values()]
        parts[0] = parts[0].replace(" to MRN ", " belongs to MRN ", 1)
        raise ValidationError(
            {
                "identifier": f"These identifiers name different patients: {', '.join(parts)}. "
                "Merge the duplicate records first, or correct the file."
            }
        )
    patient, hows = next(iter(survivors.values()))
    if mrn and by_mrn is None:
        raise ValidationError(
            {
                "identifier": f"Record number {mrn} is not a patient of this clinic, but {hows[0]} belongs to "
                f"MRN {patient.mrn}. Correct the file."
            }
        )
    return patient, known


def _add_identifiers(request: HttpRequest, patient: Patient, foreign: list[ForeignId], *, source: str) -> None:
    """Keep the patient's new foreign identifiers (validated, unique per clinic and system) and audit them."""
    if not foreign:
        return
    rows = [
        ExternalIdentifier(
            clinic=request.clinic,
            patient=patient,
            system=system,
            value=value,
            source=source,
            created_by=request.user if request.user.is_authenticated else None,
        )
        for system, value in foreign
    ]
    for row in rows:
        # The foreign keys are this clinic, this patient and this user: not looked up again per row.
        row.full_clean(exclude=["clinic", "patient", "created_by"], validate_constraints=False)
    try:
        with transaction.atomic():
            ExternalIdentifier.objects.bulk_create(rows)
    except IntegrityError as exc:  # another import recorded the same number meanwhile
        raise ValidationError(
            "One of these identifiers was just recorded for another patient; import the file again."
        ) from exc
    audit_record(
        action="patient.identifier_add",
        request=request,
        obj=patient,
        changes={"external_identifiers": [None, [_label(f) for f in foreign]], "source": source},
    )


def _save_patient(
    request: HttpRequest,
    data: dict[str, Any],
    foreign: list[ForeignId],
    seen: dict[ForeignId, int],
    entry: EntryResult,
    *,
    source: str,
) -> tuple[str, Patient]:
    """Create or update the patient the identifiers name; ``seen`` refuses one identifier in two entries of a file.

    ``data`` may carry our MRN; ``foreign`` are the other systems' identifiers (checked, without duplicates).
    """
    mrn = data.get("mrn", "")
    keys: list[tuple[ForeignId, str]] = (
        [((mrn_system(request.clinic.slug), mrn), f"Record number {mrn}")] if mrn else []
    )
    keys += [(identifier, f"Identifier {_label(identifier)}") for identifier in foreign]
    for key, label in keys:
        if key in seen:
            raise ValidationError(
                {"identifier": f"{label} appears twice in this file (also entry {seen[key]}): the same patient twice."}
            )
    for key, _label_text in keys:
        seen[key] = entry.number
    existing, known = _match(request.clinic, mrn, foreign, entry)
    new_foreign = [identifier for identifier in foreign if identifier not in known]
    if existing is None:
        patient = patient_create(request=request, data=data)
        _add_identifiers(request, patient, new_foreign, source=source)
        return "created", patient
    changes = {name: value for name, value in data.items() if name != "mrn"}
    before = Patient.objects.get(pk=existing.pk)
    patient = patient_update(request=request, patient_id=existing.pk, data=changes)
    _add_identifiers(request, patient, new_foreign, source=source)
    same = all(getattr(before, name) == value for name, value in changes.items()) and not new_foreign
    return ("unchanged" if same else "updated"), patient


def _tried(entry: EntryResult, action: Any) -> Any:
    """Run ``action`` in a savepoint; a refusal rolls back that entry only and is written into ``entry``."""
    try:
        with transaction.atomic():
            return action()
    except ValidationError as exc:
        entry.outcome = "refused"
        entry.messages += _messages(exc)
    return None


def _finish(request: HttpRequest, entries: list[EntryResult], *, source: str) -> ImportReport:
    """Inside the import's transaction: roll everything back if anything was refused, else audit the totals."""
    report = ImportReport(entries=entries, committed=not any(e.outcome == "refused" for e in entries))
    if report.committed:
        audit_record(
            action="data.import",
            request=request,
            obj=request.clinic,
            changes={
                "source": [None, source],
                "created": [None, report.created],
                "updated": [None, report.updated],
                "unchanged": [None, report.unchanged],
            },
        )
    else:
        transaction.set_rollback(True)
    return report


# --- FHIR ------------------------------------------------------------------------------------


def read_bundle(raw: bytes) -> dict[str, Any]:
    """The Bundle as JSON, or ``ImportRefused`` saying why the file as a whole cannot be imported."""
    if len(raw) > MAX_BUNDLE_BYTES:
        raise ImportRefused(f"The file is larger than {MAX_BUNDLE_BYTES // (1024 * 1024)} MB; split it.")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportRefused("The file is not FHIR JSON (it could not be read as JSON).") from exc
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise ImportRefused("The file is not a FHIR Bundle (resourceType must be Bundle).")
    if data.get("type") != "transaction":
        raise ImportRefused("Only a Bundle of type transaction is imported.")
    entries = data.get("entry") or []
    if not isinstance(entries, list):
        raise ImportRefused("The Bundle's entry must be a list.")
    if len(entries) > MAX_BUNDLE_ENTRIES:
        raise ImportRefused(f"The Bundle has more than {MAX_BUNDLE_ENTRIES} entries; split it.")
    return data


def _r4b(resource: dict[str, Any]) -> Any:
    """The resource parsed by its fhir.resources R4B model (ValidationError with its messages if it does not parse)."""
    from fhir.resources.R4B.appointment import Appointment as FhirAppointment
    from fhir.resources.R4B.patient import Patient as FhirPatient

    model = {"Patient": FhirPatient, "Appointment": FhirAppointment}[resource["resourceType"]]
    try:
        return model.model_validate(resource)
    except FhirValidationError as exc:
        raise ValidationError(
            [f"Not valid FHIR R4B: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]]
        ) from exc


def _patient_identifiers(resource: Any, clinic_slug: str, entry: EntryResult) -> tuple[str, list[ForeignId]]:
    """The Patient's MRN in this clinic (or "") and its other systems' identifiers, checked and without repeats."""
    own_system = mrn_system(clinic_slug)
    mrn = ""
    foreign: list[ForeignId] = []
    for identifier in resource.identifier or []:
        system, value = (identifier.system or "").strip(), (identifier.value or "").strip()
        if not value:
            # FHIR allows an identifier whose value is absent; there is nothing to match or keep.
            entry.messages.append(f"An identifier of {system or 'no system'} without a value is not kept.")
            continue
        if system == own_system:
            if mrn and mrn != value:
                raise ValidationError({"mrn": f"The Patient has two record numbers of this clinic: {mrn} and {value}."})
            mrn = value
            continue
        checked = foreign_identifier(system, value)
        if checked not in foreign:
            foreign.append(checked)
    return mrn, foreign


def _patient_data(resource: Any) -> dict[str, Any]:
    """A FHIR Patient's demographics as the registry's fields (identifiers: ``_patient_identifiers``)."""
    data: dict[str, Any] = {}
    names = [n for n in resource.name or [] if n.use in (None, "official", "usual")] or list(resource.name or [])
    if not names:
        raise ValidationError({"family_name": "The Patient has no name."})
    name = names[0]
    data["given_name"] = " ".join(name.given or [])
    data["family_name"] = name.family or ""
    if resource.birthDate is None:
        raise ValidationError({"date_of_birth": "The Patient has no birthDate."})
    if not isinstance(resource.birthDate, dt.date):
        raise ValidationError({"date_of_birth": "The birthDate must be a full date (year, month and day)."})
    data["date_of_birth"] = resource.birthDate
    if resource.gender not in Sex.values:
        raise ValidationError({"sex": "The Patient's gender must be one of female, male, other, unknown."})
    data["sex"] = resource.gender
    for contact in resource.telecom or []:
        if contact.system == "phone" and contact.value and "phone" not in data:
            data["phone"] = contact.value
        elif contact.system == "email" and contact.value and "email" not in data:
            data["email"] = contact.value
    if resource.address:
        address = resource.address[0]
        text = address.text or ", ".join(
            part for part in [*(address.line or []), address.postalCode, address.city, address.country] if part
        )
        if text:
            data["address"] = text
    return data


def _appointment_treatment(resource: Any) -> str:
    for concept in resource.serviceType or []:
        for coding in concept.coding or []:
            if coding.system == LOCAL_SYSTEM and (coding.code or "").startswith(TREATMENT_PREFIX):
                code = coding.code.removeprefix(TREATMENT_PREFIX)
                if code in TreatmentKind.values:
                    return code
    known = ", ".join(TREATMENT_PREFIX + value for value in TreatmentKind.values)
    raise ValidationError({"treatment": f"The serviceType must name a treatment of {LOCAL_SYSTEM}: {known}."})


def _appointment_patient(resource: Any, patients_by_url: dict[str, int], clinic_id: int) -> int:
    for participant in resource.participant or []:
        reference = participant.actor.reference if participant.actor else None
        if not reference:
            continue
        if reference in patients_by_url:
            return patients_by_url[reference]
        if reference.startswith("Patient/"):
            local = reference.removeprefix("Patient/")
            if local.isdigit() and Patient.objects.filter(clinic_id=clinic_id, pk=int(local)).exists():
                return int(local)
            raise ValidationError({"patient": f"{reference} is not a patient of this clinic."})
        if reference.startswith("urn:uuid:"):
            raise ValidationError({"patient": f"{reference} is not the fullUrl of a Patient imported in this Bundle."})
    raise ValidationError({"patient": "The Appointment has no participant that is a Patient."})


def import_bundle(*, request: HttpRequest, bundle: dict[str, Any], clinician_id: int | None = None) -> ImportReport:
    """Import a transaction Bundle read by ``read_bundle``: Patients first, then Appointments referring to them.

    Appointments are booked with ``clinician_id`` (a physician or nurse of this clinic, chosen on
    the import page): the exported Appointments of other systems name practitioners we do not know.

    Side effects (only when no entry is refused): patients created or updated, appointments booked,
    their audit events, and one ``data.import`` event with the totals.
    """
    access.require(request, "data.import")
    clinic = request.clinic
    raw_entries = list(enumerate(bundle.get("entry") or [], start=1))
    results: dict[int, EntryResult] = {}
    patients_by_url: dict[str, int] = {}
    seen: dict[ForeignId, int] = {}
    appointments: list[tuple[int, dict[str, Any]]] = []
    with transaction.atomic():
        for number, raw in raw_entries:
            resource = raw.get("resource") if isinstance(raw, dict) else None
            kind = resource.get("resourceType", "") if isinstance(resource, dict) else ""
            entry = results[number] = EntryResult(number=number, kind=kind or "?", outcome="created")
            if kind not in ("Patient", "Appointment"):
                entry.outcome = "refused"
                entry.messages.append("Only Patient and Appointment resources are imported.")
                continue
            method = (raw.get("request") or {}).get("method") if isinstance(raw.get("request"), dict) else None
            if method not in (None, "POST", "PUT"):
                # Records are never deleted or patched from outside: a DELETE would erase clinical history.
                entry.outcome = "refused"
                entry.messages.append(f"Only POST and PUT entries are imported, not {method}.")
                continue
            if kind == "Appointment":
                appointments.append((number, resource))  # after every Patient, whatever the order
                continue

            def patient_entry(resource: dict[str, Any] = resource, entry: EntryResult = entry) -> Patient:
                parsed = _r4b(resource)
                mrn, foreign = _patient_identifiers(parsed, clinic.slug, entry)
                data = _patient_data(parsed) | ({"mrn": mrn} if mrn else {})
                outcome, patient = _save_patient(
                    request, data, foreign, seen, entry, source=IdentifierSource.FHIR_IMPORT
                )
                entry.outcome, entry.record = outcome, f"Patient {patient.mrn} (record {patient.pk})"
                return patient

            patient = _tried(entry, patient_entry)
            full_url = raw.get("fullUrl")
            if patient is not None and isinstance(full_url, str) and full_url:
                patients_by_url[full_url] = patient.pk
        for number, resource in appointments:
            entry = results[number]

            def appointment_entry(resource: dict[str, Any] = resource, entry: EntryResult = entry) -> None:
                parsed = _r4b(resource)
                if parsed.status != "booked":
                    raise ValidationError({"status": "Only booked appointments are imported."})
                if parsed.start is None:
                    raise ValidationError({"starts_at": "The Appointment has no start."})
                patient_id = _appointment_patient(parsed, patients_by_url, clinic.pk)
                treatment = _appointment_treatment(parsed)
                existing = Appointment.objects.filter(
                    clinic=clinic, patient_id=patient_id, starts_at=parsed.start, treatment=treatment
                ).first()
                if existing is not None:
                    entry.outcome, entry.record = "unchanged", f"Appointment {existing.pk}"
                    return
                appointment = appointment_book(
                    request=request,
                    patient_id=patient_id,
                    treatment=treatment,
                    clinician_id=clinician_id,
                    room_id=None,
                    starts_at=parsed.start,
                    note=(parsed.comment or "")[:500],
                )
                entry.outcome, entry.record = "created", f"Appointment {appointment.pk}"

            _tried(entry, appointment_entry)
        return _finish(request, [results[n] for n, _ in raw_entries], source="FHIR Bundle")


# --- CSV -------------------------------------------------------------------------------------


@dataclass
class CsvTable:
    columns: list[str]
    rows: list[list[str]]


def read_csv(raw: bytes) -> CsvTable:
    """The CSV's header and rows (comma, semicolon or tab; UTF-8 or Latin-1), or ``ImportRefused``."""
    if len(raw) > MAX_CSV_BYTES:
        raise ImportRefused(f"The file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB; split it.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [row for row in csv.reader(io.StringIO(text), dialect) if any(cell.strip() for cell in row)]
    if len(rows) < 2:
        raise ImportRefused("The file needs a header row and at least one patient row.")
    if len(rows) - 1 > MAX_CSV_ROWS:
        raise ImportRefused(f"The file has more than {MAX_CSV_ROWS} rows; split it.")
    columns = [cell.strip() or f"Column {i}" for i, cell in enumerate(rows[0], start=1)]
    return CsvTable(columns=columns, rows=rows[1:])


def guess_mapping(columns: list[str]) -> dict[str, str]:
    """For each patient field, the column whose header looks like it (the admin confirms or changes it)."""
    hints = {
        "mrn": ("mrn", "record", "patient id", "patientid"),
        "given_name": ("given", "first", "vorname"),
        "family_name": ("family", "last", "surname", "nachname"),
        "date_of_birth": ("birth", "dob", "geburt"),
        "sex": ("sex", "gender", "geschlecht"),
        "phone": ("phone", "tel", "mobile"),
        "email": ("mail",),
        "address": ("address", "adresse", "street"),
    }
    mapping: dict[str, str] = {}
    for name, words in hints.items():
        for index, column in enumerate(columns):
            if any(word in column.lower() for word in words) and str(index) not in mapping.values():
                mapping[name] = str(index)
                break
    return mapping


def check_identifier_system(system: str, clinic_slug: str) -> str:
    """The system typed for a CSV's external identifier column, stripped; ValidationError if it cannot be one."""
    system = system.strip()
    if not system:
        raise ValidationError(
            "Type the system of the external identifiers (a URI such as https://hospital.example/mrn)."
        )
    if system == mrn_system(clinic_slug):
        raise ValidationError("That is this clinic's own record number: choose that column as Record number (MRN).")
    validate_identifier_system(system)
    max_system = ExternalIdentifier._meta.get_field("system").max_length or 255
    if len(system) > max_system:
        raise ValidationError(f"The identifier system is longer than {max_system} characters.")
    return system


def _row_data(row: list[str], mapping: dict[str, int], date_format: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, index in mapping.items():
        value = row[index].strip() if index < len(row) else ""
        if name == "date_of_birth":
            try:
                data[name] = dt.datetime.strptime(value, date_format).date()
            except ValueError as exc:
                raise ValidationError({name: f"“{value}” is not a date as {DATE_FORMATS[date_format]}."}) from exc
        elif name == "sex":
            if value.lower() not in SEX_WORDS:
                raise ValidationError({name: f"“{value}” is not one of female, male, other, unknown (or f, m, d, u)."})
            data[name] = SEX_WORDS[value.lower()]
        elif value or name in REQUIRED_FIELDS:
            data[name] = value
    return data


def import_csv(
    *,
    request: HttpRequest,
    table: CsvTable,
    mapping: dict[str, int],
    date_format: str,
    rows: Iterable[int] | None = None,
    identifier_system: str = "",
) -> ImportReport:
    """Import the rows of ``table``, columns picked by ``mapping`` (field -> column index).

    ``identifier_system`` is the system of the ``external_id`` column's numbers (a URI the admin typed), needed
    when that column is mapped: rows are then matched by it as well as by MRN, and new numbers are kept.
    ``rows`` limits it to some row indexes (the preview); the preview always rolls back.
    Side effects (only when no row is refused and it is not a preview): patients created or updated,
    their audit events, one ``data.import`` event.
    """
    access.require(request, "data.import")
    missing = [IMPORT_FIELDS[name] for name in REQUIRED_FIELDS if name not in mapping]
    if missing:
        raise ValidationError(f"Choose a column for: {', '.join(missing)}.")
    if date_format not in DATE_FORMATS:
        raise ValidationError("Choose one of the date formats offered.")
    system = check_identifier_system(identifier_system, request.clinic.slug) if "external_id" in mapping else ""
    preview = rows is not None
    indexes = list(rows) if rows is not None else list(range(len(table.rows)))
    seen: dict[ForeignId, int] = {}
    entries: list[EntryResult] = []
    with transaction.atomic():
        for index in indexes:
            entry = EntryResult(number=index + 1, kind="Patient", outcome="created")
            entries.append(entry)

            def row_entry(row: list[str] = table.rows[index], entry: EntryResult = entry) -> None:
                data = _row_data(row, mapping, date_format)
                value = data.pop("external_id", "")
                foreign = [foreign_identifier(system, value)] if value else []
                outcome, patient = _save_patient(
                    request, data, foreign, seen, entry, source=IdentifierSource.CSV_IMPORT
                )
                entry.outcome, entry.record = outcome, f"Patient {patient.mrn} (record {patient.pk})"

            _tried(entry, row_entry)
        if preview:
            transaction.set_rollback(True)
            return ImportReport(entries=entries, committed=False)
        return _finish(request, entries, source="CSV")
