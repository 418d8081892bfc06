"""Import from another system: a FHIR transaction Bundle of Patients and Appointments, or a CSV of patients.

Both imports are all-or-nothing: every entry (or row) is tried inside one transaction, each in a
savepoint so that one refusal does not hide the next; if any entry is refused, the whole
transaction is rolled back and the report says what would have been created or updated and why
the refused ones were refused. Writes go through the apps' services (``patients.services``,
``scheduling.services.appointment_book``), so every created or changed record is audited as if
typed in by the importing admin; one ``data.import`` event sums up a committed import.

De-duplication is by identifier: a Patient whose MRN identifier (system
``urn:prpclinic:clinic:<slug>:mrn``) is already a record of this clinic updates that record;
otherwise a new record is made (the MRN kept if given, else the clinic's next one). Identifiers
of other systems are listed in the report and not kept: there is no table for them yet.

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
from django.db import transaction
from django.http import HttpRequest
from pydantic import ValidationError as FhirValidationError

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.patients.models import Patient, Sex
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


def mrn_system(slug: str) -> str:
    return f"urn:prpclinic:clinic:{slug}:mrn"


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


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [
            f"{IMPORT_FIELDS.get(name, name.replace('_', ' '))}: {message}" if name != "__all__" else message
            for name, errors in exc.message_dict.items()
            for message in errors
        ]
    return list(exc.messages)


def _save_patient(request: HttpRequest, data: dict[str, Any], seen_mrns: set[str]) -> tuple[str, Patient]:
    """Create or update by MRN; ``seen_mrns`` refuses the same record twice in one file."""
    mrn = data.get("mrn", "")
    if mrn:
        if mrn in seen_mrns:
            raise ValidationError({"mrn": f"Record number {mrn} appears twice in this file."})
        seen_mrns.add(mrn)
        existing = Patient.objects.filter(clinic=request.clinic, mrn=mrn).only("pk", "merged_into_id").first()
        if existing is not None:
            changes = {name: value for name, value in data.items() if name != "mrn"}
            before = Patient.objects.get(pk=existing.pk)
            patient = patient_update(request=request, patient_id=existing.pk, data=changes)
            same = all(getattr(before, name) == value for name, value in changes.items())
            return ("unchanged" if same else "updated"), patient
    return "created", patient_create(request=request, data=data)


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


def _patient_data(resource: Any, clinic_slug: str, entry: EntryResult) -> dict[str, Any]:
    """A FHIR Patient as the registry's fields; other identifiers noted in the report."""
    data: dict[str, Any] = {}
    own_system = mrn_system(clinic_slug)
    for identifier in resource.identifier or []:
        if identifier.system == own_system and identifier.value:
            data["mrn"] = identifier.value
        elif identifier.value:
            entry.messages.append(f"Identifier of {identifier.system or 'no system'} not kept (no table for it yet).")
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
    seen_mrns: set[str] = set()
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
                outcome, patient = _save_patient(request, _patient_data(parsed, clinic.slug, entry), seen_mrns)
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
) -> ImportReport:
    """Import the rows of ``table``, columns picked by ``mapping`` (field -> column index).

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
    preview = rows is not None
    indexes = list(rows) if rows is not None else list(range(len(table.rows)))
    seen_mrns: set[str] = set()
    entries: list[EntryResult] = []
    with transaction.atomic():
        for index in indexes:
            entry = EntryResult(number=index + 1, kind="Patient", outcome="created")
            entries.append(entry)

            def row_entry(row: list[str] = table.rows[index], entry: EntryResult = entry) -> None:
                outcome, patient = _save_patient(request, _row_data(row, mapping, date_format), seen_mrns)
                entry.outcome, entry.record = outcome, f"Patient {patient.mrn} (record {patient.pk})"

            _tried(entry, row_entry)
        if preview:
            transaction.set_rollback(True)
            return ImportReport(entries=entries, committed=False)
        return _finish(request, entries, source="CSV")
