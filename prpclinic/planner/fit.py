"""Fit the model's free parameters to the published yields, with leave-one-out predictions.

Run ``python -m prpclinic.planner.fit`` to see the fit, ``--write`` to store it in ``fitted.py``
(then paste the printed table into docs/planner.md; a test checks the two agree). Nothing here
runs at import time. A full run (fit, four leave-one-out refits, bands) takes a few minutes.

Method: minimise chi-square, the sum of ((predicted - reported)/sigma)² with sigma from
``Observation.sigma``, over the logarithms of the three fitted parameters within physical
bounds: the best point of a coarse grid, polished by Nelder-Mead (derivative-free, because the
model is not smooth in its parameters at the scale of a grid cell).
Leave-one-out drops one published row (both numbers of T1 together) and refits.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.optimize import minimize  # type: ignore[import-untyped, unused-ignore]

from prpclinic.planner.geometry import TUBE_15ML_CONICAL
from prpclinic.planner.model import Prediction, predict
from prpclinic.planner.observations import (
    CONDITIONS,
    HEMATOCRIT_BAND,
    OBSERVATIONS,
    PLAUSIBILITY,
    Condition,
    Observation,
    Plausibility,
    blood_with_citrate,
)
from prpclinic.planner.parameters import FITTED_NAMES, ModelParameters, Numerics
from prpclinic.planner.protocol import KeepLowerFraction, PlasmaAboveBuffy, Spin, Step, UpperPlasmaLayer
from prpclinic.planner.record import Band, FitRecord, RowFit

#: Bounds of the fitted parameters: effective red-cell Stokes diameter (µm; up to aggregates of
#: a few cells), hindrance exponent, effective platelet Stokes diameter (µm).
LOWER = (3.0, 1.0, 0.8)
UPPER = (40.0, 10.0, 5.0)
#: The coarse grid the fit starts from (log-spaced within the bounds).
GRID: tuple[tuple[float, ...], ...] = (
    (3.0, 4.0, 5.5, 7.5, 10.0, 14.0, 20.0, 30.0),
    (1.2, 1.7, 2.4, 3.4, 4.8, 7.0),
    (1.0, 1.35, 1.8, 2.4, 3.2),
)
METHOD = (
    "chi-square of (predicted - reported)/sigma; best point of a log-spaced grid "
    f"{dict(zip(FITTED_NAMES, GRID, strict=True))}, then Nelder-Mead on log-parameters within "
    f"bounds {dict(zip(FITTED_NAMES, zip(LOWER, UPPER, strict=True), strict=True))}; "
    "parameters rounded to 4 significant digits"
)


def simulate(
    condition: Condition, params: ModelParameters, numerics: Numerics, hematocrit: float | None = None
) -> Prediction:
    """The model's prediction for one published protocol (optionally at another hematocrit)."""
    blood = condition.blood if hematocrit is None else replace(condition.blood, hematocrit=hematocrit)
    return predict(condition.tube, blood, condition.steps, params=params, numerics=numerics)


def value_of(observation: Observation, prediction: Prediction) -> float:
    """The predicted counterpart of a reported number."""
    if observation.quantity == "recovery":
        return prediction.platelet_recovery
    if observation.quantity == "concentration_factor":
        return prediction.concentration_factor
    step = observation.step if observation.step is not None else 1
    return prediction.steps[step - 1].platelet_recovery


def predicted(
    params: ModelParameters,
    observations: Iterable[Observation] = OBSERVATIONS,
    numerics: Numerics | None = None,
    hematocrit: float | None = None,
) -> dict[str, float]:
    """Predicted value per observation id (each protocol simulated once)."""
    num = numerics if numerics is not None else Numerics()
    cache: dict[str, Prediction] = {}
    out: dict[str, float] = {}
    for obs in observations:
        if obs.row not in cache:
            cache[obs.row] = simulate(CONDITIONS[obs.row], params, num, hematocrit)
        out[obs.id] = value_of(obs, cache[obs.row])
    return out


def _params(x: Sequence[float], base: ModelParameters) -> ModelParameters:
    return base.with_fitted([math.exp(v) for v in x])


def chi_square(params: ModelParameters, observations: Sequence[Observation], numerics: Numerics) -> float:
    values = predicted(params, observations, numerics)
    return _chi_square(values, observations)


def _chi_square(values: dict[str, float], observations: Sequence[Observation]) -> float:
    return float(sum(((values[o.id] - o.value) / o.sigma) ** 2 for o in observations))


def scan(
    *, base: ModelParameters | None = None, numerics: Numerics | None = None
) -> list[tuple[tuple[float, ...], dict[str, float]]]:
    """Predictions of every observation on the coarse grid ``GRID`` of fitted parameters."""
    b = base if base is not None else ModelParameters()
    num = numerics if numerics is not None else Numerics()
    return [(point, predicted(b.with_fitted(point), OBSERVATIONS, num)) for point in itertools.product(*GRID)]


def fit_parameters(
    observations: Sequence[Observation] = OBSERVATIONS,
    *,
    base: ModelParameters | None = None,
    numerics: Numerics | None = None,
    grid: list[tuple[tuple[float, ...], dict[str, float]]] | None = None,
) -> ModelParameters:
    """The fitted parameters (rounded to 4 significant digits) for ``observations``.

    The best point of the coarse grid (``scan``, computed here unless given), then Nelder-Mead
    on the log-parameters within the bounds.
    """
    b = base if base is not None else ModelParameters()
    num = numerics if numerics is not None else Numerics()
    points = grid if grid is not None else scan(base=b, numerics=num)
    ranked = sorted(points, key=lambda item: _chi_square(item[1], observations))
    bounds = list(zip(np.log(LOWER), np.log(UPPER), strict=True))

    def objective(x: np.ndarray) -> float:
        return chi_square(_params(list(x), b), observations, num)

    x0 = np.log(np.asarray(ranked[0][0], dtype=float))
    simplex = np.vstack([x0] + [x0 + 0.15 * np.eye(len(x0))[i] for i in range(len(x0))])
    result = minimize(
        objective,
        x0,
        method="Nelder-Mead",
        bounds=bounds,
        options={"initial_simplex": simplex, "xatol": 2e-3, "fatol": 1e-3, "maxfev": 150},
    )
    best = result.x if result.fun <= _chi_square(ranked[0][1], observations) else x0
    rounded = [float(f"{math.exp(v):.4g}") for v in best]
    return b.with_fitted(rounded)


def leave_one_out(
    observations: Sequence[Observation] = OBSERVATIONS,
    *,
    base: ModelParameters | None = None,
    numerics: Numerics | None = None,
    grid: list[tuple[tuple[float, ...], dict[str, float]]] | None = None,
) -> dict[str, tuple[float, ModelParameters]]:
    """For each published row, refit without it and predict it: id -> (prediction, parameters)."""
    num = numerics if numerics is not None else Numerics()
    points = grid if grid is not None else scan(base=base, numerics=num)
    out: dict[str, tuple[float, ModelParameters]] = {}
    groups: dict[str, list[Observation]] = {}
    for obs in observations:
        groups.setdefault(obs.id.split("-")[0], []).append(obs)
    for left_out in groups.values():
        kept = [o for o in observations if o not in left_out]
        params = fit_parameters(kept, base=base, numerics=num, grid=points)
        values = predicted(params, left_out, num)
        for obs in left_out:
            out[obs.id] = (values[obs.id], params)
    return out


def _window_predictions(item: Plausibility, params: ModelParameters, numerics: Numerics) -> list[float]:
    tube = TUBE_15ML_CONICAL
    firsts = [Spin(g, m) for g, m in itertools.product((100, 200, 300), (5, 10))]
    values: list[float] = []
    if item.id == "T6":
        for spin in firsts:
            p = predict(
                tube, blood_with_citrate(10.0), (Step(spin, PlasmaAboveBuffy(2.0)),), params=params, numerics=numerics
            )
            values.append(p.platelet_recovery)
    elif item.id == "T7":
        for spin in firsts:
            p = predict(
                tube, blood_with_citrate(5.0), (Step(spin, UpperPlasmaLayer()),), params=params, numerics=numerics
            )
            values.append(p.concentration_factor)
    else:
        seconds = [Spin(g, m) for g, m in itertools.product((400, 700), (10, 17))]
        for s1, s2, keep in itertools.product((Spin(100, 5), Spin(300, 10)), seconds, (1 / 3, 1 / 4)):
            steps = (Step(s1, UpperPlasmaLayer()), Step(s2, KeepLowerFraction(keep)))
            p = predict(tube, blood_with_citrate(10.0), steps, params=params, numerics=numerics)
            values.append(p.concentration_factor)
    return values


def plausibility_bands(params: ModelParameters, numerics: Numerics | None = None) -> tuple[Band, ...]:
    """The model's range over each unfitted row's window of settings."""
    num = numerics if numerics is not None else Numerics()
    bands = []
    for item in PLAUSIBILITY:
        values = _window_predictions(item, params, num)
        bands.append(Band(item.id, round(min(values), 4), round(max(values), 4)))
    return tuple(bands)


def hematocrit_sensitivity(
    params: ModelParameters, numerics: Numerics | None = None
) -> tuple[tuple[str, float, float], ...]:
    """Each fitted number predicted at the low and high end of ``HEMATOCRIT_BAND``."""
    num = numerics if numerics is not None else Numerics()
    low = predicted(params, OBSERVATIONS, num, HEMATOCRIT_BAND[0])
    high = predicted(params, OBSERVATIONS, num, HEMATOCRIT_BAND[1])
    return tuple((o.id, round(low[o.id], 4), round(high[o.id], 4)) for o in OBSERVATIONS)


def run_fit(date: str | None = None, numerics: Numerics | None = None) -> FitRecord:
    """Fit on all rows, leave each row out, and compute the bands: the record ``fitted.py`` stores."""
    num = numerics if numerics is not None else Numerics()
    grid = scan(numerics=num)
    params = fit_parameters(OBSERVATIONS, numerics=num, grid=grid)
    values = predicted(params, OBSERVATIONS, num)
    loo = leave_one_out(OBSERVATIONS, numerics=num, grid=grid)
    rows = tuple(
        RowFit(
            id=o.id,
            reported=o.value,
            sigma=round(o.sigma, 4),
            fitted=round(values[o.id], 4),
            loo=round(loo[o.id][0], 4),
            loo_parameters=loo[o.id][1].fitted_vector(),
        )
        for o in OBSERVATIONS
    )
    return FitRecord(
        date=date or dt.date.today().isoformat(),
        data=tuple(o.id for o in OBSERVATIONS),
        method=METHOD,
        parameters=params,
        numerics=num,
        chi_square=round(chi_square(params, OBSERVATIONS, num), 3),
        rows=rows,
        bands=plausibility_bands(params, num),
        hematocrit_band=hematocrit_sensitivity(params, num),
    )


def render_fitted_module(record: FitRecord) -> str:
    """Python source of ``fitted.py`` for ``record``."""
    p = record.parameters
    fitted = ", ".join(f"{name}={getattr(p, name)!r}" for name in FITTED_NAMES)
    lines = [
        '"""The stored fit. Generated by ``python -m prpclinic.planner.fit --write``: do not edit by hand."""',
        "",
        "from __future__ import annotations",
        "",
        "from prpclinic.planner.parameters import ModelParameters, Numerics",
        "from prpclinic.planner.record import Band, FitRecord, RowFit",
        "",
        "FIT = FitRecord(",
        f"    date={record.date!r},",
        f"    data={record.data!r},",
        "    method=(",
        *[f"        {chunk!r}" for chunk in textwrap.wrap(record.method, 90, drop_whitespace=False)],
        "    ),",
        f"    parameters=ModelParameters({fitted}),",
        f"    numerics={record.numerics!r},",
        f"    chi_square={record.chi_square!r},",
        "    rows=(",
        *[f"        {row!r}," for row in record.rows],
        "    ),",
        "    bands=(",
        *[f"        {band!r}," for band in record.bands],
        "    ),",
        f"    hematocrit_band={record.hematocrit_band!r},",
        ")",
        "",
    ]
    return "\n".join(lines)


def _fmt(quantity: str, value: float) -> str:
    return f"{value:.2f}" if quantity == "concentration_factor" else f"{100 * value:.1f} %"


def render_table(record: FitRecord) -> str:
    """The docs' predicted-against-reported table (markdown)."""
    by_id = {o.id: o for o in OBSERVATIONS}
    hct = {row[0]: row[1:] for row in record.hematocrit_band}
    low_hct, high_hct = HEMATOCRIT_BAND
    out = [
        "| id | reported | fit σ | fitted (all rows) | leave-one-out | LOO miss (σ) "
        f"| fitted, at hematocrit {low_hct} / {high_hct} |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in record.rows:
        q = by_id[row.id].quantity
        miss = (row.loo - row.reported) / row.sigma
        lo, hi = hct[row.id]
        sigma = f"{row.sigma:.2f}" if q == "concentration_factor" else f"{100 * row.sigma:.1f} %"
        out.append(
            f"| {row.id} | {by_id[row.id].reported} | {sigma} | {_fmt(q, row.fitted)} | {_fmt(q, row.loo)} "
            f"| {miss:+.1f} | {_fmt(q, lo)} / {_fmt(q, hi)} |"
        )
    return "\n".join(out)


def render_parameters(record: FitRecord) -> str:
    """The docs' table of fitted parameters: on all rows, and with each row left out."""
    header = " | ".join(f"`{name}`" for name in FITTED_NAMES)
    out = [f"| fit | {header} |", "|---" * (len(FITTED_NAMES) + 1) + "|"]
    out.append("| all rows | " + " | ".join(f"{v:g}" for v in record.parameters.fitted_vector()) + " |")
    seen: set[str] = set()
    for row in record.rows:
        group = row.id.split("-")[0]
        if group in seen:
            continue
        seen.add(group)
        out.append(f"| without {group} | " + " | ".join(f"{v:g}" for v in row.loo_parameters) + " |")
    return "\n".join(out)


def render_bands(record: FitRecord) -> str:
    """The docs' table of unfitted rows against the model's range over a window of settings."""
    out = ["| id | reported | model range | window |", "|---|---|---|---|"]
    for item, band in zip(PLAUSIBILITY, record.bands, strict=True):
        out.append(
            f"| {item.id} | {item.reported} | {_fmt(item.quantity, band.low)} – {_fmt(item.quantity, band.high)} "
            f"| {item.window} |"
        )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help="store the fit in prpclinic/planner/fitted.py")
    args = parser.parse_args(argv)
    record = run_fit()
    print(f"fitted: {record.parameters.fitted_vector()} chi²={record.chi_square}")
    print(render_table(record))
    print()
    print(render_bands(record))
    if args.write:
        path = Path(__file__).with_name("fitted.py")
        path.write_text(render_fitted_module(record), encoding="utf-8")
        ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
        if Path(ruff).exists():
            subprocess.run([ruff, "format", str(path)], check=False)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
