"""Calibration to one clinic: fit a small per-centrifuge correction to the clinic's own products.

``calibrate(observations, base=...)`` takes products made in the clinic (``ClinicObservation``:
the tube, the blood, the spins, the PRP volume harvested and its measured platelet count) and
fits two corrections by least squares on the logarithm of the PRP concentration:

- ``g_scale`` (k): the centrifuge's effective g·min as a multiple of the nominal one. What differs
  from one centrifuge to the next is the field the blood really sees: a rotor radius entered
  wrongly or measured at another point, a speed display that is off, acceleration and braking
  (a minute of each at half speed adds about a minute at full g), a fixed-angle rotor. In this
  model every speed is proportional to the g, so all of that is one factor on g·min.
- ``harvest_yield`` (y): the fraction of the platelets each harvest takes that reach the next tube
  or the product. The model loses platelets only to sedimentation; real harvests lose some to the
  tube wall, activation and pipetting (Jo 2013's second spin kept 84 %, the model's 100 %).
  Predicted recovery is y^h x R(k), with h the number of harvests (one per spin).

Why not refit the model's three physical parameters (the red cells' and platelets' diameters and
the hindrance exponent)? They describe blood, not the centrifuge, so they should not change from
one clinic to the next; and a clinic's products, made with one or two programs at one g·min
each, constrain at most the level and the g·min-dependence of the recovery. Even the published
fit could not separate the red cells' diameter from the exponent. k and y are exactly those two
degrees of freedom, and both keep their meaning when a program changes.

**Identifiability.** y is fixed by the level of the measured counts. k is fixed only when
recovery depends on g·min at the clinic's settings *and* the products differ in that dependence:
several programs, or several blood volumes or hematocrits at settings where recovery is not
saturated. The fit is a maximum a posteriori estimate with weak priors (log k and log y normal
around 0 with ``PRIOR_SD_LOG_G_SCALE`` and ``PRIOR_SD_LOG_HARVEST_YIELD``), so when the data say
nothing about k it stays near 1 and the correction goes to y; ``Calibration.g_scale_identified``
says which happened: whether the products alone (without the priors, y free) give log k a
standard error below half the prior's. Products that all respond alike to k (one program, one
volume, similar hematocrits) cannot separate it from y, however many they are.
k is bounded to [``G_SCALE_MIN``, ``G_SCALE_MAX``] and y to [``HARVEST_YIELD_MIN``, 1].

**Too few products.** Below ``MIN_OBSERVATIONS`` (5) products nothing is fitted: the result has
``status="too_few"``, the base parameters and the base predictions for each product (so the page
can still show them).

**Defaults.** A product without a hematocrit gets ``DEFAULT_HEMATOCRIT`` (0.42, the value the
published fit assumed) and is flagged; without a tube, ``TUBE_15ML_CONICAL``. Harvests as
``protocol.clinic_steps``: one spin, the product is the top ``prp_ml`` of the tube
(``UpperVolume``); two spins, the first harvest is ``first_harvest`` (default: all the plasma down
to the red cells, ``UpperPlasmaLayer``) and the product the bottom ``prp_ml`` of the second tube
(``KeepLowerVolume``).

**Speed.** A product's predicted recovery depends on k only through g·time, so one trajectory per
tube content gives every k (``batch``). Products are grouped by tube, rotor radius and spins;
hematocrit (as the tube's red-cell fraction) and blood volume enter through a lattice of nodes
(linear interpolation between nodes ``PHI_STEP`` and ``VOLUME_STEP_ML`` apart, exact in a
dimension with at most ``EXACT_VALUES`` distinct values), and k through ``G_SCALE_NODES`` and
three more around the first fit's k (monotone cubic interpolation in log k); the calibrated
predictions are simulated at the fitted k. A group is simulated product by product, exactly,
whenever that takes no more trajectories than its lattice (up to a few dozen products per
program). On the lattice the predictions agree with ``predict`` to about 0.001 of recovery on
average and 0.005 mostly, up to 0.03 for products near a kink (a second spin that just pellets
everything; tested within 0.03); 1,000 products take a few seconds (bench/planner.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from scipy.interpolate import PchipInterpolator  # type: ignore[import-untyped, unused-ignore]
from scipy.optimize import minimize_scalar  # type: ignore[import-untyped, unused-ignore]

from prpclinic.planner.batch import Trajectory, run_trajectories
from prpclinic.planner.geometry import TUBE_15ML_CONICAL, FloatArray, Tube, height_of_volume_mm
from prpclinic.planner.model import NEGLIGIBLE, Contents, default_parameters, harvest_step
from prpclinic.planner.parameters import ModelParameters, Numerics
from prpclinic.planner.protocol import FIRST_SPIN_HARVEST, Blood, Harvest, Spin, Step, clinic_steps
from prpclinic.planner.sedimentation import Profile, uniform_profile

#: A hematocrit for products measured without one: the published fit's assumption (a normal adult
#: value, general knowledge [U]).
DEFAULT_HEMATOCRIT = 0.42
DEFAULT_TUBE = TUBE_15ML_CONICAL
DEFAULT_FIRST_HARVEST: Harvest = FIRST_SPIN_HARVEST
#: Fewer products than this: no calibration.
MIN_OBSERVATIONS = 5
#: Relative spread of one measured PRP concentration (count CV and the volume read off the
#: syringe): our assumption. It sets the weight of the priors and the width of the intervals.
DEFAULT_SIGMA = 0.15
PRIOR_SD_LOG_G_SCALE = 0.35
PRIOR_SD_LOG_HARVEST_YIELD = 0.5
G_SCALE_MIN, G_SCALE_MAX = 0.5, 2.0
#: k counts as identified when the products alone (without the priors, y free) give log k a
#: standard error below this (half the prior's).
IDENTIFIED_SD_LOG_G_SCALE = PRIOR_SD_LOG_G_SCALE / 2
HARVEST_YIELD_MIN = 0.2
#: The g_scale values simulated first; then the first fit's value and its neighbours REFINE_RATIO
#: away; others are interpolated.
G_SCALE_NODES: tuple[float, ...] = tuple(2.0 ** (j / 3) for j in range(-3, 4))
REFINE_RATIO = 2.0 ** (1 / 12)
EXACT_VALUES = 4
PHI_STEP = 0.02
VOLUME_STEP_ML = 1.0
#: Predicted recoveries below this count as this in the logarithm (an empty product).
RECOVERY_FLOOR = 1e-3

Status = Literal["calibrated", "too_few"]


@dataclass(frozen=True, slots=True)
class ClinicObservation:
    """One product made in the clinic.

    ``volume_ml`` of whole blood with ``platelets_per_ul`` and ``hematocrit`` (a fraction; ``None``:
    not measured, ``DEFAULT_HEMATOCRIT`` is used) plus ``anticoagulant_ml`` in the ``tube`` (``None``:
    ``DEFAULT_TUBE``); one or two ``spins`` (g at the tube bottom and minutes, with the rotor radius
    if known); ``prp_ml`` of PRP harvested, measured at ``prp_platelets_per_ul``. ``first_harvest``:
    what is taken after the first of two spins. ``label``: anything that identifies the product
    to the caller (returned as given).
    """

    volume_ml: float
    platelets_per_ul: float
    spins: tuple[Spin, ...]
    prp_ml: float
    prp_platelets_per_ul: float
    hematocrit: float | None = None
    anticoagulant_ml: float = 0.0
    tube: Tube | None = None
    first_harvest: Harvest = DEFAULT_FIRST_HARVEST
    label: str = ""

    def __post_init__(self) -> None:
        if not self.volume_ml > 0 or not self.prp_ml > 0:
            raise ValueError("the blood and PRP volumes must be positive")
        if not self.platelets_per_ul > 0 or not self.prp_platelets_per_ul > 0:
            raise ValueError("the platelet counts must be positive")
        if self.hematocrit is not None and not 0.05 <= self.hematocrit <= 0.8:
            raise ValueError("the hematocrit is a fraction (0.42), not a percentage")
        if self.anticoagulant_ml < 0:
            raise ValueError("the anticoagulant volume cannot be negative")
        if len(self.spins) not in (1, 2):
            raise ValueError("a product is made with one or two spins")
        if len(self.spins) == 1 and self.prp_ml >= self.volume_ml + self.anticoagulant_ml:
            raise ValueError("one spin cannot harvest more PRP than the tube holds")

    def blood(self) -> Blood:
        """The blood as ``predict`` takes it (``DEFAULT_HEMATOCRIT`` when none was measured)."""
        hct = self.hematocrit if self.hematocrit is not None else DEFAULT_HEMATOCRIT
        return Blood(self.volume_ml, hct, self.platelets_per_ul, self.anticoagulant_ml)

    def steps(self) -> tuple[Step, ...]:
        """The steps ``calibrate`` simulates (``protocol.clinic_steps``)."""
        return clinic_steps(self.spins, self.prp_ml, first_harvest=self.first_harvest)

    @property
    def measured_recovery(self) -> float:
        """R = C_PRP·V_PRP / (C_WB·V_WB) (PRP_REFERENCE.md §2)."""
        return self.prp_platelets_per_ul * self.prp_ml / (self.platelets_per_ul * self.volume_ml)


@dataclass(frozen=True, slots=True)
class ProductNumbers:
    """Recovery (0-1), concentration factor and platelets per µL of one product."""

    recovery: float
    concentration_factor: float
    platelets_per_ul: float


@dataclass(frozen=True, slots=True)
class ObservationFit:
    """One product: measured, predicted with the base parameters (``before``) and calibrated (``after``)."""

    index: int
    observation: ClinicObservation
    hematocrit: float
    hematocrit_assumed: bool
    measured: ProductNumbers
    before: ProductNumbers
    after: ProductNumbers

    @property
    def error_before(self) -> float:
        """Relative error of the predicted concentration: predicted / measured - 1."""
        return self.before.platelets_per_ul / self.measured.platelets_per_ul - 1.0

    @property
    def error_after(self) -> float:
        return self.after.platelets_per_ul / self.measured.platelets_per_ul - 1.0


@dataclass(frozen=True, slots=True)
class Calibration:
    """The result of ``calibrate``.

    ``parameters``: the base with the fitted ``g_scale`` and ``harvest_yield``, to pass to
    ``predict``/``recommend`` for this centrifuge (the base itself when ``status == "too_few"``).
    ``*_interval``: approximate 95 % intervals (from the curvature of the objective).
    ``rmse_recovery_*``: root mean square of predicted - measured recovery (fractions);
    ``rms_log_error_*``: root mean square of log(predicted / measured concentration), about the
    relative error. ``notes``: what the caller should show (defaults used, bounds hit, k not
    identified, products far off).
    """

    status: Status
    parameters: ModelParameters
    g_scale: float
    harvest_yield: float
    g_scale_interval: tuple[float, float]
    harvest_yield_interval: tuple[float, float]
    g_scale_identified: bool
    n_observations: int
    observations: tuple[ObservationFit, ...]
    rmse_recovery_before: float
    rmse_recovery_after: float
    rms_log_error_before: float
    rms_log_error_after: float
    notes: tuple[str, ...]

    @property
    def calibrated(self) -> bool:
        return self.status == "calibrated"


@dataclass(frozen=True, slots=True)
class _Product:
    """An observation resolved: its tube, red-cell fraction in the tube, steps and harvests."""

    tube: Tube
    tube_ml: float
    phi: float
    hematocrit: float
    assumed: bool
    spins: tuple[Spin, ...]
    first_harvest: Harvest
    prp_ml: float
    harvests: int


def _resolve(o: ClinicObservation) -> _Product:
    tube = o.tube if o.tube is not None else DEFAULT_TUBE
    hct = o.hematocrit if o.hematocrit is not None else DEFAULT_HEMATOCRIT
    tube_ml = o.volume_ml + o.anticoagulant_ml
    return _Product(
        tube=tube,
        tube_ml=tube_ml,
        phi=hct * o.volume_ml / tube_ml,
        hematocrit=hct,
        assumed=o.hematocrit is None,
        spins=o.spins,
        first_harvest=o.first_harvest,
        prp_ml=o.prp_ml,
        harvests=len(o.spins),
    )


def _radius_mm(spin: Spin) -> float | None:
    return None if spin.rotor_radius_cm is None else spin.rotor_radius_cm * 10.0


def _g_seconds(spin: Spin) -> float:
    return spin.rcf * spin.minutes * 60.0 if spin.rcf > 0 and spin.minutes > 0 else 0.0


def _weights(
    values: Sequence[float], step: float, valid: tuple[float, float], exact: bool
) -> list[list[tuple[float, float]]]:
    """Per value, its nodes and weights: exact when asked or when there are few distinct values,
    else the two lattice points around it (``step`` apart) with linear weights; exact when a
    lattice point would fall outside ``valid`` (open interval)."""
    if exact or len(set(values)) <= EXACT_VALUES:
        return [[(v, 1.0)] for v in values]
    out: list[list[tuple[float, float]]] = []
    for v in values:
        lo = round(math.floor(v / step + 1e-9) * step, 9)
        hi = round(lo + step, 9)
        w = (v - lo) / step
        if w < 1e-9:
            out.append([(lo, 1.0)] if valid[0] < lo < valid[1] else [(v, 1.0)])
        elif valid[0] < lo and hi < valid[1]:
            out.append([(lo, 1.0 - w), (hi, w)])
        else:
            out.append([(v, 1.0)])
    return out


def _cumulative(profile: Profile, *, from_top: bool) -> tuple[FloatArray, FloatArray]:
    """Volume (mm³) and platelets from the top (``UpperVolume``) or the bottom (``KeepLowerVolume``) of
    the tube: platelets are uniform within a cell and a cut takes an exact fraction of its volume,
    so interpolating these gives what ``predict`` takes."""
    vol = profile.grid.volumes_mm3
    plt = vol * profile.platelets
    if from_top:
        vol, plt = vol[::-1], plt[::-1]
    return np.concatenate(([0.0], np.cumsum(vol))), np.concatenate(([0.0], np.cumsum(plt)))


def _ratio(out: float, whole: float) -> float:
    if whole <= 0 or out < NEGLIGIBLE * whole:
        return 0.0
    return out / whole


def predicted_recoveries(
    observations: Sequence[ClinicObservation],
    *,
    params: ModelParameters | None = None,
    numerics: Numerics | None = None,
    exact: bool = True,
) -> list[float]:
    """The model's platelet recovery for each product's settings (its measured count is not used),
    with ``params`` (default: the stored fit) including their ``g_scale`` and ``harvest_yield``.

    ``exact``: every product gets its own trajectories, so the numbers are ``predict``'s (to
    rounding); otherwise the lattice of ``calibrate`` is used (within about 0.005, much faster
    for many products with different hematocrits).
    """
    p = params if params is not None else default_parameters()
    num = numerics if numerics is not None else Numerics()
    products = [_resolve(o) for o in observations]
    if not products:
        return []
    table = _model_recoveries(products, [p.g_scale], p, num, exact=exact)[:, 0]
    return [float(r) * p.harvest_yield**pr.harvests for r, pr in zip(table, products, strict=True)]


def _model_recoveries(
    products: Sequence[_Product],
    g_scales: Sequence[float],
    params: ModelParameters,
    numerics: Numerics,
    *,
    exact: bool = False,
) -> FloatArray:
    """Predicted platelet recovery of each product at each g_scale, before any harvest loss
    (``params.harvest_yield`` and ``params.g_scale`` are ignored): an array (products x g_scales).
    ``exact``: no lattice, every product its own node."""
    phys = replace(params, g_scale=1.0, harvest_yield=1.0)
    n, kk = len(products), len(g_scales)
    # Nodes: per (tube, rotor radius of spin 1), a lattice of tube volume and red-cell fraction.
    groups: dict[tuple[Tube, float | None], list[int]] = {}
    for i, pr in enumerate(products):
        groups.setdefault((pr.tube, _radius_mm(pr.spins[0])), []).append(i)
    corners: list[list[tuple[tuple[Tube, float | None, float, float], float]]] = [[] for _ in range(n)]
    for (tube, radius), members in groups.items():
        vols = _weights([products[i].tube_ml for i in members], VOLUME_STEP_ML, (0.0, tube.capacity_ml), exact)
        phis = _weights([products[i].phi for i in members], PHI_STEP, (0.0, phys.packed_fraction), exact)
        lattice = [
            [((tube, radius, v, f), a * b) for v, a in wv for f, b in wp if a * b > 0]
            for wv, wp in zip(vols, phis, strict=True)
        ]
        # Simulate every product exactly whenever that takes no more trajectories than the lattice.
        distinct = {(products[i].tube_ml, products[i].phi) for i in members}
        if len(distinct) <= len({node for c in lattice for node, _ in c}):
            lattice = [[((tube, radius, products[i].tube_ml, products[i].phi), 1.0)] for i in members]
        for i, c in zip(members, lattice, strict=True):
            corners[i] = c
    # Level 1: one trajectory per node, with every g·time its products need.
    wanted1: dict[tuple[Tube, float | None, float, float], set[float]] = {}
    for i, pr in enumerate(products):
        for node, _ in corners[i]:
            wanted1.setdefault(node, set()).update(k * _g_seconds(pr.spins[0]) for k in g_scales)
    nodes1 = list(wanted1)
    traj1 = [
        Trajectory(node[0], Contents(node[2], node[3], 1.0, 1.0), node[1], tuple(sorted(wanted1[node])))
        for node in nodes1
    ]
    snaps1 = {
        (node, t): s
        for node, traj, row in zip(nodes1, traj1, run_trajectories(traj1, phys, numerics), strict=True)
        for t, s in zip(traj.g_seconds, row, strict=True)
    }
    starts1 = {
        node: uniform_profile(snaps1[(node, traj.g_seconds[0])].profile.grid, node[3], 1.0, 1.0)
        for node, traj in zip(nodes1, traj1, strict=True)
    }
    # First harvests of two-spin products, and level 2: one trajectory per distinct second tube.
    first: dict[tuple[object, ...], tuple[float, Contents]] = {}
    wanted2: dict[tuple[Tube, float | None, Contents], set[float]] = {}
    for i, pr in enumerate(products):
        if pr.harvests != 2:
            continue
        g1 = _g_seconds(pr.spins[0])
        for node, _ in corners[i]:
            for k in g_scales:
                key = (node, k * g1, pr.first_harvest)
                if key not in first:
                    snap = snaps1[(node, k * g1)]
                    result, after = harvest_step(
                        Step(pr.spins[0], pr.first_harvest),
                        node[0],
                        starts1[node],
                        snap.profile,
                        snap.time_steps,
                        phys,
                        node[2],
                    )
                    first[key] = (result.platelet_recovery, after)
                after = first[key][1]
                if after.volume_ml > 0:
                    wanted2.setdefault((node[0], _radius_mm(pr.spins[1]), after), set()).add(
                        k * _g_seconds(pr.spins[1])
                    )
    keys2 = list(wanted2)
    traj2 = [Trajectory(key[0], key[2], key[1], tuple(sorted(wanted2[key]))) for key in keys2]
    snaps2 = {
        (key, t): s
        for key, traj, row in zip(keys2, traj2, run_trajectories(traj2, phys, numerics), strict=True)
        for t, s in zip(traj.g_seconds, row, strict=True)
    }
    curves: dict[tuple[object, ...], tuple[FloatArray, FloatArray]] = {}

    def taken(key: tuple[object, ...], profile: Profile, volume_ml: float, *, from_top: bool) -> float:
        if key not in curves:
            curves[key] = _cumulative(profile, from_top=from_top)
        vol, plt = curves[key]
        return float(np.interp(volume_ml * 1000.0, vol, plt))

    out = np.zeros((n, kk))
    for i, pr in enumerate(products):
        g1 = _g_seconds(pr.spins[0])
        for j, k in enumerate(g_scales):
            total = 0.0
            for node, weight in corners[i]:
                if pr.harvests == 1:
                    profile = snaps1[(node, k * g1)].profile
                    whole = float(profile.grid.volumes_mm3.sum())  # platelets at 1/µL
                    value = _ratio(taken((node, k * g1), profile, pr.prp_ml, from_top=True), whole)
                else:
                    r1, after = first[(node, k * g1, pr.first_harvest)]
                    if after.volume_ml <= 0:
                        value = 0.0
                    else:
                        key2 = ((node[0], _radius_mm(pr.spins[1]), after), k * _g_seconds(pr.spins[1]))
                        profile = snaps2[key2].profile
                        whole = float(profile.grid.volumes_mm3.sum()) * after.platelets
                        value = r1 * _ratio(taken(key2, profile, pr.prp_ml, from_top=False), whole)
                total += weight * value
            out[i, j] = total
    return out


def _problem(o: ClinicObservation) -> str | None:
    """Why the model cannot simulate this product, or ``None``."""
    tube = o.tube if o.tube is not None else DEFAULT_TUBE
    total = o.volume_ml + o.anticoagulant_ml
    if total > tube.capacity_ml * (1 + 1e-12):
        return f"{total:.1f} mL does not fit in {tube.name} ({tube.capacity_ml:.1f} mL)"
    column = height_of_volume_mm(tube, total)
    for spin in o.spins:  # a second spin's column is shorter: this is on the safe side
        if spin.rotor_radius_cm is not None and spin.rotor_radius_cm * 10.0 <= column:
            return f"a rotor radius of {spin.rotor_radius_cm:g} cm is not longer than the {column:.0f} mm liquid column"
    return None


def _numbers(o: ClinicObservation, recovery: float) -> ProductNumbers:
    concentration = recovery * o.platelets_per_ul * o.volume_ml / o.prp_ml
    return ProductNumbers(recovery, concentration / o.platelets_per_ul, concentration)


def _rms(values: Sequence[float]) -> float:
    return math.sqrt(sum(v * v for v in values) / len(values)) if values else 0.0


def calibrate(
    observations: Sequence[ClinicObservation],
    *,
    base: ModelParameters | None = None,
    numerics: Numerics | None = None,
    sigma: float = DEFAULT_SIGMA,
    min_observations: int = MIN_OBSERVATIONS,
) -> Calibration:
    """Fit ``g_scale`` and ``harvest_yield`` to a clinic's products (see the module's docstring).

    ``base``: the parameters to correct (default: the stored fit); its own ``g_scale`` and
    ``harvest_yield`` give the "before" predictions and are replaced by the fit. ``sigma``: the
    relative spread of one measured PRP concentration. With fewer than ``min_observations``
    products nothing is fitted (``status="too_few"``). Products the model cannot simulate (blood
    that does not fit its tube, a rotor radius not longer than the tube's liquid column) are left
    out, with a note; ``ObservationFit.index`` is the position in ``observations``.
    """
    p = base if base is not None else default_parameters()
    num = numerics if numerics is not None else Numerics()
    if not sigma > 0:
        raise ValueError("sigma must be positive")
    notes: list[str] = []
    problems = [_problem(o) for o in observations]
    kept = [i for i, problem in enumerate(problems) if problem is None]
    if len(kept) < len(observations):
        pairs = enumerate(zip(observations, problems, strict=True))
        left = [f"{o.label or f'#{i + 1}'} ({why})" for i, (o, why) in pairs if why]
        more = f" and {len(left) - 5} more" if len(left) > 5 else ""
        notes.append(f"{len(left)} products left out, the model cannot simulate them: {'; '.join(left[:5])}{more}")
    indices = kept
    observations = [observations[i] for i in kept]
    products = [_resolve(o) for o in observations]
    n = len(products)
    assumed = sum(pr.assumed for pr in products)
    if assumed:
        notes.append(f"{assumed} of {n} products had no hematocrit: {DEFAULT_HEMATOCRIT} was used")
    too_few = n < min_observations
    ks = [p.g_scale] if too_few else sorted({*G_SCALE_NODES, p.g_scale})
    table = _model_recoveries(products, ks, p, num) if n else np.zeros((0, len(ks)))
    harvests = np.array([pr.harvests for pr in products], dtype=float)
    measured = np.array([o.measured_recovery for o in observations], dtype=float)
    before = table[:, ks.index(p.g_scale)] * p.harvest_yield**harvests

    if too_few:
        notes.insert(0, f"{n} products: at least {min_observations} are needed to calibrate; the base is kept")
        status: Status = "too_few"
        k, y, identified, after = p.g_scale, p.harvest_yield, False, before
        k_int, y_int = (k, k), (y, y)
    else:
        status = "calibrated"
        # A first fit on the coarse nodes, then nodes close around its g_scale (recovery can have
        # a kink in g·min where a spin starts to pellet everything) and the final fit on all.
        k = _fit(table, ks, harvests, measured, sigma, [])[0]
        fine = [f for f in (k / REFINE_RATIO, k, k * REFINE_RATIO) if G_SCALE_MIN <= f <= G_SCALE_MAX and f not in ks]
        if fine:
            table = np.hstack((table, _model_recoveries(products, fine, p, num)))
            ks = ks + fine
            order = np.argsort(ks)
            table, ks = table[:, order], [ks[i] for i in order]
        k, y, k_int, y_int, identified, after = _fit(table, ks, harvests, measured, sigma, notes)
        if min(abs(math.log(k / node)) for node in ks) > 1e-9:
            # the calibrated predictions at exactly this g_scale, not interpolated in k
            after = _model_recoveries(products, [k], p, num)[:, 0] * y**harvests

    fits = tuple(
        ObservationFit(
            index=indices[i],
            observation=o,
            hematocrit=pr.hematocrit,
            hematocrit_assumed=pr.assumed,
            measured=_numbers(o, o.measured_recovery),
            before=_numbers(o, float(before[i])),
            after=_numbers(o, float(after[i])),
        )
        for i, (o, pr) in enumerate(zip(observations, products, strict=True))
    )
    far = sum(abs(math.log(max(f.after.recovery, RECOVERY_FLOOR) / f.measured.recovery)) > 3 * sigma for f in fits)
    if far and not too_few:
        notes.append(
            f"{far} of {n} products are more than 3 sigma ({3 * sigma:.0%}) from the calibrated model: check them"
        )
    return Calibration(
        status=status,
        parameters=replace(p, g_scale=k, harvest_yield=y),
        g_scale=k,
        harvest_yield=y,
        g_scale_interval=k_int,
        harvest_yield_interval=y_int,
        g_scale_identified=identified,
        n_observations=n,
        observations=fits,
        rmse_recovery_before=_rms([f.before.recovery - f.measured.recovery for f in fits]),
        rmse_recovery_after=_rms([f.after.recovery - f.measured.recovery for f in fits]),
        rms_log_error_before=_rms([_log_error(f.before, f.measured) for f in fits]),
        rms_log_error_after=_rms([_log_error(f.after, f.measured) for f in fits]),
        notes=tuple(notes),
    )


def _log_error(predicted: ProductNumbers, measured: ProductNumbers) -> float:
    return math.log(max(predicted.recovery, RECOVERY_FLOOR) / measured.recovery)


def _fit(
    table: FloatArray,
    ks: list[float],
    harvests: FloatArray,
    measured: FloatArray,
    sigma: float,
    notes: list[str],
) -> tuple[float, float, tuple[float, float], tuple[float, float], bool, FloatArray]:
    """MAP estimate of (log k, log y): for each k the best y is a closed form (a weighted mean,
    clipped to its bounds); k by a scan and Brent's method on the interpolated recoveries."""
    curve = PchipInterpolator(np.log(ks), table.T, axis=0)  # shape-preserving: no negative recoveries
    log_measured = np.log(measured)
    w = 1.0 / sigma**2
    prior_k, prior_y = 1.0 / PRIOR_SD_LOG_G_SCALE**2, 1.0 / PRIOR_SD_LOG_HARVEST_YIELD**2
    ly_lo = math.log(HARVEST_YIELD_MIN)

    def objective(lk: float, ly: float | None = None) -> tuple[float, float]:
        d = log_measured - np.log(np.maximum(np.asarray(curve(lk), dtype=float), RECOVERY_FLOOR))
        if ly is None:
            ly = float(w * (harvests @ d) / (w * (harvests @ harvests) + prior_y))
            ly = min(max(ly, ly_lo), 0.0)
        r = d - harvests * ly
        return float(w * (r @ r) + prior_k * lk * lk + prior_y * ly * ly), ly

    lo, hi = math.log(G_SCALE_MIN), math.log(G_SCALE_MAX)
    scan = np.linspace(lo, hi, 61)
    values = [objective(float(x))[0] for x in scan]
    best = int(np.argmin(values))
    bracket = (float(scan[max(best - 1, 0)]), float(scan[min(best + 1, scan.size - 1)]))
    found = minimize_scalar(lambda x: objective(float(x))[0], bounds=bracket, method="bounded", options={"xatol": 1e-5})
    lk = float(found.x) if found.fun <= values[best] else float(scan[best])
    chi2, ly = objective(lk)
    # Curvature of the objective (= chi-square) gives the covariance: 2 H^-1.
    h = 1e-3

    def f(a: float, b: float) -> float:
        return objective(a, b)[0]

    hkk = (f(lk + h, ly) - 2 * chi2 + f(lk - h, ly)) / h**2
    hyy = (f(lk, ly + h) - 2 * chi2 + f(lk, ly - h)) / h**2
    hky = (f(lk + h, ly + h) - f(lk + h, ly - h) - f(lk - h, ly + h) + f(lk - h, ly - h)) / (4 * h * h)
    hess = np.array([[hkk, hky], [hky, hyy]])
    try:
        cov = 2.0 * np.linalg.inv(hess)
        se_k, se_y = math.sqrt(max(cov[0, 0], 0.0)), math.sqrt(max(cov[1, 1], 0.0))
    except np.linalg.LinAlgError:
        se_k, se_y = PRIOR_SD_LOG_G_SCALE, PRIOR_SD_LOG_HARVEST_YIELD
    # Identified: the data alone (no priors, y profiled out) pin log k to half the prior's spread.
    # Products that all respond alike to k cannot separate it from y, however many they are.
    slope = np.asarray(curve.derivative()(lk), dtype=float) / np.maximum(np.asarray(curve(lk), dtype=float), 1e-12)
    info_kk, info_ky, info_yy = w * (slope @ slope), w * (slope @ harvests), w * (harvests @ harvests)
    profiled = info_kk - info_ky**2 / info_yy if info_yy > 0 else info_kk
    identified = profiled > 0 and 1.0 / math.sqrt(profiled) < IDENTIFIED_SD_LOG_G_SCALE
    k, y = math.exp(lk), math.exp(ly)
    if not identified:
        notes.append(
            "these products do not pin down the centrifuge's g (one program, or recovery insensitive to g·min): "
            "g_scale stays near 1 and the correction is mostly the harvest yield"
        )
    if lk <= lo + 1e-3 or lk >= hi - 1e-3:
        notes.append(f"g_scale is at its bound ({k:.2f}): the model and these products disagree by more than that")
    if ly <= ly_lo + 1e-9:
        notes.append(f"the harvest yield is at its lower bound ({y:.2f}): check the products' units and volumes")
    k_int = (
        max(math.exp(lk - 1.96 * se_k), G_SCALE_MIN),
        min(math.exp(lk + 1.96 * se_k), G_SCALE_MAX),
    )
    y_int = (max(math.exp(ly - 1.96 * se_y), HARVEST_YIELD_MIN), min(math.exp(ly + 1.96 * se_y), 1.0))
    after = np.maximum(np.asarray(curve(lk), dtype=float), 0.0) * y**harvests
    return k, y, k_int, y_int, identified, after
