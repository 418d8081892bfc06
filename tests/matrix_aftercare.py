"""Placeholders of the rows in tests/permission_matrix_aftercare.csv: clinic A's objects, made with the ORM."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from prpclinic.aftercare.models import AdverseEvent, AdverseEventOutcome
from prpclinic.visits.models import Visit


def placeholders(personas: Any, patient: Any) -> dict[str, int]:
    clinic = personas.clinic_a
    visit = Visit.objects.create(
        clinic=clinic, patient=patient, treatment="microneedling_prp", clinician=personas.nurse
    )
    event = AdverseEvent.objects.create(
        clinic=clinic, visit=visit, patient=patient, type="erythema", severity="mild", onset_at=timezone.now(),
        action_taken="Observed", recorded_by=personas.nurse,
    )  # fmt: skip
    AdverseEventOutcome.objects.create(clinic=clinic, event=event, outcome="resolving", recorded_by=personas.nurse)
    return {"aftercare_visit_a": visit.pk, "aftercare_event_a": event.pk}
