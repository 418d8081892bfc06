"""Placeholders for the charting rows of tests/permission_matrix_visits.csv (clinic A's objects, made with the ORM)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from prpclinic.treatments.selectors import current_protocol
from prpclinic.visits.models import Visit, ZoneEntry


def placeholders(personas: Any, patient: Any) -> dict[str, int]:
    clinic = personas.clinic_a

    def visit(kind: str) -> Visit:
        protocol = current_protocol(clinic_id=clinic.pk, kind=kind)
        return Visit.objects.create(
            clinic=clinic, patient=patient, treatment=kind, clinician=personas.physician, protocol=protocol
        )

    ready = visit("microneedling_prp")  # one zone charted, no PRP applied or charted: may be completed
    ZoneEntry.objects.create(
        clinic=clinic, visit=ready, map="face", zone="forehead", zone_label="Forehead", depth_mm=Decimal("0.5"),
        passes=3, device="pen", device_label="Micro-needling pen", entered_by=personas.nurse,
    )  # fmt: skip
    return {
        "visits_mn": visit("microneedling_prp").pk,
        "visits_meso": visit("mesotherapy").pk,
        "visits_ready": ready.pk,
    }
