"""The planner page: predict what a spin will yield for this blood, and pick a program for a target."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods

from prpclinic.clinics.access import clinic_view
from prpclinic.planner.model import Prediction, predict
from prpclinic.planner.protocol import Blood, Spin, Step
from prpclinic.planner.recommend import Program, Ranked, Target, recommend, resuspension_volume_ml
from prpclinic.planning.drawing import tube_svg
from prpclinic.planning.forms import HARVESTS, TUBES, PlannerForm
from prpclinic.planning.selectors import clinic_programs, last_draw_values


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
        try:
            prediction = predict(tube, blood, _steps(data, radius))
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
        try:
            ranked += recommend(tube, blood, [candidate], target)
        except ValueError as exc:  # e.g. this rotor is too small for this tube
            skipped.append(f"{program.name}: {exc}")
    ranked.sort(key=lambda r: (r.miss, -r.prediction.platelet_recovery))
    new_setting = None
    if target.platelets_per_ul:
        best = ranked[0].prediction if ranked else current
        new_setting = resuspension_volume_ml(best, target.platelets_per_ul)
    return {"ranked": ranked[:5], "skipped": skipped, "target": target, "resuspend_ml": new_setting}
