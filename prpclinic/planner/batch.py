"""Many predictions at once: the solver of ``sedimentation.settle`` over a batch of tubes, and
``predict_many``, which gives ``predict``'s numbers for many programs in a fraction of the time.

Two facts make this fast without changing the model:

1. **Only g·time matters.** Every speed in the model is proportional to the RCF, so a spin at
   ``rcf`` for ``t`` seconds ends in the state the same tube reaches after ``rcf·t`` "g-seconds"
   at 1 g, and the explicit scheme's steps scale the same way (its step is a fixed fraction of
   the largest stable one, which is inversely proportional to the RCF). One trajectory of a
   tube's contents, in g-seconds, therefore holds the result of *every* spin of that tube: a
   spin's result is the trajectory's state just before its g·time, advanced by the one shorter
   step that ``settle`` would have ended with. ``predict`` and this module take the same steps,
   so they agree to rounding (tested: 1e-6 of recovery; in practice about 1e-12).
2. **Programs share prefixes.** Programs whose first steps are the same (same tube, spin and
   harvest) put the same contents into their second tube, so one trajectory serves all their
   second spins. ``predict_many`` walks the programs level by level and runs each level's
   trajectories together, as rows of NumPy arrays (one row per tube, padded to the longest).

A program of one spin costs one trajectory shared by every candidate g and time; a grid of
two-spin programs costs one trajectory per distinct first step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from prpclinic.planner.geometry import FloatArray, Grid, Tube, make_grid
from prpclinic.planner.model import (
    Contents,
    Prediction,
    StepResult,
    default_parameters,
    empty_step,
    harvest_step,
    initial_contents,
    product_of,
)
from prpclinic.planner.parameters import ModelParameters, Numerics
from prpclinic.planner.protocol import Blood, Step
from prpclinic.planner.sedimentation import Profile, uniform_profile

#: Stands for "no limit" in padded cells (finite, so that 0 x it stays 0).
_BIG = 1.0e30
#: ``settle``'s end-of-spin tolerance, relative to the spin's length.
_END = 1e-12

#: Trajectories run together (more rows share NumPy's per-call cost; fewer waste less padding).
CHUNK_ROWS = 128

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Trajectory:
    """One tube's contents to be spun, and the g·times (g x seconds) at which its state is wanted.

    ``rotor_radius_mm``: the rotor radius at the tube bottom (``None``: the field is the same along
    the tube). The result for a g·time is what ``settle`` returns for any rcf and seconds whose
    product it is.
    """

    tube: Tube
    contents: Contents
    rotor_radius_mm: float | None
    g_seconds: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The tube after a spin: its state and the number of time steps ``settle`` takes to get there."""

    profile: Profile
    time_steps: int


@dataclass(slots=True)
class _Batch:
    """The rows still running, as padded arrays (rows x cells; species x rows x cells)."""

    rows: IntArray  # index of each row in the caller's list
    phi: FloatArray
    conc: FloatArray
    vol: FloatArray
    area: FloatArray
    a_below: FloatArray
    a_above: FloatArray
    v_over_a: FloatArray
    v_over_a_up: FloatArray
    s_r: FloatArray
    s_tr: FloatArray
    slope_ok: FloatArray
    thr_r: FloatArray
    thr_tr: FloatArray
    tau: FloatArray  # g-seconds done
    steps: IntArray
    targets: FloatArray  # sorted g-seconds wanted, inf-padded
    index: IntArray  # next wanted target of each row

    def keep(self, mask: BoolArray) -> None:
        for name in ("rows", "phi", "vol", "area", "a_below", "a_above", "v_over_a", "v_over_a_up", "s_r"):
            setattr(self, name, getattr(self, name)[mask])
        for name in ("slope_ok", "thr_r", "tau", "steps", "targets", "index"):
            setattr(self, name, getattr(self, name)[mask])
        self.conc = self.conc[:, mask]
        self.s_tr = self.s_tr[:, mask]
        self.thr_tr = self.thr_tr[:, mask]


@dataclass(slots=True)
class _Rates:
    """The parts of one explicit step that do not depend on its length."""

    rate: FloatArray  # per row, 1/(g-second)
    hind: FloatArray
    u: FloatArray
    slope: FloatArray


def run_trajectories(
    trajectories: Sequence[Trajectory], params: ModelParameters, numerics: Numerics
) -> list[list[Snapshot]]:
    """Every trajectory's state at each of its g·times (in the order given), all rows at once.

    Raises ``ValueError`` as ``settle`` would: a rotor radius not above the liquid column, a
    volume that does not fit the tube, impossible contents, a negative g·time.
    """
    grids: list[Grid] = []
    starts: list[Profile] = []
    for traj in trajectories:
        if any(not g >= 0 for g in traj.g_seconds):
            raise ValueError("g and time cannot be negative")
        grid = make_grid(traj.tube, traj.contents.volume_ml, numerics.cell_mm)
        c = traj.contents
        grids.append(grid)
        starts.append(uniform_profile(grid, c.rbc, c.wbc, c.platelets))
        radius = traj.rotor_radius_mm
        if radius is not None and any(g > 0 for g in traj.g_seconds) and radius <= grid.edges_mm[-1]:
            raise ValueError("the rotor radius must exceed the liquid column's height")
    out: list[list[Snapshot | None]] = [[None] * len(t.g_seconds) for t in trajectories]
    # Rows of similar length together, a chunk at a time: less padding, and finished rows leave early.
    by_size = sorted(range(len(trajectories)), key=lambda i: grids[i].size)
    for first in range(0, len(by_size), CHUNK_ROWS):
        chunk = by_size[first : first + CHUNK_ROWS]
        trajs, chunk_grids = [trajectories[i] for i in chunk], [grids[i] for i in chunk]
        batch = _setup(trajs, chunk_grids, [starts[i] for i in chunk], params, numerics)
        _run(batch, trajs, chunk_grids, params, numerics, [out[i] for i in chunk])
    done: list[list[Snapshot]] = []
    for row in out:
        assert all(s is not None for s in row)
        done.append([s for s in row if s is not None])
    return done


def _setup(
    trajectories: Sequence[Trajectory],
    grids: list[Grid],
    starts: list[Profile],
    p: ModelParameters,
    numerics: Numerics,
) -> _Batch:
    b = len(trajectories)
    n = max(g.size for g in grids)
    vol = np.ones((b, n))
    area = np.zeros((b, n - 1))
    field = np.zeros((b, n))
    phi = np.zeros((b, n))
    conc = np.zeros((2, b, n))
    slope_ok = np.zeros((b, n))
    thr_r = np.zeros((b, 1))
    thr_tr = np.zeros((2, b, 1))
    width = max(len(t.g_seconds) for t in trajectories)
    targets = np.full((b, width + 1), np.inf)  # a last inf: nothing more wanted
    for r, (traj, grid, start) in enumerate(zip(trajectories, grids, starts, strict=True)):
        m = grid.size
        v = grid.volumes_mm3
        vol[r, :m] = v
        area[r, : m - 1] = grid.areas_mm2[1:-1]
        if traj.rotor_radius_mm is not None:
            radius = traj.rotor_radius_mm
            field[r, :m] = (radius - grid.centres_mm) / radius
        else:
            field[r, :m] = 1.0
        phi[r, :m] = start.rbc
        conc[0, r, :m] = start.wbc
        conc[1, r, :m] = start.platelets
        slope_ok[r, 1 : m - 1] = 1.0
        # as in ``settle``: a trace is a fraction of the species' mean content
        thr_r[r, 0] = numerics.trace * max(float(v @ start.rbc) / float(v.sum()), 1e-300)
        thr_tr[0, r, 0] = numerics.trace * max(float(v @ start.wbc) / float(v.sum()), 1e-300)
        thr_tr[1, r, 0] = numerics.trace * max(float(v @ start.platelets) / float(v.sum()), 1e-300)
        targets[r, : len(traj.g_seconds)] = sorted(traj.g_seconds)
    has_area = area > 0
    safe = np.where(has_area, area, 1.0)
    v_over_a = np.where(has_area, vol[:, 1:] / safe, _BIG)
    v_over_a_up = np.where(has_area, vol[:, :-1] / safe, _BIG)
    zero = np.zeros((b, 1))
    s_tr = np.stack(
        [
            p.stokes_speed_mm_s(p.wbc_diameter_um, p.wbc_density, 1.0) * field,
            p.stokes_speed_mm_s(p.platelet_diameter_um, p.platelet_density, 1.0) * field,
        ]
    )
    return _Batch(
        rows=np.arange(b),
        phi=phi,
        conc=conc,
        vol=vol,
        area=area,
        a_below=np.concatenate((zero, area), axis=1),
        a_above=np.concatenate((area, zero), axis=1),
        v_over_a=v_over_a,
        v_over_a_up=v_over_a_up,
        s_r=p.stokes_speed_mm_s(p.rbc_diameter_um, p.rbc_density, 1.0) * field,
        s_tr=s_tr,
        slope_ok=slope_ok,
        thr_r=thr_r,
        thr_tr=thr_tr,
        tau=np.zeros(b),
        steps=np.zeros(b, dtype=np.int64),
        targets=targets,
        index=np.zeros(b, dtype=np.int64),
    )


def _rates(bt: _Batch, p: ModelParameters) -> _Rates:
    """``settle``'s step, up to its length: the stable rate and the velocities and slopes.

    The same arithmetic as ``settle`` except where only the step's length depends on it (the
    hindrance's derivative as H/base instead of a second power): a rounding difference in the
    rate moves the step by an ulp, nothing else.
    """
    phi, conc = bt.phi, bt.conc
    pm, n_exp = p.packed_fraction, p.hindrance_exponent
    base = np.clip(1.0 - phi / pm, 0.0, 1.0)
    hind = base**n_exp
    s_r = bt.s_r
    out_r = np.zeros_like(phi)
    out_r[:, 1:] = s_r[:, 1:] * hind[:, :-1]
    out_r *= bt.a_below
    out_r *= phi > bt.thr_r
    # d/dphi of H is (n/pm) base^(n-1) = (n/pm) H/base; at base 0 it is 0^(n-1)
    dhind = np.full_like(hind, 0.0 ** (n_exp - 1.0) if n_exp != 1 else 1.0)
    np.divide(hind, base, out=dhind, where=base > 0)
    dhind *= n_exp / pm
    in_r = np.zeros_like(phi)
    in_r[:, :-1] = phi[:, 1:] * s_r[:, 1:]
    in_r *= dhind
    in_r *= bt.a_above
    rate = np.max((out_r + in_r) / bt.vol, axis=1)

    one_minus = 1.0 - phi
    rho_bar = p.plasma_density + phi * (p.rbc_density - p.plasma_density)
    rho_tr = np.array([p.wbc_density, p.platelet_density]).reshape(2, 1, 1)
    drho_tr = rho_tr - p.plasma_density
    u = (hind / (one_minus * one_minus)) * (bt.s_tr * (rho_tr - rho_bar) / drho_tr - phi * one_minus * s_r)
    down = u > 0
    up = ~down
    a_out = bt.a_below * down + bt.a_above * up  # exact: one term is zero
    # a cell whose species flows into a neighbour that sends it back does not limit the step
    through = np.empty_like(down)
    # (as settle's receiver_up/receiver_down: going down through a cell that also goes down, or up
    # through one that also goes up; the bottom cell cannot go down, the top one cannot go up)
    through[:, :, 0] = False
    through[:, :, 1:] = down[:, :, 1:] & down[:, :, :-1]
    through[:, :, :-1] |= up[:, :, :-1] & up[:, :, 1:]
    rate_tr = np.max(np.abs(u) * a_out * ((conc > bt.thr_tr) & through) / bt.vol, axis=(0, 2))
    rate = np.maximum(rate, rate_tr)

    diff = np.diff(conc, axis=2)
    a, b = diff[:, :, :-1], diff[:, :, 1:]
    prod = a * b
    slope = np.zeros_like(conc)
    np.divide(2.0 * prod, a + b, out=slope[:, :, 1:-1], where=prod > 0)
    slope *= bt.slope_ok
    return _Rates(rate, hind, u, slope)


def _advance(
    bt: _Batch, st: _Rates, dt: FloatArray, pm: float, rows: IntArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """The state after a step of ``dt`` g-seconds (per row) from the current one (of ``rows`` only)."""
    if rows is None:
        phi, conc, vol, area = bt.phi, bt.conc, bt.vol, bt.area
        v_over_a, v_over_a_up, s_r = bt.v_over_a, bt.v_over_a_up, bt.s_r
        hind, u, slope = st.hind, st.u, st.slope
    else:
        phi, conc, vol, area = bt.phi[rows], bt.conc[:, rows], bt.vol[rows], bt.area[rows]
        v_over_a, v_over_a_up, s_r = bt.v_over_a[rows], bt.v_over_a_up[rows], bt.s_r[rows]
        hind, u, slope = st.hind[rows], st.u[:, rows], st.slope[:, rows]
    dt = dt[:, None]
    cap_dn = v_over_a / dt
    cap_up = v_over_a_up / dt
    down_r = phi[:, 1:] * np.minimum(s_r[:, 1:] * hind[:, :-1], cap_dn)
    u_dn = np.minimum(np.maximum(u[:, :, 1:], 0.0), cap_dn)
    u_up = np.minimum(np.maximum(-u[:, :, :-1], 0.0), cap_up)
    nu_dn = u_dn * dt / v_over_a
    nu_up = u_up * dt / v_over_a_up
    face_dn = conc[:, :, 1:] - 0.5 * (1.0 - nu_dn) * slope[:, :, 1:]
    face_up = conc[:, :, :-1] + 0.5 * (1.0 - nu_up) * slope[:, :, :-1]
    down_tr = np.minimum(face_dn * u_dn, conc[:, :, 1:] * v_over_a / dt) - np.minimum(
        face_up * u_up, conc[:, :, :-1] * v_over_a_up / dt
    )

    moved_r = down_r * area * dt
    amount = phi * vol
    amount[:, :-1] += moved_r
    amount[:, 1:] -= moved_r
    new_phi = np.clip(amount / vol, 0.0, pm)
    moved = down_tr * area * dt
    amounts = conc * vol
    amounts[:, :, :-1] += moved
    amounts[:, :, 1:] -= moved
    return new_phi, np.maximum(amounts / vol, 0.0)


def _run(
    bt: _Batch,
    trajectories: Sequence[Trajectory],
    grids: list[Grid],
    p: ModelParameters,
    numerics: Numerics,
    out: list[list[Snapshot | None]],
) -> None:
    pm = p.packed_fraction
    # position k of a row's sorted targets -> index in its ``g_seconds``
    order = [[int(i) for i in np.argsort(t.g_seconds, kind="stable")] for t in trajectories]

    def record(row: int, k: int, phi: FloatArray, conc: FloatArray, steps: int) -> None:
        r = int(bt.rows[row])
        m = grids[r].size
        profile = Profile(grids[r], phi[:m].copy(), conc[0, :m].copy(), conc[1, :m].copy())
        out[r][order[r][k]] = Snapshot(profile, steps)

    def next_target() -> FloatArray:
        return bt.targets[np.arange(bt.rows.size), bt.index]

    while bt.rows.size:
        # targets reached by the last full step (``settle`` stops within _END of the end)
        while True:
            target = next_target()
            reached = np.nonzero(bt.tau >= target * (1 - _END))[0]
            if reached.size == 0:
                break
            for row in reached:
                record(int(row), int(bt.index[row]), bt.phi[row], bt.conc[:, row], int(bt.steps[row]))
            bt.index[reached] += 1
        alive = np.isfinite(next_target())
        if not alive.all():
            bt.keep(alive)
            if not bt.rows.size:
                break
        st = _rates(bt, p)
        still = st.rate > 0
        # A rate of a few 1e-300 (a tube that has all but stopped) overflows to inf: the step is
        # then unbounded, which is what np.inf below means anyway.
        with np.errstate(over="ignore", divide="ignore"):
            full = np.where(still, numerics.cfl / np.where(still, st.rate, 1.0), np.inf)
        # targets that end within the next full step: the shorter last step ``settle`` would take
        while True:
            target = next_target()
            short = np.nonzero(target - bt.tau < full)[0]
            if short.size == 0:
                break
            phi, conc = _advance(bt, st, target[short] - bt.tau[short], pm, short)
            for j, row in enumerate(short):
                record(int(row), int(bt.index[row]), phi[j], conc[:, j], int(bt.steps[row]) + 1)
            bt.index[short] += 1
        alive = np.isfinite(next_target()) & still
        if not alive.all():
            bt.keep(alive)
            st = _Rates(st.rate[alive], st.hind[alive], st.u[:, alive], st.slope[:, alive])
            full = full[alive]
            if not bt.rows.size:
                break
        bt.phi, bt.conc = _advance(bt, st, full, pm)
        bt.tau = bt.tau + full
        bt.steps = bt.steps + 1


def predict_many(
    tube: Tube,
    blood: Blood,
    programs: Sequence[Sequence[Step]],
    *,
    params: ModelParameters | None = None,
    numerics: Numerics | None = None,
) -> list[Prediction]:
    """``predict(tube, blood, steps)`` for every program in ``programs`` (same order, same numbers
    to rounding), sharing trajectories between programs and running them together.

    Raises ``ValueError`` where ``predict`` would for any one program.
    """
    p = params if params is not None else default_parameters()
    num = numerics if numerics is not None else Numerics()
    for steps in programs:
        if not steps:
            raise ValueError("a protocol needs at least one spin")
    results: list[list[StepResult]] = [[] for _ in programs]
    warnings: list[list[str]] = [[] for _ in programs]
    contents: list[Contents] = [initial_contents(blood)] * len(programs)
    level = 0
    active = list(range(len(programs)))
    while active:
        groups: dict[tuple[Tube, float | None, Contents], list[int]] = {}
        for i in active:
            step = programs[i][level]
            step_tube = step.tube if step.tube is not None else tube
            if contents[i].volume_ml <= 0:
                warnings[i].append(f"step {level + 1}: nothing left to spin")
                results[i].append(empty_step(step, step_tube))
                continue
            radius = None if step.spin.rotor_radius_cm is None else step.spin.rotor_radius_cm * 10.0
            groups.setdefault((step_tube, radius, contents[i]), []).append(i)
        keys = list(groups)
        trajectories = []
        for key in keys:
            wanted = sorted({_g_seconds(programs[i][level]) for i in groups[key]})
            trajectories.append(Trajectory(key[0], key[2], key[1], tuple(wanted)))
        snapshots = run_trajectories(trajectories, p, num)
        for key, traj, snaps in zip(keys, trajectories, snapshots, strict=True):
            start = uniform_profile(snaps[0].profile.grid, key[2].rbc, key[2].wbc, key[2].platelets)
            by_time = dict(zip(traj.g_seconds, snaps, strict=True))
            done: dict[Step, tuple[StepResult, Contents]] = {}
            for i in groups[key]:
                step = programs[i][level]
                if step not in done:
                    snap = by_time[_g_seconds(step)]
                    done[step] = harvest_step(step, key[0], start, snap.profile, snap.time_steps, p, key[2].volume_ml)
                result, after = done[step]
                results[i].append(result)
                contents[i] = after
                if result.harvested_ml <= 0:
                    warnings[i].append(f"step {level + 1}: the harvest rule takes nothing ({step.harvest.describe()})")
        level += 1
        active = [i for i in active if len(programs[i]) > level]
    return [product_of(blood, tuple(results[i]), contents[i], tuple(warnings[i]), p) for i in range(len(programs))]


def _g_seconds(step: Step) -> float:
    return step.spin.rcf * step.spin.minutes * 60.0 if step.spin.rcf > 0 and step.spin.minutes > 0 else 0.0
