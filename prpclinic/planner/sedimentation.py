"""One spin: a 1-D finite-volume kinematic-wave (Kynch) model of anticoagulated blood in a tube.

Along the tube's axis (z up from the bottom, cross-section A(z)) the red cells' volume fraction
φ(z, t) and the white-cell and platelet concentrations c_w, c_p obey conservation laws

    ∂(Aφ)/∂t + ∂(A φ v_r)/∂z = 0,      ∂(A c_i)/∂t + ∂(A c_i v_i)/∂z = 0,

with settling velocities (down positive, ``s``) from the Masliyah-Lockett-Bassoon (MLB) model
with a Richardson-Zaki hindrance rescaled to the packing limit φ_max (0.94: the plasma trapped in
packed red cells, Clark & Walsh 1960):

    H(φ)   = (1 - φ/φ_max)^n
    s_r    = S_r H(φ)                                                   red cells
    s_i    = H(φ)/(1-φ)² · (S_i (rho_i - rho_s)/(rho_i - rho_f) - φ(1-φ) S_r)   white cells, platelets
    rho_s  = rho_f + φ(rho_r - rho_f)                                   the suspension's density
    S_k    = d_k² (rho_k - rho_f) G(z) / (18 mu)                        Stokes, in plasma

White cells and platelets are less than 0.5 % of the blood's volume, so they are carried as
passive species: they do not count in φ, in rho_s or in the plasma's back-flow. In the red-cell
suspension they feel the plasma pushed up by the settling red cells (the -φ(1-φ)S_r term) and
the suspension's higher density, which is why platelets leave the red-cell layer.

The local acceleration is G(z) = RCF·g·(r_max - z)/r_max when the rotor radius at the tube
bottom (RCF-max convention) is known, else RCF·g everywhere (swing-out rotor assumed; the wall
effects of fixed-angle rotors, Boycott settling, are not modelled).

Scheme: explicit Euler in time; in space, red cells flow down with the donor cell's φ and the
receiving cell's hindrance, F = φ_above·S_r·H(φ_below), a monotone flux that keeps
0 <= φ <= φ_max (the rule of Bargieł & Tory 2006: a particle moving down is governed by the
concentration below it); white cells and platelets are upwinded with each cell's own velocity.
The step is the largest that keeps the scheme monotone (times ``Numerics.cfl``), ignoring cells
that hold only a trace of a species, whose outflow is capped at their content instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from prpclinic.planner.geometry import FloatArray, Grid
from prpclinic.planner.parameters import ModelParameters, Numerics


@dataclass(frozen=True, slots=True)
class Profile:
    """State of a tube: per cell, the red-cell volume fraction and the white-cell and platelet
    concentrations (in any unit per mm³, e.g. platelets per µL; the model is linear in them)."""

    grid: Grid
    rbc: FloatArray
    wbc: FloatArray
    platelets: FloatArray

    def totals(self) -> tuple[float, float, float]:
        """Red-cell volume (mm³) and white-cell and platelet amounts in the tube."""
        v = self.grid.volumes_mm3
        return float(v @ self.rbc), float(v @ self.wbc), float(v @ self.platelets)


def uniform_profile(grid: Grid, rbc: float, wbc: float, platelets: float) -> Profile:
    """A well-mixed tube."""
    if not 0 <= rbc < 1 or wbc < 0 or platelets < 0:
        raise ValueError("the red-cell fraction must be in [0, 1) and the concentrations non-negative")
    n = grid.size
    return Profile(grid, np.full(n, float(rbc)), np.full(n, float(wbc)), np.full(n, float(platelets)))


@dataclass(frozen=True, slots=True)
class SpinResult:
    profile: Profile
    steps: int


def settle(
    profile: Profile,
    *,
    rcf: float,
    seconds: float,
    params: ModelParameters,
    numerics: Numerics,
    rotor_radius_mm: float | None = None,
) -> SpinResult:
    """Spin ``profile`` for ``seconds`` at ``rcf`` x g (at the tube bottom) and return the new state."""
    if rcf < 0 or seconds < 0:
        raise ValueError("g and time cannot be negative")
    grid = profile.grid
    phi = profile.rbc.copy()
    conc = np.vstack([profile.wbc, profile.platelets])  # passive species, one row each
    if rcf == 0 or seconds == 0 or grid.size < 2:
        return SpinResult(Profile(grid, phi, conc[0].copy(), conc[1].copy()), 0)

    z = grid.centres_mm
    if rotor_radius_mm is not None:
        if rotor_radius_mm <= grid.edges_mm[-1]:
            raise ValueError("the rotor radius must exceed the liquid column's height")
        field = rcf * (rotor_radius_mm - z) / rotor_radius_mm
    else:
        field = np.full(grid.size, float(rcf))
    p = params
    s_r = p.stokes_speed_mm_s(p.rbc_diameter_um, p.rbc_density, 1.0) * field
    s_tr = np.vstack(
        [
            p.stokes_speed_mm_s(p.wbc_diameter_um, p.wbc_density, 1.0) * field,
            p.stokes_speed_mm_s(p.platelet_diameter_um, p.platelet_density, 1.0) * field,
        ]
    )
    rho_tr = np.array([[p.wbc_density], [p.platelet_density]])
    drho_tr = rho_tr - p.plasma_density
    pm, n_exp = p.packed_fraction, p.hindrance_exponent

    vol = grid.volumes_mm3
    area = grid.areas_mm2[1:-1]  # interior edges: edge k lies between cell k (below) and k+1 (above)
    a_below = np.concatenate(([0.0], area))  # area of each cell's lower edge (0 at the bottom)
    a_above = np.concatenate((area, [0.0]))  # area of each cell's upper edge (0 at the surface)
    v_over_a = vol[1:] / area  # for capping flow down out of cell k+1
    v_over_a_up = vol[:-1] / area  # for capping flow up out of cell k

    thr_r = numerics.trace * max(float(vol @ phi) / float(vol.sum()), 1e-300)
    thr_tr = numerics.trace * np.maximum(conc @ vol / float(vol.sum()), 1e-300)[:, None]
    cfl = numerics.cfl

    t, steps = 0.0, 0
    while t < seconds * (1 - 1e-12):
        base = np.clip(1.0 - phi / pm, 0.0, 1.0)
        hind = base**n_exp
        # Red cells: monotonicity needs dt * rate <= 1 for every cell.
        out_r = np.concatenate(([0.0], s_r[1:] * hind[:-1])) * a_below * (phi > thr_r)
        dhind = (n_exp / pm) * base ** (n_exp - 1.0)
        in_r = np.concatenate((phi[1:] * s_r[1:], [0.0])) * dhind * a_above
        rate = float(np.max((out_r + in_r) / vol))
        # Passive species: each cell's own velocity (down positive).
        one_minus = 1.0 - phi
        rho_bar = p.plasma_density + phi * (p.rbc_density - p.plasma_density)
        u = (hind / (one_minus * one_minus)) * (s_tr * (rho_tr - rho_bar) / drho_tr - phi * one_minus * s_r)
        down = u > 0
        a_out = np.where(down, a_below, a_above)
        # A cell whose species flows into a neighbour that sends it back (white cells piling up on
        # the red cells) does not limit the step: its capped outflow keeps it positive, and the
        # error only shifts that pile within the two cells of the interface.
        receiver_up = np.empty_like(down)
        receiver_up[:, 0] = True
        receiver_up[:, 1:] = ~down[:, :-1]
        receiver_down = np.empty_like(down)
        receiver_down[:, -1] = True
        receiver_down[:, :-1] = down[:, 1:]
        through = np.where(down, ~receiver_up, ~receiver_down)
        rate_tr = float(np.max(np.abs(u) * a_out * ((conc > thr_tr) & through) / vol))
        rate = max(rate, rate_tr)
        dt = seconds - t if rate <= 0 else min(cfl / rate, seconds - t)

        # Fluxes (down positive) through the interior edges, outflow capped at each cell's content.
        down_r = phi[1:] * np.minimum(s_r[1:] * hind[:-1], v_over_a / dt)
        u_dn = np.minimum(np.maximum(u[:, 1:], 0.0), v_over_a / dt)
        u_up = np.minimum(np.maximum(-u[:, :-1], 0.0), v_over_a_up / dt)
        # Passive species: second order (van Leer-limited slopes, Lax-Wendroff correction), so a
        # front of platelets settling through plasma stays sharp whatever the step.
        diff = np.diff(conc, axis=1)
        slope = np.zeros_like(conc)
        a, b = diff[:, :-1], diff[:, 1:]
        prod = a * b
        slope[:, 1:-1] = np.where(prod > 0, 2.0 * prod / np.where(prod > 0, a + b, 1.0), 0.0)
        nu_dn = u_dn * dt / v_over_a
        nu_up = u_up * dt / v_over_a_up
        face_dn = conc[:, 1:] - 0.5 * (1.0 - nu_dn) * slope[:, 1:]
        face_up = conc[:, :-1] + 0.5 * (1.0 - nu_up) * slope[:, :-1]
        down_tr = np.minimum(face_dn * u_dn, conc[:, 1:] * v_over_a / dt) - np.minimum(
            face_up * u_up, conc[:, :-1] * v_over_a_up / dt
        )

        moved_r = down_r * area * dt
        amount = phi * vol
        amount[:-1] += moved_r
        amount[1:] -= moved_r
        phi = np.clip(amount / vol, 0.0, pm)
        moved = down_tr * area * dt
        amounts = conc * vol
        amounts[:, :-1] += moved
        amounts[:, 1:] -= moved
        conc = np.maximum(amounts / vol, 0.0)
        t += dt
        steps += 1
        if rate <= 0:
            break
    return SpinResult(Profile(grid, phi, conc[0], conc[1]), steps)


def interface_height(grid: Grid, values: FloatArray, threshold: float) -> float:
    """Height (mm) of the highest crossing of ``threshold`` going up, interpolated between cell centres.

    Returns 0 when no cell reaches the threshold and the surface height when the top cell does.
    """
    above = np.nonzero(values >= threshold)[0]
    if above.size == 0:
        return 0.0
    k = int(above[-1])
    centres = grid.centres_mm
    if k == grid.size - 1:
        return float(grid.edges_mm[-1])
    lo, hi = float(values[k]), float(values[k + 1])
    frac = 0.5 if math.isclose(lo, hi) else (lo - threshold) / (lo - hi)
    return float(centres[k] + frac * (centres[k + 1] - centres[k]))
