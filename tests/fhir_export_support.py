"""Helpers for the export tests: many patients fast, and a Patient builder if fhir-core's is not there yet."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.resources.R4B.patient import Patient as FhirPatient

from prpclinic.clinics.models import Clinic
from prpclinic.fhir import registry
from prpclinic.patients.models import Patient


def ensure_patient_type() -> registry.ResourceDef:
    """The registry's Patient; until resources/admin.py registers one, a minimal builder stands in."""
    existing = registry.get("Patient")
    if existing is not None:
        return existing

    def build(row: Patient, ctx: registry.BuildContext) -> FhirPatient:
        return FhirPatient.model_validate(
            {
                "resourceType": "Patient",
                "id": str(row.pk),
                "name": [{"family": row.family_name, "given": [row.given_name]}],
                "birthDate": row.date_of_birth.isoformat(),
                "gender": row.sex,
            }
        )

    return registry.register(
        registry.ResourceDef(
            type_name="Patient",
            queryset=lambda clinic_id: Patient.objects.filter(clinic_id=clinic_id),
            build=build,
            patient_path="id",
        )
    )


def many_patients(clinic: Clinic, count: int, start: int = 0) -> None:
    rows: list[Any] = []
    for n in range(start, start + count):
        patient = Patient(
            clinic=clinic,
            mrn=f"B{n:07d}",
            given_name="Anna",
            family_name="Berger",
            date_of_birth=dt.date(1980, 1, 1) + dt.timedelta(days=n % 9000),
            sex="female",
        )
        patient.search_text = f"berger anna b{n:07d}"
        rows.append(patient)
    Patient.objects.bulk_create(rows, batch_size=500)
