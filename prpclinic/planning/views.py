"""The planner page: predict what a spin will yield for this blood, and pick a program for a target."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods

from prpclinic.clinics.access import clinic_view
from prpclinic.planner.model import Prediction, default_parameters, predict
from prpclinic.planner.parameters import ModelParameters
from prpclinic.planner.protocol import Blood, Spin, Step
from prpclinic.planner.recommend import CandidateGrid, Program, Ranked, Target, recommend, resuspension_volume_ml
from prpclinic.planning import services
from prpclinic.planning.drawing import tube_svg
from prpclinic.planning.forms import HARVESTS, TUBES, PlannerForm
from prpclinic.planning.selectors import clinic_programs, last_draw_values, latest_calibration


def _steps(data: dict[str, Any], radius_cm: float | None) -> tuple[Step, ...]:
    tube = TUBES[int(data["tube"])]
    steps = [Step(Spin(data["g1"], data["minutes1"], radius_cm), HARVESTS[data["harvest1"]][1](data), tube)]
    if data.get("g2") and data.get("minutes2"):
        steps.append(Step(Spin(data["g2"], data["minutes2"], radius_cm), HARVESTS[data["harvest2"]][1](data)))
    return tuple(steps)


def _program_steps(program: Any, data: dict[str, Any]) -> tuple[Step, ...]:
    radius = float(program.centrifuge.rotor_radius_cm)
    tube = TUBES[int(data["tube"])]
    steps = [Step(Spin(program.spin1_rcf, program.spin1_minutes, radius), HARVESTS[data["harvest1"]][1](data), tube)]
    if program.spin2_rcf:
        steps.append(Step(Spin(program.spin2_rcf, program.spin2_minutes, radius), HARVESTS[data["harvest2"]][1](data)))
    return tuple(steps)


def _model_for(request: HttpRequest, device: Any) -> tuple[ModelParameters | None, str]:
    """The device's newest calibration, else the published fit; and a sentence saying which."""
    if device is not None:
        calibration = latest_calibration(clinic_id=request.clinic.pk, centrifuge_id=device.pk)
        if calibration is not None:
            params = replace(default_parameters(), g_scale=calibration.g_scale, harvest_yield=calibration.harvest_yield)
            return params, (
                f"Model calibrated to {device.name}'s own {calibration.n_observations} products "
                f"({calibration.created_at:%Y-%m-%d}): effective g·min × {calibration.g_scale:.2f}, "
                f"harvest yield {calibration.harvest_yield:.2f}."
            )
    return None, "Model: the published fit (no calibration of this centrifuge yet)."


@clinic_view("prp.view")
@require_http_methods(["GET", "POST"])
def planner(request: HttpRequest) -> HttpResponse:
    """GET shows the form (prefilled from a patient's last draw with ``?patient=<id>``); POST
    predicts. POST although nothing changes: blood counts stay out of URLs and access logs."""
    initial: dict[str, Any] = {}
    source = ""
    if request.GET.get("patient", "").isdigit():
        values = last_draw_values(request=request, patient_id=int(request.GET["patient"]))
        if values:
            initial.update(values)
            source = "Hematocrit, platelets and volume per tube from the patient's last draw."
    form = PlannerForm(request.POST if request.method == "POST" else None, clinic_id=request.clinic.pk, initial=initial)
    context: dict[str, Any] = {"form": form, "source": source}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        program = data.get("program")
        radius = (
            float(program.centrifuge.rotor_radius_cm)
            if program
            else (float(data["centrifuge"].rotor_radius_cm) if data.get("centrifuge") else None)
        )
        if program:
            data = data | {"g1": program.spin1_rcf, "minutes1": program.spin1_minutes,
                           "g2": program.spin2_rcf, "minutes2": program.spin2_minutes}  # fmt: skip
        blood = Blood(
            volume_ml=float(data["volume_ml"]),
            hematocrit=float(data["hematocrit_pct"]) / 100.0,
            platelets_per_ul=float(data["platelets_k_per_ul"]) * 1000.0,
        )
        tube = TUBES[int(data["tube"])]
        device = program.centrifuge if program else data.get("centrifuge")
        params, model_note = _model_for(request, device)
        context["model_note"] = model_note
        try:
            prediction = predict(tube, blood, _steps(data, radius), params=params)
        except ValueError as exc:
            form.add_error(None, str(exc))
            return render(request, "planning/planner.html", context, status=400)
        context["prediction"] = prediction
        context["drawings"] = [
            mark_safe(tube_svg(step, title=f"After spin {i + 1}: {step.spin.describe()}"))
            for i, step in enumerate(prediction.steps)
        ]
        target = form.target()
        if target is not None:
            context.update(_recommendation(request, tube, blood, target, data, prediction))
    return render(request, "planning/planner.html", context, status=400 if form.errors else 200)


def _recommendation(
    request: HttpRequest, tube: Any, blood: Blood, target: Target, data: dict[str, Any], current: Prediction
) -> dict[str, Any]:
    """The clinic's own programs ranked against the target; and a resuspension volume as new setting."""
    ranked: list[Ranked] = []
    skipped: list[str] = []
    for program in clinic_programs(clinic_id=request.clinic.pk):
        candidate = Program(program.name, _program_steps(program, data))
        params, _ = _model_for(request, program.centrifuge)
        try:
            ranked += recommend(tube, blood, [candidate], target, params=params)
        except ValueError as exc:  # e.g. this rotor is too small for this tube
            skipped.append(f"{program.name}: {exc}")
    ranked.sort(key=lambda r: (r.miss, -r.prediction.platelet_recovery))
    # New settings: the best of a grid of about 1,000 one- and two-spin candidates (fast path).
    radius = float(data["centrifuge"].rotor_radius_cm) if data.get("centrifuge") else None
    try:
        new_settings = recommend(tube, blood, [], target, candidates=CandidateGrid(rotor_radius_cm=radius), top=3)
    except ValueError as exc:
        new_settings = ()
        skipped.append(f"new settings: {exc}")
    new_setting = None
    if target.platelets_per_ul:
        best = ranked[0].prediction if ranked else current
        new_setting = resuspension_volume_ml(best, target.platelets_per_ul)
    return {
        "ranked": ranked[:5],
        "new_settings": new_settings,
        "skipped": skipped,
        "target": target,
        "resuspend_ml": new_setting,
    }


@clinic_view("prp.view")
@require_http_methods(["GET", "POST"])
def calibration(request: HttpRequest, centrifuge_id: int) -> HttpResponse:
    """A device's calibration to the clinic's products: predicted against measured, with the error.

    POST (devices permission) runs a new calibration; GET shows the newest.
    """
    from django.contrib import messages
    from django.shortcuts import redirect

    from prpclinic.planning.models import CentrifugeCalibration
    from prpclinic.prp.models import Centrifuge

    device = Centrifuge.objects.filter(pk=centrifuge_id, clinic=request.clinic).first()
    if device is None:
        raise Http404("No such centrifuge.")
    if request.method == "POST":
        result = services.centrifuge_calibrate(request=request, centrifuge_id=device.pk)
        if result.calibrated:
            messages.success(request, f"Calibrated on {result.n_observations} products.")
        else:
            messages.warning(request, f"Too few products with measured counts ({result.n_observations}).")
        return redirect("planner_calibration", centrifuge_id=device.pk)
    latest = (
        CentrifugeCalibration.objects.filter(clinic=request.clinic, centrifuge=device).order_by("-created_at").first()
    )
    return render(request, "planning/calibration.html", {"device": device, "calibration": latest})
