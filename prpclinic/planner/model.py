"""The PRP yield model: a tube of blood through one or more spins and harvests to the product.

``predict(tube, blood, steps)`` is what the planner page calls. The product measures follow
PRP_REFERENCE.md §2 (Perez 2014, DEPA):

- recovery R = C_PRP·V_PRP / (C_WB·V_WB) (platelets in the product / platelets in the WB),
- concentration factor CF = C_PRP / C_WB = R·V_WB / V_PRP,
- dose N = C_PRP·V_PRP (platelets),

with C_WB and V_WB as given in ``Blood`` (before the anticoagulant). White and red cells are
reported the same way: the fraction of the WB's cells that end up in the product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prpclinic.planner.fitted import FIT
from prpclinic.planner.geometry import FloatArray, Grid, Tube, height_of_volume_mm, make_grid
from prpclinic.planner.parameters import ModelParameters, Numerics
from prpclinic.planner.protocol import (
    Blood,
    Harvest,
    KeepLowerFraction,
    KeepLowerVolume,
    PlasmaAboveBuffy,
    Side,
    Spin,
    Step,
    UpperPlasmaLayer,
    UpperVolume,
)
from prpclinic.planner.sedimentation import Profile, interface_height, settle, uniform_profile

MM3_PER_ML = 1000.0  # and 1 µL = 1 mm³, so platelets per µL are platelets per mm³
#: Below this red-cell fraction (0.01 % hematocrit) a tube has no red layer to speak of.
NO_RED_LAYER = 1e-4
#: A harvest taking less than this fraction of a cell type takes none of it: 1e-9 of the white cells
#: of 10 mL of blood is less than one cell (0.06 of 6e7), of its platelets about two.
NEGLIGIBLE = 1e-9


@dataclass(frozen=True, slots=True)
class Layers:
    """Heights (mm above the tube bottom) after a spin.

    ``red_top_mm``: the red cells' interface (half the starting red-cell fraction).
    ``buffy_bottom_mm``/``buffy_top_mm``: the band where white cells have gathered to at least
    twice their starting concentration (both equal ``red_top_mm`` when they have not). White
    cells are passive in the model, so after a hard spin the band is about a grid cell wide at
    the interface, not the real buffy coat's thickness; after a soft one it can lie inside the
    red layer. ``sediment_top_mm``: top of the compacting
    red-cell sediment; below ``red_top_mm`` while red cells still settle, equal once they have
    all settled. ``plasma_ml``: the volume above the red cells.
    """

    meniscus_mm: float
    buffy_top_mm: float
    red_top_mm: float
    buffy_bottom_mm: float
    sediment_top_mm: float
    plasma_ml: float


@dataclass(frozen=True, slots=True)
class StepResult:
    """One spin and its harvest. Recoveries here are per step: harvested / put in this tube."""

    spin: Spin
    harvest: Harvest
    tube: Tube
    input_ml: float
    layers: Layers
    cut_mm: float
    harvested_ml: float
    platelet_recovery: float
    wbc_recovery: float
    rbc_recovery: float
    time_steps: int


@dataclass(frozen=True, slots=True)
class Prediction:
    """The product after the last step, and every step on the way.

    ``platelet_recovery`` (R), ``platelets_per_ul`` (C_PRP), ``concentration_factor`` (CF) and
    ``dose`` (N, platelets) as defined in PRP_REFERENCE.md §2. ``wbc_recovery`` and
    ``rbc_recovery``: fractions of the WB's white and red cells in the product;
    ``wbc_factor``: the product's white-cell concentration over the WB's (above 1: leukocyte-rich);
    ``wbc_per_ul`` only when the WB count was given; ``hematocrit``: the product's red-cell
    volume fraction. An empty product has zero concentrations and a warning.
    """

    steps: tuple[StepResult, ...]
    volume_ml: float
    platelet_recovery: float
    platelets_per_ul: float
    concentration_factor: float
    dose: float
    wbc_recovery: float
    wbc_factor: float
    wbc_per_ul: float | None
    rbc_recovery: float
    hematocrit: float
    parameters: ModelParameters
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Measures:
    """PRP_REFERENCE.md §2: R = C_PRP·V_PRP/(C_WB·V_WB), CF = C_PRP/C_WB = R·V_WB/V_PRP, N = C_PRP·V_PRP."""

    recovery: float
    platelets_per_ul: float
    concentration_factor: float
    dose: float


def measures(*, wb_platelets_per_ul: float, wb_ml: float, product_platelets: float, product_ml: float) -> Measures:
    """The product measures from the platelets counted in the product and its volume.

    An empty product has zero concentration (there is nothing to measure).
    """
    wb_total = wb_platelets_per_ul * wb_ml * MM3_PER_ML
    concentration = product_platelets / (product_ml * MM3_PER_ML) if product_ml > 0 else 0.0
    return Measures(
        recovery=_ratio(product_platelets, wb_total),
        platelets_per_ul=concentration,
        concentration_factor=_ratio(concentration, wb_platelets_per_ul),
        dose=product_platelets,
    )


def default_parameters() -> ModelParameters:
    """The parameters fitted to the published yields (``fitted.py``)."""
    return FIT.parameters


def layers_of(profile: Profile, tube: Tube, start: Profile, packed_fraction: float) -> Layers:
    """Interfaces of ``profile``, a tube that was ``start`` (well mixed) before the spin."""
    grid = profile.grid
    meniscus = float(grid.edges_mm[-1])
    start_rbc, start_wbc = float(start.rbc[0]), float(start.wbc[0])
    if start_rbc < NO_RED_LAYER:
        return Layers(meniscus, 0.0, 0.0, 0.0, 0.0, float(grid.volumes_mm3.sum()) / MM3_PER_ML)
    red_top = interface_height(grid, profile.rbc, 0.5 * start_rbc)
    sediment = min(red_top, interface_height(grid, profile.rbc, 0.5 * (start_rbc + packed_fraction)))
    plasma = (float(grid.volumes_mm3.sum()) - float(tube.volume_below_mm3(red_top))) / MM3_PER_ML
    bottom, top = _buffy_band(grid, profile.wbc, 2.0 * start_wbc, red_top)
    return Layers(meniscus, top, red_top, bottom, sediment, max(plasma, 0.0))


def _buffy_band(grid: Grid, wbc: FloatArray, rich: float, red_top: float) -> tuple[float, float]:
    """The run of white-cell-rich cells around the highest white-cell concentration, as (bottom, top).

    Zero width at the red interface when no cell reaches ``rich``. At low g the band can lie
    inside the red layer: the model's white cells gather where the unsettled red-cell
    sediment is as dense as they are.
    """
    peak = int(np.argmax(wbc))
    if rich <= 0 or wbc[peak] < rich:
        return red_top, red_top
    lo = hi = peak
    while lo > 0 and wbc[lo - 1] >= rich:
        lo -= 1
    while hi < grid.size - 1 and wbc[hi + 1] >= rich:
        hi += 1
    return float(grid.edges_mm[lo]), float(grid.edges_mm[hi + 1])


def cut_of(harvest: Harvest, tube: Tube, grid: Grid, layers: Layers) -> tuple[float, Side]:
    """Where ``harvest`` cuts the tube, and which side it takes."""
    total_ml = float(grid.volumes_mm3.sum()) / MM3_PER_ML
    top = float(grid.edges_mm[-1])
    match harvest:
        case PlasmaAboveBuffy(margin_mm=margin):
            return min(max(layers.red_top_mm, layers.buffy_top_mm) + margin, top), "above"
        case UpperPlasmaLayer(into_red_mm=into):
            return max(layers.red_top_mm - into, 0.0), "above"
        case UpperVolume(volume_ml=v):
            return height_of_volume_mm(tube, max(total_ml - v, 0.0)), "above"
        case KeepLowerFraction(fraction=f):
            return height_of_volume_mm(tube, f * total_ml), "below"
        case KeepLowerVolume(volume_ml=v):
            return height_of_volume_mm(tube, min(v, total_ml)), "below"
    raise TypeError(f"unknown harvest rule {harvest!r}")  # pragma: no cover - exhaustive match


def fraction_taken(tube: Tube, grid: Grid, cut_mm: float, side: Side) -> FloatArray:
    """Per cell, the fraction of its volume on the harvested side of ``cut_mm`` (exact in A(z))."""
    lo, hi = grid.edges_mm[:-1], grid.edges_mm[1:]
    cut = np.clip(cut_mm, lo, hi)
    above = (tube.volume_below_mm3(hi) - tube.volume_below_mm3(cut)) / grid.volumes_mm3
    above = np.clip(above, 0.0, 1.0)
    return np.asarray(above if side == "above" else 1.0 - above, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Contents:
    """What a step's tube holds before its spin, well mixed: ``volume_ml``, the red-cell volume
    fraction ``rbc``, white cells ``wbc`` in units of the WB's concentration, ``platelets`` per µL."""

    volume_ml: float
    rbc: float
    wbc: float
    platelets: float


def initial_contents(blood: Blood) -> Contents:
    """The first tube: the blood with its anticoagulant."""
    return Contents(
        volume_ml=blood.tube_volume_ml,
        rbc=blood.hematocrit * blood.dilution,
        wbc=blood.dilution,
        platelets=blood.platelets_per_ul * blood.dilution,
    )


def empty_step(step: Step, step_tube: Tube) -> StepResult:
    """A step that had nothing to spin."""
    empty = Layers(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    return StepResult(step.spin, step.harvest, step_tube, 0.0, empty, 0.0, 0.0, 0.0, 0.0, 0.0, 0)


def harvest_step(
    step: Step,
    step_tube: Tube,
    start: Profile,
    spun: Profile,
    time_steps: int,
    params: ModelParameters,
    input_ml: float,
) -> tuple[StepResult, Contents]:
    """Apply ``step``'s harvest rule to the spun tube (``start``, holding ``input_ml``, before the
    spin): the step's result and what goes into the next tube. The platelets taken are multiplied
    by ``params.harvest_yield``."""
    grid = start.grid
    layers = layers_of(spun, step_tube, start, params.packed_fraction)
    cut, side = cut_of(step.harvest, step_tube, grid, layers)
    taken = fraction_taken(step_tube, grid, cut, side) * grid.volumes_mm3
    harvested_mm3 = float(taken.sum())
    in_rbc, in_wbc, in_plt = start.totals()
    out_rbc = float(taken @ spun.rbc)
    out_wbc = float(taken @ spun.wbc)
    out_plt = float(taken @ spun.platelets) * params.harvest_yield
    # Less than NEGLIGIBLE of a cell type is less than one cell: none. Without this, a rounding
    # residue (1e-50 of the white cells, say) would be tracked through the next spin and limit its
    # time step, so that the number of steps depended on rounding.
    out_rbc, out_wbc, out_plt = (
        0.0 if out < NEGLIGIBLE * whole else out
        for out, whole in ((out_rbc, in_rbc), (out_wbc, in_wbc), (out_plt, in_plt))
    )
    result = StepResult(
        spin=step.spin,
        harvest=step.harvest,
        tube=step_tube,
        input_ml=input_ml,
        layers=layers,
        cut_mm=cut,
        harvested_ml=harvested_mm3 / MM3_PER_ML,
        platelet_recovery=_ratio(out_plt, in_plt),
        wbc_recovery=_ratio(out_wbc, in_wbc),
        rbc_recovery=_ratio(out_rbc, in_rbc),
        time_steps=time_steps,
    )
    if harvested_mm3 > 0:
        after = Contents(
            harvested_mm3 / MM3_PER_ML, out_rbc / harvested_mm3, out_wbc / harvested_mm3, out_plt / harvested_mm3
        )
    else:
        after = Contents(0.0, 0.0, 0.0, 0.0)
    return result, after


def product_of(
    blood: Blood,
    results: tuple[StepResult, ...],
    contents: Contents,
    warnings: tuple[str, ...],
    params: ModelParameters,
) -> Prediction:
    """The prediction once the last harvest left ``contents`` (the product)."""
    wb_mm3 = blood.volume_ml * MM3_PER_ML
    wb_rbc_mm3 = blood.hematocrit * wb_mm3
    volume_ml = contents.volume_ml
    product_mm3 = volume_ml * MM3_PER_ML
    product = measures(
        wb_platelets_per_ul=blood.platelets_per_ul,
        wb_ml=blood.volume_ml,
        product_platelets=contents.platelets * product_mm3,
        product_ml=volume_ml,
    )
    wbc_recovery = contents.wbc * product_mm3 / wb_mm3
    wbc_factor = contents.wbc if product_mm3 > 0 else 0.0
    return Prediction(
        steps=results,
        volume_ml=volume_ml,
        platelet_recovery=product.recovery,
        platelets_per_ul=product.platelets_per_ul,
        concentration_factor=product.concentration_factor,
        dose=product.dose,
        wbc_recovery=wbc_recovery,
        wbc_factor=wbc_factor,
        wbc_per_ul=None if blood.wbc_per_ul is None else wbc_factor * blood.wbc_per_ul,
        rbc_recovery=_ratio(contents.rbc * product_mm3, wb_rbc_mm3),
        hematocrit=contents.rbc,
        parameters=params,
        warnings=warnings,
    )


def predict(
    tube: Tube,
    blood: Blood,
    steps: tuple[Step, ...] | list[Step],
    *,
    params: ModelParameters | None = None,
    numerics: Numerics | None = None,
) -> Prediction:
    """Predict the product of spinning ``blood`` in ``tube`` through ``steps``.

    Each step spins the (well-mixed) contents of its tube, then its harvest rule takes part of
    them; what it takes is mixed into the next step's tube, and the last harvest is the product.
    This is the reference implementation; ``batch.predict_many`` gives the same numbers for many
    programs at once, much faster.
    """
    if not steps:
        raise ValueError("a protocol needs at least one spin")
    p = params if params is not None else default_parameters()
    num = numerics if numerics is not None else Numerics()
    contents = initial_contents(blood)
    results: list[StepResult] = []
    warnings: list[str] = []
    for index, step in enumerate(steps, start=1):
        step_tube = step.tube if step.tube is not None else tube
        if contents.volume_ml <= 0:
            warnings.append(f"step {index}: nothing left to spin")
            results.append(empty_step(step, step_tube))
            continue
        grid = make_grid(step_tube, contents.volume_ml, num.cell_mm)
        start = uniform_profile(grid, contents.rbc, contents.wbc, contents.platelets)
        radius_mm = None if step.spin.rotor_radius_cm is None else step.spin.rotor_radius_cm * 10.0
        spun = settle(
            start,
            rcf=step.spin.rcf,
            seconds=step.spin.minutes * 60.0,
            params=p,
            numerics=num,
            rotor_radius_mm=radius_mm,
        )
        result, contents = harvest_step(step, step_tube, start, spun.profile, spun.steps, p, contents.volume_ml)
        results.append(result)
        if result.harvested_ml <= 0:
            warnings.append(f"step {index}: the harvest rule takes nothing ({step.harvest.describe()})")
    return product_of(blood, tuple(results), contents, tuple(warnings), p)


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole > 0 else 0.0
