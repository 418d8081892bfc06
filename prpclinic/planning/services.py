"""Calibrating a centrifuge's model to the clinic's own products."""

from __future__ import annotations

from django.db import transaction
from django.http import Http404, HttpRequest

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.planner.calibration import calibrate
from prpclinic.planning.models import CentrifugeCalibration
from prpclinic.planning.selectors import clinic_observations
from prpclinic.prp.models import Centrifuge


def centrifuge_calibrate(*, request: HttpRequest, centrifuge_id: int) -> CentrifugeCalibration:
    """Fit the model to the device's products with measured counts and keep the result.

    Side effects: a CentrifugeCalibration row (also when there are too few products: the page
    then says so and the planner keeps the published fit); audit ``planner.calibrate``.
    """
    access.require(request, "prp.devices")
    centrifuge = Centrifuge.objects.filter(pk=centrifuge_id, clinic=request.clinic).first()
    if centrifuge is None:
        raise Http404("No such centrifuge.")
    observations = clinic_observations(clinic_id=request.clinic.pk, centrifuge_id=centrifuge.pk)
    result = calibrate(observations)
    rows = [
        {
            "product": fit.observation.label,
            "measured_recovery": fit.measured.recovery,
            "before_recovery": fit.before.recovery,
            "after_recovery": fit.after.recovery,
            "measured_cf": fit.measured.concentration_factor,
            "before_cf": fit.before.concentration_factor,
            "after_cf": fit.after.concentration_factor,
            "error_after": fit.error_after,
        }
        for fit in result.observations
    ]
    with transaction.atomic():
        calibration = CentrifugeCalibration.objects.create(
            clinic=request.clinic,
            centrifuge=centrifuge,
            created_by=request.user,
            status=result.status,
            n_observations=result.n_observations,
            g_scale=result.g_scale,
            harvest_yield=result.harvest_yield,
            g_scale_identified=result.g_scale_identified,
            rmse_recovery_before=result.rmse_recovery_before if rows else None,
            rmse_recovery_after=result.rmse_recovery_after if rows else None,
            observations=rows,
            notes=list(result.notes),
        )
        audit_record(
            action="planner.calibrate",
            request=request,
            obj=calibration,
            changes={"status": result.status, "n": result.n_observations, "g_scale": result.g_scale},
        )
    return calibration
