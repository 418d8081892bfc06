"""``python -m bench.planner``: how fast the PRP planner is (issue point 6), and that its fast
paths still give ``predict``'s numbers.

    python -m bench.planner [--repeats N] [--products N] [--json]

Measures, on this machine:

1. one prediction (``predict``, the reference), median of ``--repeats`` runs, for a one-spin, a
   typical two-spin and the slowest two-spin program of the grid (1500 g x 20 min twice);
2. ``recommend`` over 1,000 candidate settings (100 one-spin: 10 g from 100 to 1500 g x 10 times
   from 3 to 20 min; 900 two-spin: 30 first spins x 30 second spins), median of 3, and the largest
   difference from ``predict`` over its first five and five random candidates;
3. ``calibrate`` on ``--products`` (1,000) synthetic products: three programs, 8/9/10 mL of blood,
   hematocrits 0.32-0.52, PRP volumes varying, counts from the model (exact) with a known
   correction (g_scale 1.3, harvest_yield 0.9) and 10 % lognormal noise; the time, what it found,
   and the largest difference from ``predict`` over ten products.

Prints the figures (docs/planner.md quotes them). Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from prpclinic.planner.calibration import DEFAULT_TUBE, ClinicObservation, calibrate, predicted_recoveries
from prpclinic.planner.geometry import TUBE_15ML_CONICAL
from prpclinic.planner.model import default_parameters, predict
from prpclinic.planner.protocol import Blood, KeepLowerFraction, PlasmaAboveBuffy, Spin, Step, UpperPlasmaLayer
from prpclinic.planner.recommend import CandidateGrid, Target, recommend

BLOOD = Blood(volume_ml=10.0, hematocrit=0.42, platelets_per_ul=250_000, anticoagulant_ml=1.1, wbc_per_ul=6_500)
GRID = CandidateGrid(
    g=(100, 250, 400, 550, 700, 850, 1000, 1150, 1300, 1500),
    minutes=(3, 4, 5, 6, 8, 10, 12, 15, 18, 20),
    first_g=(100, 150, 200, 300, 400, 600),
    first_minutes=(3, 5, 10, 15, 20),
    second_g=(400, 600, 800, 1000, 1250, 1500),
    second_minutes=(3, 5, 10, 15, 20),
)
PROGRAMS = {
    "one spin, 300 g x 5 min": (Step(Spin(300, 5), PlasmaAboveBuffy(2.0)),),
    "two spins, 300 g x 5 min then 700 g x 12 min": (
        Step(Spin(300, 5), UpperPlasmaLayer()),
        Step(Spin(700, 12), KeepLowerFraction(1 / 3)),
    ),
    "two spins, 1500 g x 20 min twice (slowest)": (
        Step(Spin(1500, 20), UpperPlasmaLayer()),
        Step(Spin(1500, 20), KeepLowerFraction(1 / 3)),
    ),
}
CLINIC_PROGRAMS = ((Spin(250, 5),), (Spin(100, 10), Spin(400, 10)), (Spin(200, 10), Spin(700, 12)))
TRUE = replace(default_parameters(), g_scale=1.3, harvest_yield=0.9)


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """Median wall time and median CPU time of this process (s) of ``repeats`` calls after one
    warm-up, and the last result. On a busy machine the CPU time is what the code costs."""
    result = fn()
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def bench_predict(repeats: int) -> dict[str, tuple[float, float]]:
    out = {}
    for name, steps in PROGRAMS.items():
        wall, cpu, _ = timed(lambda steps=steps: predict(TUBE_15ML_CONICAL, BLOOD, steps), repeats)
        out[name] = (wall * 1000, cpu * 1000)
    return out


def bench_recommend() -> dict[str, Any]:
    candidates = GRID.programs()
    assert len(candidates) == 1000, len(candidates)
    target = Target(concentration_factor=5.0)
    seconds, cpu, out = timed(lambda: recommend(TUBE_15ML_CONICAL, BLOOD, [], target, candidates=GRID), 3)
    ranked = list(out)  # type: ignore[call-overload]
    rng = random.Random(0)
    sample = ranked[:5] + rng.sample(ranked, 5)
    worst = max(
        abs(r.prediction.platelet_recovery - predict(TUBE_15ML_CONICAL, BLOOD, r.program.steps).platelet_recovery)
        for r in sample
    )
    best = ranked[0]
    return {
        "candidates": len(candidates),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "best": f"{best.program.name}: CF {best.prediction.concentration_factor:.2f}, "
        f"recovery {best.prediction.platelet_recovery:.0%}",
        "max_recovery_difference_from_predict": worst,
    }


def synthetic_products(n: int, seed: int = 1) -> list[ClinicObservation]:
    rng = random.Random(seed)
    products = []
    for i in range(n):
        spins = CLINIC_PROGRAMS[i % 3]
        volume = rng.choice((8.0, 9.0, 10.0))
        products.append(
            ClinicObservation(
                volume_ml=volume,
                platelets_per_ul=rng.uniform(150_000, 400_000),
                spins=spins,
                prp_ml=rng.uniform(2.5, 3.5) if len(spins) == 1 else rng.uniform(0.8, 1.6),
                prp_platelets_per_ul=1.0,  # replaced below
                hematocrit=rng.uniform(0.32, 0.52),
                anticoagulant_ml=volume / 9,
            )
        )
    recoveries = predicted_recoveries(products, params=TRUE, exact=True)
    return [
        replace(o, prp_platelets_per_ul=r * o.platelets_per_ul * o.volume_ml / o.prp_ml * math.exp(rng.gauss(0, 0.1)))
        for o, r in zip(products, recoveries, strict=True)
    ]


def bench_calibration(n: int) -> dict[str, Any]:
    start = time.perf_counter()
    products = synthetic_products(n)
    generated = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    cal = calibrate(products)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    worst = 0.0
    for f in random.Random(0).sample(cal.observations, min(10, n)):
        o = f.observation
        ref = predict(o.tube or DEFAULT_TUBE, o.blood(), o.steps(), params=cal.parameters).platelet_recovery
        worst = max(worst, abs(f.after.recovery - ref))
    return {
        "products": n,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "generation_seconds": generated,
        "g_scale": cal.g_scale,
        "g_scale_interval": cal.g_scale_interval,
        "harvest_yield": cal.harvest_yield,
        "harvest_yield_interval": cal.harvest_yield_interval,
        "rmse_recovery_before": cal.rmse_recovery_before,
        "rmse_recovery_after": cal.rmse_recovery_after,
        "rms_log_error_before": cal.rms_log_error_before,
        "rms_log_error_after": cal.rms_log_error_after,
        "max_recovery_difference_from_predict": worst,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=20, help="runs of one prediction (median)")
    parser.add_argument("--products", type=int, default=1000, help="synthetic products to calibrate on")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f}",
        "predict_ms": bench_predict(args.repeats),
        "recommend": bench_recommend(),
        "calibrate": bench_calibration(args.products),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"machine: {figures['machine']}")
    print(f"one prediction (predict, median of {args.repeats}; wall / CPU):")
    for name, (wall, cpu) in figures["predict_ms"].items():
        print(f"  {name}: {wall:.1f} ms / {cpu:.1f} ms")
    r = figures["recommend"]
    print(
        f"recommend over {r['candidates']} candidate settings: {r['seconds']:.2f} s (CPU {r['cpu_seconds']:.2f} s) "
        f"(best {r['best']}; largest recovery difference from predict {r['max_recovery_difference_from_predict']:.1e})"
    )
    c = figures["calibrate"]
    print(
        f"calibrate on {c['products']} synthetic products: {c['seconds']:.2f} s (CPU {c['cpu_seconds']:.2f} s) "
        f"(generating them exactly: {c['generation_seconds']:.1f} s)"
    )
    print(
        f"  g_scale {c['g_scale']:.3f} (95 % {c['g_scale_interval'][0]:.3f}-{c['g_scale_interval'][1]:.3f}; true 1.3), "
        f"harvest_yield {c['harvest_yield']:.3f} "
        f"({c['harvest_yield_interval'][0]:.3f}-{c['harvest_yield_interval'][1]:.3f}; true 0.9)"
    )
    print(
        f"  RMSE of recovery {c['rmse_recovery_before']:.3f} -> {c['rmse_recovery_after']:.3f}, "
        f"RMS log error {c['rms_log_error_before']:.3f} -> {c['rms_log_error_after']:.3f} (noise 0.10); "
        f"largest recovery difference from predict {c['max_recovery_difference_from_predict']:.4f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
