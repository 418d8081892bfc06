"""Choose a program for a target: a concentration factor, a platelet concentration or a dose.

``recommend`` predicts every candidate program for this blood and tube and ranks them by how
far they land from the target (the largest relative miss over the targets given, measured as
|log(predicted/target)| so that half and double count the same), ties broken by the higher
recovery. Candidates are the clinic's programs and, optionally, new settings: a
``CandidateGrid`` of g and minutes for one and two spins (about a thousand by default).
Predictions go through ``batch.predict_many``, which gives ``predict``'s numbers for all of
them at once (1,000 candidates in well under a second). ``resuspension_volume_ml`` gives the
new setting that most programs leave free: the volume to keep with the pellet so that the
product reaches a target concentration.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from prpclinic.planner.batch import predict_many
from prpclinic.planner.geometry import Tube
from prpclinic.planner.model import Prediction
from prpclinic.planner.parameters import ModelParameters, Numerics
from prpclinic.planner.protocol import (
    Blood,
    Harvest,
    KeepLowerFraction,
    PlasmaAboveBuffy,
    Spin,
    Step,
    UpperPlasmaLayer,
)


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
    """A candidate, its prediction and its miss; ``new`` for a setting from a ``CandidateGrid``."""

    program: Program
    prediction: Prediction
    miss: float
    new: bool = False


#: g (x g at the tube bottom) and minutes of the default grid: 100-1500 g, 3-20 min.
GRID_G: tuple[float, ...] = (100, 150, 200, 250, 300, 400, 500, 600, 700, 800, 1000, 1200, 1500)
GRID_MINUTES: tuple[float, ...] = (3, 5, 8, 10, 12, 15, 20)
#: First spins of two-spin candidates (soft: they make the PRP) and second spins (they pellet it).
GRID_FIRST_G: tuple[float, ...] = (100, 150, 200, 300, 400, 600)
GRID_FIRST_MINUTES: tuple[float, ...] = (3, 5, 10, 15)
GRID_SECOND_G: tuple[float, ...] = (300, 400, 500, 600, 700, 800, 1000, 1200, 1500)
GRID_SECOND_MINUTES: tuple[float, ...] = (5, 10, 15, 20)
#: The default harvests: leukocyte-poor PRP from one spin; Perez 2014's two-spin rules (T1).
GRID_SINGLE_HARVEST: Harvest = PlasmaAboveBuffy(2.0)
GRID_FIRST_HARVEST: Harvest = UpperPlasmaLayer()
GRID_SECOND_HARVEST: Harvest = KeepLowerFraction(1 / 3)


@dataclass(frozen=True, slots=True)
class CandidateGrid:
    """New settings to consider besides the clinic's programs: every (g, minutes) of ``g`` x
    ``minutes`` as one spin followed by ``single_harvest``, and every first spin of ``first_g`` x
    ``first_minutes`` (then ``first_harvest``) followed by every second spin of ``second_g`` x
    ``second_minutes`` (then ``second_harvest``). ``None`` as a harvest leaves that kind out.

    The default is 91 one-spin and 864 two-spin candidates, 100-1500 g and 3-20 min: the
    IADVL windows and beyond. ``rotor_radius_cm`` and ``tube`` (for the second spin) as in
    ``Spin`` and ``Step``.
    """

    g: tuple[float, ...] = GRID_G
    minutes: tuple[float, ...] = GRID_MINUTES
    single_harvest: Harvest | None = GRID_SINGLE_HARVEST
    first_g: tuple[float, ...] = GRID_FIRST_G
    first_minutes: tuple[float, ...] = GRID_FIRST_MINUTES
    first_harvest: Harvest = GRID_FIRST_HARVEST
    second_g: tuple[float, ...] = GRID_SECOND_G
    second_minutes: tuple[float, ...] = GRID_SECOND_MINUTES
    second_harvest: Harvest | None = GRID_SECOND_HARVEST
    rotor_radius_cm: float | None = None
    second_tube: Tube | None = None

    def __post_init__(self) -> None:
        for values in (self.g, self.minutes, self.first_g, self.first_minutes, self.second_g, self.second_minutes):
            if any(not v > 0 for v in values):
                raise ValueError("grid g and minutes must be positive")

    def programs(self) -> tuple[Program, ...]:
        """The candidates, named by their settings."""
        radius = self.rotor_radius_cm
        out: list[Program] = []
        if self.single_harvest is not None:
            for g, m in itertools.product(self.g, self.minutes):
                out.append(Program(f"{g:g} g x {m:g} min", (Step(Spin(g, m, radius), self.single_harvest),)))
        if self.second_harvest is not None:
            for (g1, m1), (g2, m2) in itertools.product(
                itertools.product(self.first_g, self.first_minutes),
                itertools.product(self.second_g, self.second_minutes),
            ):
                steps = (
                    Step(Spin(g1, m1, radius), self.first_harvest),
                    Step(Spin(g2, m2, radius), self.second_harvest, self.second_tube),
                )
                out.append(Program(f"{g1:g} g x {m1:g} min, then {g2:g} g x {m2:g} min", steps))
        return tuple(out)


def recommend(
    tube: Tube,
    blood: Blood,
    programs: Sequence[Program],
    target: Target,
    *,
    params: ModelParameters | None = None,
    numerics: Numerics | None = None,
    candidates: CandidateGrid | Sequence[Program] | None = None,
    top: int | None = None,
) -> tuple[Ranked, ...]:
    """Every program, and every new setting of ``candidates``, predicted and ranked, the closest
    to ``target`` first (ties: the higher recovery; then the clinic's programs before new
    settings). ``top`` keeps only the first ``top``.

    Numbers are ``predict``'s (through ``batch.predict_many``). Raises ``ValueError`` as
    ``predict`` would for any candidate (e.g. a rotor too small for the tube).
    """
    extra: Sequence[Program] = (
        candidates.programs() if isinstance(candidates, CandidateGrid) else (candidates if candidates else ())
    )
    everything = [*programs, *extra]
    predictions = predict_many(tube, blood, [p.steps for p in everything], params=params, numerics=numerics)
    ranked = [
        Ranked(program, prediction, target.miss(prediction), new=index >= len(programs))
        for index, (program, prediction) in enumerate(zip(everything, predictions, strict=True))
    ]
    ranked.sort(key=lambda r: (r.miss, -r.prediction.platelet_recovery, r.new))
    return tuple(ranked if top is None else ranked[:top])


def resuspension_volume_ml(prediction: Prediction, platelets_per_ul: float) -> float:
    """Volume (mL) in which the product's platelets reach ``platelets_per_ul``.

    Valid for a pellet resuspended in a chosen volume of plasma (the platelets stay the same,
    only the plasma kept changes); it is the definition N = C·V of PRP_REFERENCE.md §2.
    """
    if platelets_per_ul <= 0:
        raise ValueError("the target concentration must be positive")
    return prediction.dose / platelets_per_ul / 1000.0
