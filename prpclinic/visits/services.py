"""Starting and closing visits."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.patients.selectors import patient_get
from prpclinic.visits import gates
from prpclinic.visits.models import TreatmentKind, Visit


def visit_start(*, request: HttpRequest, patient_id: int, treatment: str) -> Visit:
    """Open a visit for an active patient, with the signed-in clinician. Audited.

    Refused while the patient's screening or consent for this treatment does not allow it
    (``visits.gates``): the visit row is never created, so nothing downstream can begin.
    """
    access.require(request, "visit.start")
    with transaction.atomic():
        patient = patient_get(request=request, patient_id=patient_id)  # another clinic's: 404 first
        if treatment not in TreatmentKind.values:
            raise ValidationError({"treatment": "Choose a treatment."})
        if not patient.is_active:
            raise ValidationError("This patient's record is deactivated.")
        blockers = gates.start_blockers(clinic_id=request.clinic.pk, patient_id=patient.pk, treatment=treatment)
        if blockers:
            raise ValidationError(blockers)
        visit = Visit.objects.create(
            clinic=request.clinic, patient=patient, treatment=treatment, clinician=request.user
        )
        audit_record(action="visit.start", request=request, obj=visit, changes={"treatment": treatment})
    return visit
