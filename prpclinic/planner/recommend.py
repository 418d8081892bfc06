"""Choose a program for a target: a concentration factor, a platelet concentration or a dose.

``recommend`` predicts every candidate program for this blood and tube and ranks them by how
far they land from the target (the largest relative miss over the targets given, measured as
|log(predicted/target)| so that half and double count the same), ties broken by the higher
recovery. ``resuspension_volume_ml`` gives the new setting that most programs leave free: the
volume to keep with the pellet so that the product reaches a target concentration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from prpclinic.planner.geometry import Tube
from prpclinic.planner.model import Prediction, predict
from prpclinic.planner.parameters import ModelParameters, Numerics
from prpclinic.planner.protocol import Blood, Step


@dataclass(frozen=True, slots=True)
class Target:
    """What the product should reach; give one or more."""

    concentration_factor: float | None = None
    platelets_per_ul: float | None = None
    dose: float | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.concentration_factor, self.platelets_per_ul, self.dose) if v is not None]
        if not given:
            raise ValueError("give a concentration factor, a concentration or a dose")
        if any(v <= 0 for v in given):
            raise ValueError("targets must be positive")

    def miss(self, prediction: Prediction) -> float:
        """The largest |log(predicted/target)| over the targets given (inf for an empty product)."""
        pairs = (
            (self.concentration_factor, prediction.concentration_factor),
            (self.platelets_per_ul, prediction.platelets_per_ul),
            (self.dose, prediction.dose),
        )
        worst = 0.0
        for target, value in pairs:
            if target is None:
                continue
            if value <= 0:
                return math.inf
            worst = max(worst, abs(math.log(value / target)))
        return worst


@dataclass(frozen=True, slots=True)
class Program:
    """A named candidate: its steps (each step may name its own tube)."""

    name: str
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Ranked:
    program: Program
    prediction: Prediction
    miss: float


def recommend(
    tube: Tube,
    blood: Blood,
    programs: tuple[Program, ...] | list[Program],
    target: Target,
    *,
    params: ModelParameters | None = None,
    numerics: Numerics | None = None,
) -> tuple[Ranked, ...]:
    """Every program predicted and ranked, the closest to ``target`` first."""
    ranked = [
        Ranked(program, prediction, target.miss(prediction))
        for program in programs
        for prediction in (predict(tube, blood, program.steps, params=params, numerics=numerics),)
    ]
    ranked.sort(key=lambda r: (r.miss, -r.prediction.platelet_recovery))
    return tuple(ranked)


def resuspension_volume_ml(prediction: Prediction, platelets_per_ul: float) -> float:
    """Volume (mL) in which the product's platelets reach ``platelets_per_ul``.

    Valid for a pellet resuspended in a chosen volume of plasma (the platelets stay the same,
    only the plasma kept changes); it is the definition N = C·V of PRP_REFERENCE.md §2.
    """
    if platelets_per_ul <= 0:
        raise ValueError("the target concentration must be positive")
    return prediction.dose / platelets_per_ul / 1000.0
