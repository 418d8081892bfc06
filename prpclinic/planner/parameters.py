"""Parameters of the sedimentation model (physical and fitted) and of its numerical scheme.

Three parameters are fitted to the published yields (``fit.py``): the red cells' effective Stokes
diameter, the hindered-settling exponent and the platelets' effective Stokes diameter. The rest
are physical constants with their sources (``constants.py``); change them only with a source.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from prpclinic.planner import constants as c

#: The parameters the fit adjusts, in the order of ``ModelParameters.fitted_vector``.
FITTED_NAMES: tuple[str, ...] = ("rbc_diameter_um", "hindrance_exponent", "platelet_diameter_um")


@dataclass(frozen=True, slots=True)
class ModelParameters:
    """Everything the physics needs, in SI units except the diameters (µm).

    ``rbc_diameter_um``: effective Stokes diameter of a red cell. Not its 8 µm disc diameter:
    it absorbs the disc shape and any aggregation (rouleaux), which is why it is fitted.
    ``hindrance_exponent``: n of the hindrance ``(1 - φ/φ_max)^n`` (Richardson & Zaki's form,
    rescaled to the packing limit). ``platelet_diameter_um``: effective Stokes diameter of a
    platelet (fitted; an equal-volume sphere of a 4.5-11 fL platelet is 2.0-2.8 µm).
    ``wbc_diameter_um``: white cells, not fitted (no published white-cell yields to fit):
    the neutrophil diameter of Downey et al. 1990.

    Two corrections for one clinic's centrifuge and handling, fitted to its own products by
    ``calibration.calibrate`` (both 1 = none, the published fit's assumption):
    ``g_scale``: the centrifuge's effective g·min as a multiple of the nominal one (rotor radius,
    speed display, acceleration and braking); every settling speed is multiplied by it, which in
    this model is the same as multiplying every spin's g (or minutes) by it.
    ``harvest_yield``: the fraction of the platelets a harvest takes that reach the next tube or
    the product (adhesion, activation, pipetting; the model loses platelets only to sedimentation
    otherwise). White and red cells are not affected.
    """

    rbc_diameter_um: float = 8.0
    hindrance_exponent: float = 4.65
    platelet_diameter_um: float = 2.45
    wbc_diameter_um: float = c.WBC_DIAMETER.value * 1e6
    rbc_density: float = c.RBC_DENSITY.value
    wbc_density: float = c.WBC_DENSITY.value
    platelet_density: float = c.PLATELET_DENSITY.value
    plasma_density: float = c.PLASMA_DENSITY.value
    plasma_viscosity: float = c.PLASMA_VISCOSITY.value
    packed_fraction: float = c.PACKED_RED_CELL_FRACTION.value
    g_scale: float = 1.0
    harvest_yield: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            if not getattr(self, f.name) > 0:
                raise ValueError(f"{f.name} must be positive")
        if not self.harvest_yield <= 1:
            raise ValueError("the harvest yield is a fraction (at most 1)")
        if not self.packed_fraction < 1:
            raise ValueError("the packed fraction must be below 1 (packed red cells trap plasma)")
        if not self.plasma_density < min(self.platelet_density, self.wbc_density, self.rbc_density):
            raise ValueError("every cell must be denser than plasma")

    def fitted_vector(self) -> tuple[float, ...]:
        return tuple(float(getattr(self, name)) for name in FITTED_NAMES)

    def with_fitted(self, values: tuple[float, ...] | list[float]) -> ModelParameters:
        if len(values) != len(FITTED_NAMES):
            raise ValueError(f"expected {len(FITTED_NAMES)} values")
        return replace(self, **{name: float(v) for name, v in zip(FITTED_NAMES, values, strict=True)})

    def stokes_speed_mm_s(self, diameter_um: float, density: float, rcf: float) -> float:
        """Stokes settling speed (mm/s) of a sphere in plasma at ``rcf`` x g: d²·(rho_p - rho_f)·g/(18 mu),
        times ``g_scale`` (the centrifuge's correction)."""
        d = diameter_um * 1e-6
        return (
            1000.0 * d * d * (density - self.plasma_density) * rcf * c.STANDARD_GRAVITY / (18.0 * self.plasma_viscosity)
        ) * self.g_scale


@dataclass(frozen=True, slots=True)
class Numerics:
    """The finite-volume grid and time step.

    ``cell_mm``: cell height. ``cfl``: fraction of the largest stable explicit step.
    ``trace``: a cell holding less than this fraction of a species' mean content does not limit
    the time step; its outflow is capped at its content instead (keeps it non-negative), so at
    most that trace amount moves more slowly than it should.
    """

    cell_mm: float = 0.5
    cfl: float = 0.8
    trace: float = 1e-6

    def __post_init__(self) -> None:
        if self.cell_mm <= 0 or not 0 < self.cfl <= 1 or not 0 <= self.trace < 1:
            raise ValueError("cell_mm > 0, 0 < cfl <= 1 and 0 <= trace < 1 are required")
