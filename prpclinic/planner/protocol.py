"""What goes into a prediction: the blood, the spins and the harvest rule after each spin.

Harvest rules are data. Each finds a cut height in the spun tube and takes what lies above it
(aspirating from the top) or keeps what lies below it (discarding the top):

- ``PlasmaAboveBuffy(margin_mm=2)``: the plasma down to ``margin_mm`` above the buffy coat.
- ``UpperPlasmaLayer(into_red_mm=0)``: all the plasma down to the red cells' interface, and
  ``into_red_mm`` into the red layer (leukocyte-rich PRP takes a millimetre or two).
- ``UpperVolume(volume_ml)``: the top ``volume_ml``.
- ``KeepLowerFraction(fraction)``: keep the lower fraction of the tube's contents, e.g. 1/3
  (Perez 2014: remove the upper 2/3 of the plasma), resuspended.
- ``KeepLowerVolume(volume_ml)``: keep the bottom ``volume_ml`` (pellet in residual plasma).

Cuts are measured from the red cells' interface (the model's white cells and platelets are
passive species, so its buffy coat has no thickness of its own): "above the buffy coat" is above
the interface or the white-cell band, whichever is higher.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from prpclinic.planner.geometry import Tube

Side = Literal["above", "below"]


@dataclass(frozen=True, slots=True)
class Blood:
    """The blood put in the first tube.

    ``volume_ml`` of whole blood (WB) with its ``hematocrit`` (red-cell volume fraction, 0-1) and
    ``platelets_per_ul`` as measured on the WB before it meets the anticoagulant, plus
    ``anticoagulant_ml`` in the tube. Counts measured on the tube's contents (after dilution)
    are entered with ``anticoagulant_ml=0`` and the tube's total volume: both give the same
    platelet numbers, but the concentration factor is then relative to the diluted blood.
    ``wbc_per_ul`` is optional: without it, white cells are reported relative to the WB.
    """

    volume_ml: float
    hematocrit: float
    platelets_per_ul: float
    anticoagulant_ml: float = 0.0
    wbc_per_ul: float | None = None

    def __post_init__(self) -> None:
        if self.volume_ml <= 0:
            raise ValueError("the blood volume must be positive")
        if not 0 <= self.hematocrit < 0.9:
            raise ValueError("the hematocrit is a fraction between 0 and 0.9")
        if self.platelets_per_ul < 0 or self.anticoagulant_ml < 0:
            raise ValueError("counts and volumes cannot be negative")
        if self.wbc_per_ul is not None and self.wbc_per_ul < 0:
            raise ValueError("counts cannot be negative")

    @property
    def tube_volume_ml(self) -> float:
        return self.volume_ml + self.anticoagulant_ml

    @property
    def dilution(self) -> float:
        """Fraction of the tube's contents that is blood."""
        return self.volume_ml / self.tube_volume_ml


@dataclass(frozen=True, slots=True)
class Spin:
    """One spin: ``rcf`` x g for ``minutes``.

    The g is taken at the tube bottom (RCF-max, the international convention). With
    ``rotor_radius_cm`` (the radius at the tube bottom) the field falls towards the top of the
    tube as r/r_max; without it the model applies ``rcf`` along the whole tube. Acceleration
    and braking are not modelled.
    """

    rcf: float
    minutes: float
    rotor_radius_cm: float | None = None

    def __post_init__(self) -> None:
        if self.rcf < 0 or self.minutes < 0:
            raise ValueError("g and minutes cannot be negative")
        if self.rotor_radius_cm is not None and self.rotor_radius_cm <= 0:
            raise ValueError("the rotor radius must be positive")

    def describe(self) -> str:
        return f"{self.rcf:g} g x {self.minutes:g} min"


@dataclass(frozen=True, slots=True)
class PlasmaAboveBuffy:
    """Take the plasma down to ``margin_mm`` above the buffy coat (leukocyte-poor)."""

    margin_mm: float = 2.0

    def __post_init__(self) -> None:
        if self.margin_mm < 0:
            raise ValueError("the margin cannot be negative")

    def describe(self) -> str:
        return f"take the plasma down to {self.margin_mm:g} mm above the buffy coat"


@dataclass(frozen=True, slots=True)
class UpperPlasmaLayer:
    """Take all the plasma down to the red cells' interface, and ``into_red_mm`` into the red layer."""

    into_red_mm: float = 0.0

    def __post_init__(self) -> None:
        if self.into_red_mm < 0:
            raise ValueError("the depth into the red cells cannot be negative")

    def describe(self) -> str:
        more = f" and {self.into_red_mm:g} mm of the red layer" if self.into_red_mm else ""
        return f"take the plasma down to the red cells{more}"


@dataclass(frozen=True, slots=True)
class UpperVolume:
    """Take the top ``volume_ml`` of the tube."""

    volume_ml: float

    def __post_init__(self) -> None:
        if self.volume_ml <= 0:
            raise ValueError("the volume must be positive")

    def describe(self) -> str:
        return f"take the upper {self.volume_ml:g} mL"


@dataclass(frozen=True, slots=True)
class KeepLowerFraction:
    """Discard the upper part and keep the lower ``fraction`` of the tube's contents, resuspended."""

    fraction: float

    def __post_init__(self) -> None:
        if not 0 < self.fraction <= 1:
            raise ValueError("the fraction must be in (0, 1]")

    def describe(self) -> str:
        return f"keep the lower {self.fraction:.3g} of the volume"


@dataclass(frozen=True, slots=True)
class KeepLowerVolume:
    """Discard the upper part and keep the bottom ``volume_ml`` (the pellet in residual plasma)."""

    volume_ml: float

    def __post_init__(self) -> None:
        if self.volume_ml <= 0:
            raise ValueError("the volume must be positive")

    def describe(self) -> str:
        return f"keep the lower {self.volume_ml:g} mL"


Harvest = PlasmaAboveBuffy | UpperPlasmaLayer | UpperVolume | KeepLowerFraction | KeepLowerVolume


@dataclass(frozen=True, slots=True)
class Step:
    """A spin and the harvest after it; ``tube`` is the tube this step's input is put in
    (``None``: a tube like the first one)."""

    spin: Spin
    harvest: Harvest
    tube: Tube | None = None


#: The harvests assumed when only the spins (and perhaps the PRP volume) are known: the CLI's
#: defaults and ``calibration``'s reading of a clinic's products.
#: One spin: the plasma down to 2 mm above the buffy coat (leukocyte-poor PRP).
SINGLE_SPIN_HARVEST: Harvest = PlasmaAboveBuffy(2.0)
#: After the first of two spins: all the plasma down to the red cells (Perez 2014's T1 rule).
FIRST_SPIN_HARVEST: Harvest = UpperPlasmaLayer()
#: After the second spin: keep the lower third (Perez 2014: the upper two thirds are discarded).
SECOND_SPIN_HARVEST: Harvest = KeepLowerFraction(1 / 3)


def clinic_steps(
    spins: tuple[Spin, ...] | list[Spin],
    prp_ml: float | None = None,
    *,
    first_harvest: Harvest = FIRST_SPIN_HARVEST,
) -> tuple[Step, ...]:
    """The steps of a program known by its spins and, perhaps, the PRP volume harvested.

    One spin: the top ``prp_ml`` of the tube (``UpperVolume``), or without it the plasma down to
    2 mm above the buffy coat. Two spins: ``first_harvest`` (all the plasma down to the red cells),
    then the bottom ``prp_ml`` of the second tube (``KeepLowerVolume``), or without it the lower
    third.
    """
    if len(spins) == 1:
        return (Step(spins[0], SINGLE_SPIN_HARVEST if prp_ml is None else UpperVolume(prp_ml)),)
    if len(spins) == 2:
        second = SECOND_SPIN_HARVEST if prp_ml is None else KeepLowerVolume(prp_ml)
        return (Step(spins[0], first_harvest), Step(spins[1], second))
    raise ValueError("a program here has one or two spins")
