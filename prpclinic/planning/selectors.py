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


def clinic_observations(*, clinic_id: int, centrifuge_id: int, limit: int = 1000) -> list[Any]:
    """The device's products that have measured baseline and PRP counts, as model observations.

    Per tube: the blood and PRP volumes are divided by the number of tubes (the model follows
    one tube). Newest first, at most ``limit``; one query with the spins prefetched.
    """
    from prpclinic.planner.calibration import ClinicObservation
    from prpclinic.planner.protocol import Spin
    from prpclinic.prp.models import Product

    products = (
        Product.objects.filter(
            clinic_id=clinic_id,
            spins__centrifuge_id=centrifuge_id,
            spins__number=1,
            draw__platelets_k_per_ul__isnull=False,
            platelets_k_per_ul__isnull=False,
            volume_ml__isnull=False,
        )
        .select_related("draw")
        .prefetch_related("spins__centrifuge")
        .order_by("-created_at")[:limit]
    )
    observations = []
    for product in products:
        draw, tubes = product.draw, product.draw.tube_count
        spins = tuple(
            Spin(s.rcf, s.minutes, float(s.centrifuge.rotor_radius_cm))
            for s in sorted(product.spins.all(), key=lambda s: s.number)
        )
        try:
            observations.append(
                ClinicObservation(
                    volume_ml=float(draw.volume_ml) / tubes,
                    platelets_per_ul=float(draw.platelets_k_per_ul) * 1000,
                    spins=spins,
                    prp_ml=float(product.volume_ml) / tubes,
                    prp_platelets_per_ul=float(product.platelets_k_per_ul) * 1000,
                    hematocrit=float(draw.hematocrit_pct) / 100 if draw.hematocrit_pct is not None else None,
                    label=product.barcode,
                )
            )
        except ValueError:
            continue  # a product the model cannot represent (e.g. more PRP than one spin can give)
    return observations


def latest_calibration(*, clinic_id: int, centrifuge_id: int) -> Any:
    from prpclinic.planning.models import CentrifugeCalibration

    return (
        CentrifugeCalibration.objects.filter(clinic_id=clinic_id, centrifuge_id=centrifuge_id, status="calibrated")
        .order_by("-created_at")
        .first()
    )
