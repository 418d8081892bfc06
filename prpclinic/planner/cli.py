"""The planner without the web app: one prediction from the command line.

    prpclinic planner --volume-ml 10 --hct 0.42 --platelets 250000 --g 100 --minutes 10 \\
        [--g2 400 --minutes2 10] [--prp-ml 3] [--tube 15ml-conical] [--json]

(also ``python -m prpclinic.planner.cli ...``, without Django). The Django management command
``planner`` (``prpclinic/planning/management/commands/planner.py``) is a thin wrapper over this
module: ``add_arguments`` declares the options, ``run_options`` validates them and predicts, and
``render`` prints the result. ``run(argv)`` does all three for tests.

Inputs, and what is done with them:

- ``--hct``: a fraction between 0.1 and 0.7; a value above 1 is read as a percentage (42 -> 0.42).
- ``--platelets``: per µL of whole blood; a value below 5,000 is read as 10³/µL (250 -> 250,000),
  the unit most analysers print.
- ``--volume-ml`` of whole blood, plus ``--anticoagulant-ml`` in the tube (default 0: counts
  measured on the tube's contents, or a tube without anticoagulant).
- ``--g``/``--minutes`` (and ``--g2``/``--minutes2`` for a second spin): g at the tube bottom;
  ``--rotor-radius-cm`` lets the field fall towards the top of the tube.
- Harvests (``protocol.clinic_steps``): without ``--prp-ml``, one spin takes the plasma down to
  2 mm above the buffy coat, two spins take all the plasma after the first and keep the lower
  third after the second; with ``--prp-ml``, one spin takes the top ``prp_ml`` and two spins keep
  the bottom ``prp_ml`` after the second.
- ``--tube``: ``15ml-conical`` (default), ``13x100-round``, ``16x100-round`` (nominal sizes, see
  ``geometry``) or the inner size ``DIAMETERxLENGTH[:flat|round|conical[:CONE_MM]]`` in mm,
  e.g. ``14.5x117:conical:22``.
- ``--g-scale``/``--harvest-yield``: a clinic's calibration (``calibration.calibrate``), default 1.

``--json`` prints one JSON object: ``recovery`` (0-1), ``concentration_factor``,
``platelets_per_uL``, ``dose_billion``, ``volume_ml``, the white- and red-cell figures, each
step, the inputs as used, the model's parameters, ``notes`` (conversions and defaults) and
``warnings``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from prpclinic.planner.geometry import TUBE_13X100_ROUND, TUBE_15ML_CONICAL, TUBE_16X100_ROUND, Bottom, Tube
from prpclinic.planner.model import Prediction, default_parameters, predict
from prpclinic.planner.parameters import ModelParameters
from prpclinic.planner.protocol import Blood, Spin, Step, clinic_steps

DESCRIPTION = "Predict the platelet recovery, concentration and dose of a centrifuge program (PRP planner)."
TUBES: dict[str, Tube] = {
    "15ml-conical": TUBE_15ML_CONICAL,
    "13x100-round": TUBE_13X100_ROUND,
    "16x100-round": TUBE_16X100_ROUND,
}
DEFAULT_TUBE = "15ml-conical"
HEMATOCRIT_RANGE = (0.1, 0.7)
#: Platelet counts below this are read as 10³/µL.
PLATELETS_IN_THOUSANDS_BELOW = 5000.0


class PlannerInputError(ValueError):
    """An input the planner cannot use; the message says which and why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the planner's options on ``parser`` (argparse's, or Django's ``CommandParser``)."""
    blood = parser.add_argument_group("blood")
    blood.add_argument("--volume-ml", type=float, required=True, help="whole blood in the tube (mL)")
    blood.add_argument(
        "--hct", type=float, required=True, help="hematocrit: a fraction (0.42) or a percentage (42); 0.1-0.7"
    )
    blood.add_argument(
        "--platelets", type=float, required=True, help="whole-blood platelets per µL (250000; 250 is read as 10³/µL)"
    )
    blood.add_argument("--anticoagulant-ml", type=float, default=0.0, help="anticoagulant in the tube (mL, default 0)")
    blood.add_argument("--wbc", type=float, default=None, help="white cells per µL of whole blood (optional)")
    spins = parser.add_argument_group("spins")
    spins.add_argument("--g", type=float, required=True, help="first spin: g (RCF at the tube bottom)")
    spins.add_argument("--minutes", type=float, required=True, help="first spin: minutes")
    spins.add_argument("--g2", type=float, default=None, help="second spin: g")
    spins.add_argument("--minutes2", type=float, default=None, help="second spin: minutes")
    spins.add_argument("--rotor-radius-cm", type=float, default=None, help="rotor radius at the tube bottom (cm)")
    product = parser.add_argument_group("product")
    product.add_argument(
        "--prp-ml",
        type=float,
        default=None,
        help="PRP volume harvested (mL): the top of the tube after one spin, the bottom after two "
        "(default: plasma to 2 mm above the buffy coat / the lower third)",
    )
    product.add_argument(
        "--tube",
        default=DEFAULT_TUBE,
        help=f"{', '.join(TUBES)} or DIAMETERxLENGTH[:flat|round|conical[:CONE_MM]] in mm (default {DEFAULT_TUBE})",
    )
    model = parser.add_argument_group("model")
    model.add_argument("--g-scale", type=float, default=1.0, help="calibration: effective g·min factor (default 1)")
    model.add_argument("--harvest-yield", type=float, default=1.0, help="calibration: platelets kept per harvest")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def build_parser(prog: str = "prpclinic planner") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    return parser


def parse_tube(text: str) -> Tube:
    """A named tube or ``DIAMETERxLENGTH[:BOTTOM[:CONE_MM]]`` (inner sizes in mm)."""
    name = text.strip().lower()
    if name in TUBES:
        return TUBES[name]
    parts = name.split(":")
    try:
        diameter, length = (float(v) for v in parts[0].split("x"))
        shape = parts[1] if len(parts) > 1 else "round"
        cone = float(parts[2]) if len(parts) > 2 else 0.0
    except ValueError:
        raise PlannerInputError(
            f"--tube {text!r}: use {', '.join(TUBES)} or DIAMETERxLENGTH[:flat|round|conical[:CONE_MM]]"
        ) from None
    bottoms: dict[str, Bottom] = {"flat": "flat", "round": "round", "conical": "conical"}
    if shape not in bottoms or len(parts) > 3:
        raise PlannerInputError(f"--tube {text!r}: the bottom is flat, round or conical")
    bottom = bottoms[shape]
    if bottom == "conical" and len(parts) < 3:
        raise PlannerInputError(f"--tube {text!r}: a conical tube needs its cone height, e.g. 14.5x117:conical:22")
    try:
        return Tube(f"{diameter:g} x {length:g} mm, {bottom} bottom", diameter, length, bottom, cone)
    except ValueError as exc:
        raise PlannerInputError(f"--tube {text!r}: {exc}") from None


def hematocrit_fraction(value: float) -> tuple[float, str | None]:
    """The hematocrit as a fraction, and a note when it was given as a percentage."""
    low, high = HEMATOCRIT_RANGE
    note = None
    if value > 1:
        note = f"hematocrit {value:g} read as a percentage: {value / 100:g}"
        value = value / 100
    if not low <= value <= high:
        raise PlannerInputError(
            f"--hct {value:g} is outside {low:g}-{high:g}: give a fraction (0.42) or a percentage (42)"
        )
    return value, note


def _number(options: Mapping[str, Any], name: str, *, positive: bool = True, optional: bool = False) -> float | None:
    value = options.get(name)
    flag = "--" + name.replace("_", "-")
    if value is None:
        if optional:
            return None
        raise PlannerInputError(f"{flag} is required")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise PlannerInputError(f"{flag} must be a number, not {value!r}") from None
    if not math.isfinite(number):
        raise PlannerInputError(f"{flag} must be a finite number")
    if positive and not number > 0:
        raise PlannerInputError(f"{flag} must be greater than 0 (got {number:g})")
    if not positive and number < 0:
        raise PlannerInputError(f"{flag} cannot be negative (got {number:g})")
    return number


def _required(options: Mapping[str, Any], name: str) -> float:
    value = _number(options, name)
    assert value is not None
    return value


def inputs(options: Mapping[str, Any]) -> tuple[Tube, Blood, tuple[Step, ...], ModelParameters, list[str]]:
    """Validate the options (argparse's namespace as a dict, or Django's ``options``) and build the
    prediction's inputs; the list holds notes on conversions and defaults."""
    notes: list[str] = []
    volume = _required(options, "volume_ml")
    hct, note = hematocrit_fraction(_required(options, "hct"))
    notes += [note] if note else []
    platelets = _required(options, "platelets")
    if platelets < PLATELETS_IN_THOUSANDS_BELOW:
        notes.append(f"platelets {platelets:g} read as 10³/µL: {platelets * 1000:g}/µL")
        platelets *= 1000
    anticoagulant = _number(options, "anticoagulant_ml", positive=False, optional=True) or 0.0
    wbc = _number(options, "wbc", positive=False, optional=True)
    radius = _number(options, "rotor_radius_cm", optional=True)
    spins = [Spin(_required(options, "g"), _required(options, "minutes"), radius)]
    g2 = _number(options, "g2", optional=True)
    minutes2 = _number(options, "minutes2", optional=True)
    if (g2 is None) != (minutes2 is None):
        raise PlannerInputError("a second spin needs both --g2 and --minutes2")
    if g2 is not None and minutes2 is not None:
        spins.append(Spin(g2, minutes2, radius))
    prp = _number(options, "prp_ml", optional=True)
    tube = parse_tube(str(options.get("tube") or DEFAULT_TUBE))
    total = volume + anticoagulant
    if total > tube.capacity_ml:
        raise PlannerInputError(f"{total:g} mL does not fit in {tube.name} ({tube.capacity_ml:.1f} mL)")
    if prp is not None and len(spins) == 1 and prp >= total:
        raise PlannerInputError(f"--prp-ml {prp:g} is not less than the {total:g} mL in the tube")
    if prp is None:
        notes.append(
            "no --prp-ml: the plasma down to 2 mm above the buffy coat is taken"
            if len(spins) == 1
            else "no --prp-ml: all the plasma is taken after spin 1 and the lower third kept after spin 2"
        )
    g_scale = _number(options, "g_scale", optional=True) or 1.0
    harvest_yield = _number(options, "harvest_yield", optional=True) or 1.0
    if harvest_yield > 1:
        raise PlannerInputError("--harvest-yield is a fraction (at most 1)")
    params = replace(default_parameters(), g_scale=g_scale, harvest_yield=harvest_yield)
    blood = Blood(volume, hct, platelets, anticoagulant, wbc)
    return tube, blood, clinic_steps(spins, prp), params, notes


def result_dict(tube: Tube, blood: Blood, prediction: Prediction, notes: Sequence[str]) -> dict[str, Any]:
    """The prediction as JSON-ready data."""
    p = prediction
    return {
        "recovery": p.platelet_recovery,
        "concentration_factor": p.concentration_factor,
        "platelets_per_uL": p.platelets_per_ul,
        "dose_billion": p.dose / 1e9,
        "volume_ml": p.volume_ml,
        "wbc_recovery": p.wbc_recovery,
        "wbc_factor": p.wbc_factor,
        "wbc_per_uL": p.wbc_per_ul,
        "rbc_recovery": p.rbc_recovery,
        "hematocrit": p.hematocrit,
        "steps": [
            {
                "spin": s.spin.describe(),
                "g": s.spin.rcf,
                "minutes": s.spin.minutes,
                "harvest": s.harvest.describe(),
                "input_ml": s.input_ml,
                "harvested_ml": s.harvested_ml,
                "platelet_recovery": s.platelet_recovery,
                "red_top_mm": s.layers.red_top_mm,
                "buffy_top_mm": s.layers.buffy_top_mm,
                "meniscus_mm": s.layers.meniscus_mm,
                "cut_mm": s.cut_mm,
            }
            for s in p.steps
        ],
        "inputs": {
            "tube": tube.name,
            "volume_ml": blood.volume_ml,
            "anticoagulant_ml": blood.anticoagulant_ml,
            "hematocrit": blood.hematocrit,
            "platelets_per_uL": blood.platelets_per_ul,
            "wbc_per_uL": blood.wbc_per_ul,
        },
        "parameters": {
            "rbc_diameter_um": p.parameters.rbc_diameter_um,
            "hindrance_exponent": p.parameters.hindrance_exponent,
            "platelet_diameter_um": p.parameters.platelet_diameter_um,
            "g_scale": p.parameters.g_scale,
            "harvest_yield": p.parameters.harvest_yield,
        },
        "notes": list(notes),
        "warnings": list(p.warnings),
    }


def run_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``options`` (keys as argparse's ``dest``), predict, and return ``result_dict``.
    Raises ``PlannerInputError`` with a message for the user."""
    tube, blood, steps, params, notes = inputs(options)
    try:
        prediction = predict(tube, blood, steps, params=params)
    except ValueError as exc:  # e.g. a rotor radius shorter than the liquid column
        raise PlannerInputError(str(exc)) from None
    prp = options.get("prp_ml")
    if prp is not None and prediction.volume_ml < float(prp) - 1e-9:
        notes.append(f"--prp-ml {float(prp):g}: only {prediction.volume_ml:.2f} mL was left to harvest")
    return result_dict(tube, blood, prediction, notes)


def run(argv: Sequence[str]) -> dict[str, Any]:
    """Parse ``argv`` (argparse exits with a usage message on malformed options) and ``run_options``."""
    return run_options(vars(build_parser().parse_args(list(argv))))


def render(result: Mapping[str, Any], *, as_json: bool = False) -> str:
    """``result`` as one JSON object, or as text for a person."""
    if as_json:
        return json.dumps(result, ensure_ascii=False)
    i = result["inputs"]
    lines = [
        f"{i['volume_ml']:g} mL blood (+{i['anticoagulant_ml']:g} mL anticoagulant), hematocrit {i['hematocrit']:.2f}, "
        f"{i['platelets_per_uL']:,.0f} platelets/µL, in {i['tube']}",
    ]
    for n, s in enumerate(result["steps"], start=1):
        lines.append(
            f"spin {n}: {s['spin']}; {s['harvest']}: {s['harvested_ml']:.2f} mL, "
            f"{s['platelet_recovery']:.0%} of this tube's platelets"
        )
    lines += [
        f"PRP: {result['volume_ml']:.2f} mL, {result['platelets_per_uL']:,.0f} platelets/µL",
        f"recovery {result['recovery']:.1%}, concentration factor {result['concentration_factor']:.2f}, "
        f"dose {result['dose_billion']:.2f} x 10⁹ platelets",
        f"white cells: {result['wbc_recovery']:.1%} of the blood's (x{result['wbc_factor']:.2f}); "
        f"red cells: {result['rbc_recovery']:.2%}, hematocrit {result['hematocrit']:.3f}",
    ]
    lines += [f"note: {n}" for n in result["notes"]]
    lines += [f"warning: {w}" for w in result["warnings"]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser(prog="python -m prpclinic.planner.cli").parse_args(
        list(argv) if argv is not None else sys.argv[1:]
    )
    try:
        result = run_options(vars(args))
    except PlannerInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(render(result, as_json=args.json))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
