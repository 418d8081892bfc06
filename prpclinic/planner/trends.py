"""Published trends without a single number (PRP_YIELD_DATA.md), checked against the model.

Not fitted: each check simulates the trend's setting as far as the source describes it and says
whether the model shows the same direction. ``render_trends`` gives the docs' table.
"""

from __future__ import annotations

from dataclasses import dataclass

from prpclinic.planner.geometry import TUBE_15ML_CONICAL
from prpclinic.planner.model import Prediction, predict
from prpclinic.planner.observations import CONDITIONS, blood_with_citrate
from prpclinic.planner.parameters import ModelParameters, Numerics
from prpclinic.planner.protocol import Blood, KeepLowerFraction, PlasmaAboveBuffy, Spin, Step, UpperPlasmaLayer


@dataclass(frozen=True, slots=True)
class Trend:
    source: str
    statement: str
    model: str
    agrees: bool


def _one(
    spin: Spin,
    harvest: PlasmaAboveBuffy | UpperPlasmaLayer,
    params: ModelParameters,
    num: Numerics,
    volume_ml: float = 10.0,
    hematocrit: float | None = None,
) -> Prediction:
    blood = blood_with_citrate(volume_ml) if hematocrit is None else blood_with_citrate(volume_ml, hematocrit)
    return predict(TUBE_15ML_CONICAL, blood, (Step(spin, harvest),), params=params, numerics=num)


def trend_checks(params: ModelParameters, numerics: Numerics | None = None) -> tuple[Trend, ...]:
    """Each published trend against the model at ``params``."""
    num = numerics if numerics is not None else Numerics()
    trends: list[Trend] = []

    t1 = predict(CONDITIONS["T1"].tube, CONDITIONS["T1"].blood, CONDITIONS["T1"].steps, params=params, numerics=num)
    t2 = predict(CONDITIONS["T2"].tube, CONDITIONS["T2"].blood, CONDITIONS["T2"].steps, params=params, numerics=num)
    trends.append(
        Trend(
            "Perez 2014 (T2); Piao, Park & Jo 2017",
            "more blood in the same tube lowers recovery",
            f"T1 program: {t1.platelet_recovery:.0%} with 3.5 mL, {t2.platelet_recovery:.0%} with 8.5 mL",
            t2.platelet_recovery < t1.platelet_recovery,
        )
    )

    gs = (100, 150, 200, 250, 300, 400, 600, 900)
    first = {g: _one(Spin(g, 10), PlasmaAboveBuffy(2.0), params, num).platelet_recovery for g in gs}
    best = max(first, key=lambda g: first[g])
    trends.append(
        Trend(
            "Perez 2014; Araki 2012 (15 mL conical, 10 min)",
            "first-spin optimum between 100 and 270 g for 10-15 min (230-270 g in Araki 2012)",
            f"10 mL, 10 min, plasma to 2 mm above the buffy coat: best of {gs} g is {best} g "
            f"({first[best]:.0%}; {first[100]:.0%} at 100 g, {first[900]:.0%} at 900 g)",
            100 <= best <= 270,
        )
    )

    low = {g: _one(Spin(g, 10), PlasmaAboveBuffy(2.0), params, num).platelet_recovery for g in (100, 250)}
    trends.append(
        Trend(
            "Söderström 2016",
            "a higher speed raised the platelet yield of PRP made at 100-250 g for 10 min",
            f"{low[100]:.0%} at 100 g, {low[250]:.0%} at 250 g",
            low[250] > low[100],
        )
    )

    prp = _one(Spin(200, 10), UpperPlasmaLayer(), params, num)
    prp_blood = Blood(volume_ml=prp.volume_ml, hematocrit=prp.hematocrit, platelets_per_ul=prp.platelets_per_ul)

    def pellet(g: float, minutes: float) -> float:
        step = (Step(Spin(g, minutes), KeepLowerFraction(0.1)),)
        return predict(TUBE_15ML_CONICAL, prp_blood, step, params=params, numerics=num).platelet_recovery

    pelleted = {(g, m): pellet(g, m) for g, m in ((500, 7), (1500, 7), (2000, 10), (5000, 6))}
    trends.append(
        Trend(
            "'Concentration of platelet units into small volumes'",
            "500 g was not enough to pellet; losses were minimal at 1500 g x 7 min, 2000 g x 10 min, 5000 g x 6 min",
            "PRP from 10 mL, lower tenth kept: "
            + ", ".join(f"{g} g x {m} min {v:.0%}" for (g, m), v in pelleted.items()),
            pelleted[(500, 7)] < min(v for k, v in pelleted.items() if k != (500, 7)),
        )
    )

    spun = _one(Spin(400, 8), PlasmaAboveBuffy(2.0), params, num)
    trends.append(
        Trend(
            "Miron et al. 2020 (10 mL, horizontal, no anticoagulant)",
            "above 8 min at 400 g no leukocytes stayed in the upper layers",
            f"400 g x 8 min: {spun.wbc_recovery:.1%} of the white cells above 2 mm over the buffy coat",
            spun.wbc_recovery < 0.01,
        )
    )

    def shift(g: float) -> float:
        a = _one(Spin(g, 8), PlasmaAboveBuffy(2.0), params, num, hematocrit=0.37).steps[0].layers.red_top_mm
        b = _one(Spin(g, 8), PlasmaAboveBuffy(2.0), params, num, hematocrit=0.47).steps[0].layers.red_top_mm
        return b - a

    slow, fast = shift(100), shift(700)
    trends.append(
        Trend(
            "Miron et al. 2020",
            "baseline hematocrit changed how the layers separated, more so at low speed",
            f"red interface 0.47 vs 0.37 hematocrit after 8 min: {slow:+.1f} mm at 100 g, {fast:+.1f} mm at 700 g",
            abs(slow) > abs(fast),
        )
    )

    short = _one(Spin(700, 4), PlasmaAboveBuffy(2.0), params, num)
    long = _one(Spin(350, 8), PlasmaAboveBuffy(2.0), params, num)
    trends.append(
        Trend(
            "Miron et al. 2020; NSRR manual (PRP_REFERENCE.md §10)",
            "time mattered more than speed (the g·min rule is not validated for PRP)",
            f"the model obeys g·min exactly: 700 g x 4 min {short.platelet_recovery:.0%}, "
            f"350 g x 8 min {long.platelet_recovery:.0%}",
            False,
        )
    )
    return tuple(trends)


def render_trends(trends: tuple[Trend, ...]) -> str:
    """The docs' table of trends."""
    out = ["| source | published trend | model | agrees |", "|---|---|---|---|"]
    for t in trends:
        out.append(f"| {t.source} | {t.statement} | {t.model} | {'yes' if t.agrees else '**no**'} |")
    return "\n".join(out)
