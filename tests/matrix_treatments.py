"""Placeholders of the rows in permission_matrix_treatments.csv: clinic A's catalogue and a plan, made directly."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prpclinic.treatments.models import Cocktail, PlannedSession, Protocol, Treatment, TreatmentPlan
from prpclinic.treatments.seeding import seed_catalogue


def placeholders(personas: Any, patient: Any) -> dict[str, int]:
    clinic = personas.clinic_a
    seed_catalogue(clinic=clinic)
    treatment = Treatment.objects.get(clinic=clinic, kind="microneedling_prp")
    protocol = Protocol.objects.get(clinic=clinic, treatment=treatment, is_current=True)
    plan = TreatmentPlan.objects.create(
        clinic=clinic, patient=patient, treatment=treatment, kind=treatment.kind, protocol=protocol,
        start_date=dt.date(2026, 3, 2), created_by=personas.nurse,
    )  # fmt: skip
    sessions = [
        PlannedSession.objects.create(clinic=clinic, plan=plan, number=n, due_date=dt.date(2026, n + 2, 2))
        for n in (1, 2, 3)
    ]
    return {
        "treatments_treatment_a": treatment.pk,
        "treatments_protocol_a": protocol.pk,
        "treatments_cocktail_a": Cocktail.objects.filter(clinic=clinic).order_by("pk").first().pk,  # type: ignore[union-attr]
        "treatments_plan_a": plan.pk,
        "treatments_session_a": sessions[1].pk,
    }
