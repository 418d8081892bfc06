"""Clinic A's records served by the FHIR core (tests/test_fhir_admin*.py, tests/test_fhir_server*.py use them too).

``placeholders`` gives the ids for tests/permission_matrix_fhir_core.csv; ``admin_records`` makes one of each
administrative record through the apps' services where they audit (so Provenance has authors).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from prpclinic.audit.services import audit_record
from prpclinic.consents.services import consent_revoke
from prpclinic.intake.models import Screening
from prpclinic.patients.models import Patient
from prpclinic.patients.services import patient_create, patient_merge
from prpclinic.scheduling.models import Appointment, Room
from prpclinic.treatments.models import TreatmentPlan
from prpclinic.treatments.plans import plan_create
from tests.conftest import Personas, clinic_request
from tests.factories_consents import consent_signed
from tests.factories_intake import screened_eligible

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@dataclass
class AdminRecords:
    patient: Patient
    duplicate: Patient
    appointments: list[Appointment]
    consent: Any
    revoked_consent: Any
    screening: Screening
    plan: TreatmentPlan


def add_patient(personas: Personas, **fields: Any) -> Patient:
    data = {
        "given_name": "Anna", "family_name": "Berger", "date_of_birth": dt.date(1985, 4, 30), "sex": "female",
        "phone": "+43 1 234 5678", "email": "anna@example.test", "address": "Hauptstraße 1, 1010 Wien",
    }  # fmt: skip
    data.update(fields)
    return patient_create(request=clinic_request(personas.front_desk, personas.clinic_a), data=data)


def add_appointments(personas: Personas, patient: Patient, n: int, *, status: str = "booked") -> list[Appointment]:
    """``n`` appointments a day apart from START (or after the clinic's last one), made with the ORM.

    Booking rules are scheduling's to test; here only the rows matter.
    """
    room, _ = Room.objects.get_or_create(clinic=personas.clinic_a, name="1")
    request = clinic_request(personas.front_desk, personas.clinic_a)
    made = []
    # One clinician and one room: each appointment a day after the clinic's last (PostgreSQL refuses overlaps).
    already = Appointment.objects.filter(clinic=personas.clinic_a).count()
    for i in range(already, already + n):
        starts = START + dt.timedelta(days=i)
        appointment = Appointment.objects.create(
            clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", clinician=personas.physician,
            room=room, starts_at=starts, ends_at=starts + dt.timedelta(minutes=45), treatment_minutes=45,
            status=status, created_by=personas.front_desk,
        )  # fmt: skip
        audit_record(action="appointment.book", request=request, obj=appointment)
        made.append(appointment)
    return made


def admin_records(personas: Personas) -> AdminRecords:
    patient = add_patient(personas)
    duplicate = add_patient(personas, given_name="Ana")
    patient_merge(
        request=clinic_request(personas.admin, personas.clinic_a),
        duplicate_id=duplicate.pk,
        survivor_id=patient.pk,
        reason="Registered twice",
    )
    appointments = add_appointments(personas, patient, 2)
    consent = consent_signed(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse)
    revoked = consent_signed(clinic=personas.clinic_a, patient=patient, treatment="photography", by=personas.nurse)
    consent_revoke(
        request=clinic_request(personas.nurse, personas.clinic_a), consent_id=revoked.pk, reason="Changed her mind"
    )
    screening = screened_eligible(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse)
    plan = plan_create(
        request=clinic_request(personas.nurse, personas.clinic_a),
        patient_id=patient.pk,
        kind="prp_scalp",
        start_date=timezone.localdate(),
    )
    patient.refresh_from_db()
    duplicate.refresh_from_db()
    return AdminRecords(patient, duplicate, appointments, consent, revoked, screening, plan)


def placeholders(personas: Personas, patient: Any) -> dict[str, int]:
    return {"fhir_core_patient_a": patient.pk}
