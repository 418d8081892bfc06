"""Reads of visits, scoped to the clinic."""

from __future__ import annotations

from prpclinic.visits.models import Visit


def patient_visits(*, clinic_id: int, patient_id: int, limit: int = 20) -> list[Visit]:
    return list(
        Visit.objects.filter(clinic_id=clinic_id, patient_id=patient_id)
        .select_related("clinician")
        .order_by("-started_at")[:limit]
    )
