"""Reads for the planner, scoped to the clinic."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from prpclinic.prp.models import BloodDraw, SpinProgram


def clinic_programs(*, clinic_id: int) -> list[SpinProgram]:
    return list(
        SpinProgram.objects.filter(clinic_id=clinic_id, is_active=True, centrifuge__in_service=True)
        .select_related("centrifuge")
        .order_by("name")[:50]
    )


def last_draw_values(*, request: HttpRequest, patient_id: int) -> dict[str, Any]:
    """Hematocrit, platelets and blood per tube of the patient's last draw with counts."""
    draw = (
        BloodDraw.objects.filter(clinic=request.clinic, patient_id=patient_id, platelets_k_per_ul__isnull=False)
        .order_by("-drawn_at")
        .first()
    )
    if draw is None:
        return {}
    values: dict[str, Any] = {
        "platelets_k_per_ul": draw.platelets_k_per_ul,
        "volume_ml": round(draw.volume_ml / draw.tube_count, 1),
    }
    if draw.hematocrit_pct is not None:
        values["hematocrit_pct"] = draw.hematocrit_pct
    return values
