"""Writes to the patient registry. Each runs in one transaction and writes its audit event."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.clinics.models import Clinic
from prpclinic.patients.models import ExternalIdentifier, IdentifierSource, Patient, mrn_system
from prpclinic.patients.selectors import patient_get

DEMOGRAPHIC_FIELDS = (
    "mrn",
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "phone",
    "email",
    "address",
    "no_reminders",
)
EDITABLE_FIELDS = DEMOGRAPHIC_FIELDS + Patient.CLINICAL_FIELDS


def _writable(request: HttpRequest, data: dict[str, Any]) -> dict[str, Any]:
    """Only named fields are written (no mass assignment); clinical ones need their permission."""
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    if not access.can(request, "patient.edit_clinical") and set(data) & set(Patient.CLINICAL_FIELDS):
        access.require(request, "patient.edit_clinical")
    return data


def next_mrn(clinic: Clinic) -> str:
    """The clinic's next free record number, e.g. P000042; the clinic row is locked meanwhile."""
    locked = Clinic.objects.select_for_update().get(pk=clinic.pk)
    while True:
        locked.mrn_counter += 1
        mrn = f"{locked.mrn_prefix}{locked.mrn_counter:06d}"
        if not Patient.objects.filter(clinic=locked, mrn=mrn).exists():
            break
    locked.save(update_fields=["mrn_counter"])
    return mrn


def _save_checked(patient: Patient) -> None:
    patient.full_clean(validate_constraints=False)
    if (
        patient.mrn
        and Patient.objects.filter(clinic_id=patient.clinic_id, mrn=patient.mrn).exclude(pk=patient.pk).exists()
    ):
        raise ValidationError(
            {"mrn": f"Record number {patient.mrn} is already used by another patient of this clinic."}
        )
    try:
        with transaction.atomic():
            patient.save()
    except IntegrityError as exc:  # two registrations raced for the same number
        raise ValidationError(
            {"mrn": f"Record number {patient.mrn} is already used by another patient of this clinic."}
        ) from exc


def patient_create(*, request: HttpRequest, data: dict[str, Any]) -> Patient:
    """Register a patient in the active clinic; a blank MRN gets the next generated one.

    Side effects: may bump the clinic's MRN counter; audits ``patient.create`` with the values.
    """
    access.require(request, "patient.create")
    data = _writable(request, data)
    with transaction.atomic():
        patient = Patient(clinic=request.clinic, **data)
        if not patient.mrn:
            patient.mrn = next_mrn(request.clinic)
        _save_checked(patient)
        audit_record(
            action="patient.create",
            request=request,
            obj=patient,
            changes={
                field: [None, getattr(patient, field)] for field in data if getattr(patient, field) not in ("", None)
            }
            | {"mrn": [None, patient.mrn]},
        )
    return patient


def patient_update(*, request: HttpRequest, patient_id: int, data: dict[str, Any]) -> Patient:
    """Change a patient's record. Side effects: audits every changed field with old and new value."""
    access.require(request, "patient.edit")
    data = _writable(request, data)
    with transaction.atomic():
        patient = patient_get(request=request, patient_id=patient_id, for_update=True)
        if patient.merged_into_id:
            raise ValidationError("This record was merged into another; edit that one instead.")
        changes = {}
        for field, value in data.items():
            old = getattr(patient, field)
            if old != value:
                changes[field] = [old, value]
                setattr(patient, field, value)
        if not changes:
            return patient
        _save_checked(patient)
        audit_record(action="patient.update", request=request, obj=patient, changes=changes)
    return patient


def patient_set_active(*, request: HttpRequest, patient_id: int, active: bool, reason: str) -> Patient:
    """Deactivate (or reactivate) a record; it stays in the registry. Audited with the reason."""
    access.require(request, "patient.deactivate")
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why, for the record."})
    with transaction.atomic():
        patient = patient_get(request=request, patient_id=patient_id, for_update=True)
        if patient.merged_into_id and active:
            raise ValidationError("A merged duplicate cannot be reactivated.")
        if patient.is_active == active:
            return patient
        patient.is_active = active
        patient.save(update_fields=["is_active", "updated_at"])
        audit_record(
            action="patient.reactivate" if active else "patient.deactivate",
            request=request,
            obj=patient,
            changes={"is_active": [not active, active], "reason": reason},
        )
    return patient


def _combine(kept: str, other: str, mrn: str) -> str:
    if not other.strip() or other.strip() == kept.strip():
        return kept
    if not kept.strip():
        return other
    return f"{kept}\n[from merged record {mrn}] {other}"


def patient_merge(*, request: HttpRequest, duplicate_id: int, survivor_id: int, reason: str) -> Patient:
    """Merge a duplicate registration into the record that stays (the survivor).

    Side effects, in one transaction: the survivor takes contact fields it lacks from the
    duplicate; allergies, medications and notes of both are kept (never dropped in a merge);
    every clinical record that points at the duplicate is moved to the survivor, and so are
    its external identifiers (another system's numbers, named in the audit event); the
    duplicate is deactivated with ``merged_into`` set; both records get an audit event.
    """
    access.require(request, "patient.merge")
    if duplicate_id == survivor_id:
        raise ValidationError({"survivor": "Choose a different record to keep."})
    if not reason.strip():
        raise ValidationError({"reason": "Say why, for the record."})
    with transaction.atomic():
        # Lock both in id order so that two merges of the same pair cannot deadlock.
        first, second = sorted([duplicate_id, survivor_id])
        locked = {pk: patient_get(request=request, patient_id=pk, for_update=True) for pk in (first, second)}
        duplicate, survivor = locked[duplicate_id], locked[survivor_id]
        if duplicate.merged_into_id or survivor.merged_into_id:
            raise ValidationError("One of these records was already merged.")
        changes: dict[str, Any] = {}
        for field in ("phone", "email", "address", "fitzpatrick_skin_type"):
            if not getattr(survivor, field) and getattr(duplicate, field):
                changes[field] = ["", getattr(duplicate, field)]
                setattr(survivor, field, getattr(duplicate, field))
        for field in ("allergies", "current_medications", "notes"):
            combined = _combine(getattr(survivor, field), getattr(duplicate, field), duplicate.mrn)
            if combined != getattr(survivor, field):
                changes[field] = [getattr(survivor, field), combined]
                setattr(survivor, field, combined)
        survivor.save()
        # Another system's number for the duplicate must now find the survivor (an import matching it would
        # otherwise refuse or, worse, update a merged-away record); named in the audit event, not just counted.
        identifiers = [
            str(identifier) for identifier in ExternalIdentifier.objects.filter(patient=duplicate).order_by("pk")
        ]
        if identifiers:
            ExternalIdentifier.objects.filter(patient=duplicate).update(patient=survivor)
        moved = _move_related_records(duplicate=duplicate, survivor=survivor)
        duplicate.is_active = False
        duplicate.merged_into = survivor
        duplicate.save(update_fields=["is_active", "merged_into", "updated_at"])
        audit_record(
            action="patient.merge",
            request=request,
            obj=survivor,
            changes=changes
            | {"merged_from": duplicate.mrn, "moved": moved, "reason": reason.strip()}
            | ({"external_identifiers": [None, identifiers]} if identifiers else {}),
        )
        audit_record(
            action="patient.merged_away",
            request=request,
            obj=duplicate,
            changes={"merged_into": [None, survivor.mrn], "is_active": [True, False], "reason": reason.strip()},
        )
    return survivor


def _move_related_records(*, duplicate: Patient, survivor: Patient) -> dict[str, int]:
    """Point every clinical record's foreign key at the survivor: one UPDATE per relation.

    Every reverse foreign key to Patient is moved (plans, screenings, consents, visits, draws, products,
    applications, appointments, events, handouts...), so a model added later moves too. Not moved: the
    self-reference ``merged_into``, the external identifiers (moved by the caller, which names them), and hidden
    relations (``related_name="+"``, e.g. a FHIR token limited to the duplicate, which must stop working rather
    than reach the survivor's record).
    """
    moved: dict[str, int] = {}
    for relation in Patient._meta.related_objects:
        if relation.related_model in (Patient, ExternalIdentifier) or not relation.one_to_many:
            continue
        field = relation.field.name
        count = relation.related_model._default_manager.filter(**{field: duplicate}).update(**{field: survivor})
        if count:
            moved[relation.related_model._meta.label_lower] = count
    return moved


def identifier_add(*, request: HttpRequest, patient_id: int, system: str, value: str) -> ExternalIdentifier:
    """Record the patient's number in another system (a hospital's MRN, say), as entered by staff.

    One number of one system names one patient of the clinic: a number already held is refused
    with the record that holds it, so that a later import finds the right patient.
    Side effects: audits ``patient.identifier_add`` on the patient with the number.
    """
    access.require(request, "patient.edit")
    with transaction.atomic():
        patient = patient_get(request=request, patient_id=patient_id, for_update=True)
        if patient.merged_into_id:
            raise ValidationError("This record was merged into another; add the number to that one.")
        if not patient.is_active:
            raise ValidationError("This record is deactivated; reactivate it before adding a number.")
        identifier = ExternalIdentifier(
            clinic=request.clinic,
            patient=patient,
            system=system,
            value=value,
            source=IdentifierSource.STAFF,
            created_by=request.user,
        )
        # The record and who entered it are set above; only what was typed is checked (and stripped).
        identifier.full_clean(exclude=["clinic", "patient", "created_by"], validate_constraints=False)
        if identifier.system == mrn_system(request.clinic.slug):
            raise ValidationError(
                {"system": "That is this clinic's own record number (the MRN), not another system's."}
            )
        holder = (
            ExternalIdentifier.objects.filter(clinic=request.clinic, system=identifier.system, value=identifier.value)
            .select_related("patient")
            .only("patient__id", "patient__mrn")
            .first()
        )
        if holder is not None:
            whose = "this record" if holder.patient_id == patient.pk else f"the record {holder.patient.mrn}"
            raise ValidationError({"value": f"This number of that system already belongs to {whose}."})
        try:
            with transaction.atomic():
                identifier.save()
        except IntegrityError as exc:  # the same number entered twice at once
            raise ValidationError({"value": "This number of that system already belongs to a record."}) from exc
        audit_record(
            action="patient.identifier_add",
            request=request,
            obj=patient,
            changes={"external_identifiers": [None, [str(identifier)]]},  # as an import writes it,
        )
    return identifier
