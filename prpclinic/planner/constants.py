"""Physical constants of the sedimentation model, each with its source and how sure we are of it.

Tags as in PRP_REFERENCE.md: **V** read in the source's own text, **S** seen only in a secondary
source, **U** unverified (a commonly used value). Values tagged U are configurable defaults or
starting points of the fit, never hard rules. Ranges are kept beside the value the model uses
(the midpoint of the published range unless said otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Certainty = Literal["V", "S", "U"]

#: Standard gravity (m/s^2): the definition of 1 x g (CGPM 1901).
STANDARD_GRAVITY = 9.80665


@dataclass(frozen=True, slots=True)
class Quantity:
    """One physical quantity: the value the model uses, the published range and its source."""

    name: str
    value: float
    unit: str
    low: float
    high: float
    source: str
    certainty: Certainty


_DENSITY_SOURCE = "AR2T3 review of blood-cell densities, cited in PRP_REFERENCE.md §10 and PRP_YIELD_DATA.md"

RBC_DENSITY = Quantity("red-cell density", 1095.0, "kg/m³", 1090.0, 1100.0, _DENSITY_SOURCE, "V")
WBC_DENSITY = Quantity("white-cell density", 1067.5, "kg/m³", 1050.0, 1085.0, _DENSITY_SOURCE, "V")
PLATELET_DENSITY = Quantity("platelet density", 1050.0, "kg/m³", 1040.0, 1060.0, _DENSITY_SOURCE, "V")
PLASMA_DENSITY = Quantity(
    "plasma density", 1026.0, "kg/m³", 1025.0, 1027.0, _DENSITY_SOURCE + "; Balga et al. (secondary)", "S"
)
PLASMA_VISCOSITY = Quantity(
    "plasma viscosity", 1.2e-3, "Pa·s", 1.2e-3, 1.2e-3, "commonly used value, not verified (PRP_YIELD_DATA.md)", "U"
)
RBC_DIAMETER = Quantity(
    "red-cell diameter",
    8.0e-6,
    "m",
    8.0e-6,
    8.0e-6,
    "commonly used value, not verified (PRP_YIELD_DATA.md); the model fits an effective Stokes diameter instead",
    "U",
)
WBC_DIAMETER = Quantity(
    "white-cell (neutrophil) diameter",
    8.4e-6,
    "m",
    7.3e-6,
    9.7e-6,
    "Downey et al. 1990, J Appl Physiol 69:1767, Table 1 (Coulter counter, 3 donors), as quoted by BioNumbers "
    "BNID 100510; used for all white cells (lymphocytes are smaller: 6.05 µm, same study, BNID 111438)",
    "S",
)
PLATELET_VOLUME = Quantity(
    "platelet volume",
    7.75e-18,
    "m³",
    4.5e-18,
    11.0e-18,
    "MLO continuing-education review of platelet indices (4.5-11 fL, 3-5 µm discs); the model fits an "
    "effective Stokes diameter, this range is the plausibility check (equal-volume sphere 2.0-2.8 µm)",
    "S",
)
PACKED_RED_CELL_FRACTION = Quantity(
    "red-cell volume fraction of a packed red-cell column",
    0.94,
    "1",
    0.94,
    0.94,
    "Clark & Walsh 1960, Aust J Exp Biol Med Sci: true/observed hematocrit 0.94 above about 1,430 g, lower "
    "below (PRP_YIELD_DATA.md); the rest of the packed column is trapped plasma",
    "V",
)
RICHARDSON_ZAKI_CLOSURE = "Richardson & Zaki 1954, Trans Inst Chem Eng 32:35 (hindered settling (1-φ)^n)"
MLB_CLOSURE = (
    "Masliyah 1979 and Lockett & Bassoon 1979 (the 'MLB' model; journal details from memory, U): slip velocities "
    "of several species, each buoyed by the suspension's mean density"
)
RECEIVING_SIDE_HINDRANCE = (
    "Bargieł & Tory 2006, particle-based simulation of polydisperse sedimentation: a particle moving down is "
    "governed by the concentration just below it, one moving up by that just above it"
)

ALL_QUANTITIES: tuple[Quantity, ...] = (
    RBC_DENSITY,
    WBC_DENSITY,
    PLATELET_DENSITY,
    PLASMA_DENSITY,
    PLASMA_VISCOSITY,
    RBC_DIAMETER,
    WBC_DIAMETER,
    PLATELET_VOLUME,
    PACKED_RED_CELL_FRACTION,
)


def equal_volume_diameter(volume_m3: float) -> float:
    """Diameter (m) of the sphere with the given volume."""
    return float((6.0 * volume_m3 / 3.141592653589793) ** (1.0 / 3.0))
