"""The published PRP yields the model is fitted to (PRP_YIELD_DATA.md), as data with their sources.

Every row keeps what the study reported and, separately, what we had to assume to simulate it:
the studies' abstracts rarely give the tube, the hematocrit or the volumes harvested. Those
assumptions are marked ``[U]`` and listed in docs/planner.md; they are the weakest part of the fit.

Ranges are fitted at their midpoint with half the range as spread; "about X" gets a spread of
10 % of X (our choice). Every spread is widened by a model floor (``MODEL_FLOOR_*``) so that no
single row, measured under conditions we can only guess, dominates the fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from prpclinic.planner.geometry import TUBE_15ML_CONICAL, Tube
from prpclinic.planner.protocol import (
    Blood,
    KeepLowerFraction,
    KeepLowerVolume,
    PlasmaAboveBuffy,
    Spin,
    Step,
    UpperPlasmaLayer,
)

Quantity = Literal["recovery", "step_recovery", "concentration_factor"]

#: Not reported by any of the studies: a normal adult value from general knowledge [U], not from our
#: references. The docs show how the predictions move over ``HEMATOCRIT_BAND``.
ASSUMED_HEMATOCRIT = 0.42
HEMATOCRIT_BAND = (0.37, 0.47)
#: 3.2 % citrate at 1:9 (PRP_REFERENCE.md §1, "standard tube convention" [U]): 1 mL per 9 mL of blood.
CITRATE_PER_ML_BLOOD = 1.0 / 9.0
#: Marx 2001 (Implant Dent 10:225): normal WB platelets average about 200,000/µL [V]. Recovery
#: and concentration factor do not depend on it (the model is linear in platelets).
ASSUMED_PLATELETS_PER_UL = 200_000.0
#: Spread added in quadrature to every reported spread (fit choice, not data).
MODEL_FLOOR_RECOVERY = 0.05
MODEL_FLOOR_CF_RELATIVE = 0.10

#: A 450 mL whole-blood bag with 63 mL of CPD, modelled as a flat-bottomed column of 35 cm² section
#: (about 8 x 4.5 cm when filled, standing in the centrifuge cup): our assumption [U], so the
#: liquid stands about 15 cm high. The abstract gives no bag dimensions or rotor radius.
BLOOD_BAG = Tube("450 mL blood bag as a 35 cm² column (assumed)", 66.76, 200.0, "flat")


@dataclass(frozen=True, slots=True)
class Condition:
    """How we simulate one published protocol: the tube, the blood and the steps, with the
    assumptions that simulation needs."""

    row: str
    tube: Tube
    blood: Blood
    steps: tuple[Step, ...]
    assumptions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Observation:
    """One reported number: ``value`` with ``spread`` (``spread_kind`` says what it is)."""

    id: str
    row: str
    source: str
    quantity: Quantity
    value: float
    spread: float
    spread_kind: str
    reported: str
    step: int | None = None

    @property
    def sigma(self) -> float:
        """The spread used in the fit: the reported one widened by the model floor."""
        floor = (
            MODEL_FLOOR_RECOVERY if self.quantity != "concentration_factor" else MODEL_FLOOR_CF_RELATIVE * self.value
        )
        return float((self.spread**2 + floor**2) ** 0.5)


_HCT = f"WB hematocrit {ASSUMED_HEMATOCRIT} [U] (not reported), 3.2 % citrate 1:9 [U]"
_CONICAL = "15 mL conical tube (nominal 14.5 mm bore, 22 mm cone) [U] (tube not given in the abstract)"
_NO_RADIUS = "rotor radius not given: g applied along the whole tube"


def blood_with_citrate(volume_ml: float, hematocrit: float = ASSUMED_HEMATOCRIT) -> Blood:
    return Blood(
        volume_ml=volume_ml,
        hematocrit=hematocrit,
        platelets_per_ul=ASSUMED_PLATELETS_PER_UL,
        anticoagulant_ml=volume_ml * CITRATE_PER_ML_BLOOD,
    )


CONDITIONS: dict[str, Condition] = {
    "T1": Condition(
        row="T1",
        tube=TUBE_15ML_CONICAL,
        blood=blood_with_citrate(3.5),
        steps=(
            Step(Spin(100, 10), UpperPlasmaLayer()),
            Step(Spin(400, 10), KeepLowerFraction(1 / 3)),
        ),
        assumptions=(
            _CONICAL,
            _HCT,
            "after spin 1 the whole plasma with the buffy coat is taken [U] (the abstract names only spin 2's harvest)",
            _NO_RADIUS,
        ),
    ),
    "T2": Condition(
        row="T2",
        tube=TUBE_15ML_CONICAL,
        blood=blood_with_citrate(8.5),
        steps=(
            Step(Spin(100, 10), UpperPlasmaLayer()),
            Step(Spin(400, 10), KeepLowerFraction(1 / 3)),
        ),
        assumptions=("as T1 with 8.5 mL",),
    ),
    "T3+T4": Condition(
        row="T3+T4",
        tube=TUBE_15ML_CONICAL,
        blood=blood_with_citrate(10.0),
        steps=(
            Step(Spin(900, 5), UpperPlasmaLayer()),
            Step(Spin(1500, 15), KeepLowerFraction(1 / 3)),
        ),
        assumptions=(
            _CONICAL,
            _HCT,
            "10 mL of blood [U] (the abstract gives no volume)",
            "spin 2 keeps the lower third [U] ('concentrated lower fraction')",
            _NO_RADIUS,
        ),
    ),
    "T5": Condition(
        row="T5",
        tube=BLOOD_BAG,
        blood=Blood(
            volume_ml=450.0,
            hematocrit=ASSUMED_HEMATOCRIT,
            platelets_per_ul=ASSUMED_PLATELETS_PER_UL,
            anticoagulant_ml=63.0,
        ),
        steps=(
            Step(Spin(1000, 9), PlasmaAboveBuffy(2.0)),
            Step(Spin(3000, 20), KeepLowerVolume(50.0)),
        ),
        assumptions=(
            "bag as a 35 cm² flat-bottomed column [U]",
            f"WB hematocrit {ASSUMED_HEMATOCRIT} [U], 63 mL CPD (the usual amount for a 450 mL bag [U])",
            "PRP expressed down to 2 mm above the buffy coat [U]",
            "pellet resuspended in 50 mL of plasma [U]",
            _NO_RADIUS,
        ),
    ),
}

OBSERVATIONS: tuple[Observation, ...] = (
    Observation(
        id="T1-R",
        row="T1",
        source="Perez et al. 2014, ISRN Hematology 2014:176060 (abstract)",
        quantity="recovery",
        value=0.75,
        spread=0.05,
        spread_kind="half of the reported range",
        reported="recovery 70-80 %",
    ),
    Observation(
        id="T1-CF",
        row="T1",
        source="Perez et al. 2014 (abstract)",
        quantity="concentration_factor",
        value=5.0,
        spread=0.5,
        spread_kind="'about': 10 % assumed",
        reported="CF about 5",
    ),
    Observation(
        id="T3",
        row="T3+T4",
        source="Jo et al. 2013, J Oral Implantol 39(5):525 (abstract)",
        quantity="step_recovery",
        step=1,
        value=0.920,
        spread=0.031,
        spread_kind="SD",
        reported="per-step recovery 92.0 ± 3.1 %",
    ),
    Observation(
        id="T4",
        row="T3+T4",
        source="Jo et al. 2013 (abstract)",
        quantity="step_recovery",
        step=2,
        value=0.843,
        spread=0.100,
        spread_kind="SD",
        reported="per-step recovery 84.3 ± 10.0 %",
    ),
    Observation(
        id="T5",
        row="T5",
        source="Slichter & Harker 1976, Br J Haematol 34:395 (summary)",
        quantity="recovery",
        value=0.86,
        spread=0.01,
        spread_kind="± as reported (SD or SEM not stated)",
        reported="overall recovery 86 ± 1 %",
    ),
)


@dataclass(frozen=True, slots=True)
class Plausibility:
    """A reported number without the settings to simulate it: compared with the range the model
    gives over a window of settings, never fitted."""

    id: str
    source: str
    reported: str
    low: float
    high: float
    quantity: Quantity
    window: str


PLAUSIBILITY: tuple[Plausibility, ...] = (
    Plausibility(
        id="T6",
        source="'Platelet yield and yield consistency for six single-spin methods' (abstract)",
        reported="recovery 53 ± 18 % to 72 ± 13 %",
        low=0.53,
        high=0.72,
        quantity="recovery",
        window="single spin 100-300 g x 5-10 min, plasma down to 2 mm above the buffy coat, 10 mL in a 15 mL tube",
    ),
    Plausibility(
        id="T7",
        source="Nagata et al. 2010, Eur J Dent 4:395, rabbits (abstract)",
        reported="CF about 1.75 (single spin)",
        low=1.75,
        high=1.75,
        quantity="concentration_factor",
        window="single spin 100-300 g x 5-10 min, all the plasma down to the red cells, 5 mL in a 15 mL tube",
    ),
    Plausibility(
        id="T8",
        source="Nagata et al. 2010 (abstract)",
        reported="CF about 4.45 (double spin)",
        low=4.45,
        high=4.45,
        quantity="concentration_factor",
        window="IADVL window: 100-300 g x 5-10 min, then 400-700 g x 10-17 min keeping the lower third (or quarter)",
    ),
)
