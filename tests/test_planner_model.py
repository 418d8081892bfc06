"""The planner's physics: RCF, conservation, the limits of point 3 of the issue, and the product's definitions.

Property tests use a coarse grid (1 mm cells) and few examples so the planner suite stays fast.
"""

from __future__ import annotations

import ast
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prpclinic.planner.geometry import (
    EXAMPLE_TUBES,
    TUBE_15ML_CONICAL,
    TUBE_16X100_ROUND,
    Tube,
    make_grid,
)
from prpclinic.planner.model import fraction_taken, measures, predict
from prpclinic.planner.parameters import ModelParameters, Numerics
from prpclinic.planner.protocol import (
    Blood,
    KeepLowerFraction,
    KeepLowerVolume,
    PlasmaAboveBuffy,
    Spin,
    Step,
    UpperPlasmaLayer,
    UpperVolume,
)
from prpclinic.planner.rcf import rcf_from_rpm, rpm_from_rcf
from prpclinic.planner.recommend import Program, Target, recommend, resuspension_volume_ml
from prpclinic.planner.sedimentation import Profile, settle, uniform_profile

PLANNER = Path(__file__).resolve().parent.parent / "prpclinic" / "planner"
COARSE = Numerics(cell_mm=1.0)
FAST = settings(max_examples=12, deadline=None, derandomize=True)
BLOOD = Blood(volume_ml=8.0, hematocrit=0.42, platelets_per_ul=220_000, anticoagulant_ml=0.9, wbc_per_ul=6_000)
TWO_SPINS = (Step(Spin(200, 10), UpperPlasmaLayer()), Step(Spin(700, 12), KeepLowerFraction(1 / 3)))

tubes = st.sampled_from(EXAMPLE_TUBES)
hematocrits = st.floats(0.25, 0.55)
gs = st.floats(50, 3000)
minutes = st.floats(1, 20)


def spun(tube: Tube, hematocrit: float, rcf: float, mins: float, radius_mm: float | None = None) -> Profile:
    grid = make_grid(tube, 5.0, COARSE.cell_mm)
    start = uniform_profile(grid, hematocrit, 1.0, 250_000.0)
    params = ModelParameters()
    return settle(start, rcf=rcf, seconds=60 * mins, params=params, numerics=COARSE, rotor_radius_mm=radius_mm).profile


def red_centre_mm(profile: Profile) -> float:
    weights = profile.rbc * profile.grid.volumes_mm3
    return float(weights @ profile.grid.centres_mm / weights.sum())


# --- RCF <-> RPM -------------------------------------------------------------------------------


def test_rcf_follows_the_reference_formula() -> None:
    # PRP_REFERENCE.md §1: RCF = 1.118e-5 x r(cm) x RPM², the same as 1.118 x r(mm) x (RPM/1000)².
    assert rcf_from_rpm(3000, 10.0) == pytest.approx(1.118e-5 * 10.0 * 3000**2)
    assert rcf_from_rpm(3000, 10.0) == pytest.approx(1.118 * 100.0 * 3.0**2)
    assert rpm_from_rcf(1006.2, 10.0) == pytest.approx(1000 * math.sqrt(1006.2 / (1.118 * 100.0)))


@FAST
@given(rpm=st.floats(0, 20_000), radius_cm=st.floats(1, 30))
def test_rpm_to_rcf_and_back_is_the_identity(rpm: float, radius_cm: float) -> None:
    assert rpm_from_rcf(rcf_from_rpm(rpm, radius_cm), radius_cm) == pytest.approx(rpm, rel=1e-9, abs=1e-9)


# --- limits of point 3 -------------------------------------------------------------------------


def test_no_spin_leaves_the_blood_mixed() -> None:
    blood = Blood(volume_ml=6.0, hematocrit=0.4, platelets_per_ul=200_000)
    for spin in (Spin(0, 10), Spin(1500, 0)):
        result = predict(TUBE_16X100_ROUND, blood, (Step(spin, KeepLowerFraction(0.5)),))
        assert result.concentration_factor == pytest.approx(1.0)
        assert result.hematocrit == pytest.approx(0.4)
        assert result.wbc_factor == pytest.approx(1.0)
        assert result.platelet_recovery == pytest.approx(0.5)
        assert result.steps[0].layers.red_top_mm == pytest.approx(result.steps[0].layers.meniscus_mm)


def test_no_spin_leaves_no_plasma_to_take() -> None:
    blood = Blood(volume_ml=6.0, hematocrit=0.4, platelets_per_ul=200_000)
    result = predict(TUBE_16X100_ROUND, blood, (Step(Spin(0, 10), PlasmaAboveBuffy(2.0)),))
    assert result.volume_ml == 0.0
    assert result.platelet_recovery == 0.0
    assert result.warnings


@FAST
@given(tube=tubes, hematocrit=hematocrits, rcf=gs, mins=minutes, radius=st.none() | st.floats(120, 250))
def test_a_spin_conserves_every_cell_type(
    tube: Tube, hematocrit: float, rcf: float, mins: float, radius: float | None
) -> None:
    grid = make_grid(tube, 5.0, COARSE.cell_mm)
    start = uniform_profile(grid, hematocrit, 1.0, 250_000.0)
    end = settle(start, rcf=rcf, seconds=60 * mins, params=ModelParameters(), numerics=COARSE, rotor_radius_mm=radius)
    for before, after in zip(start.totals(), end.profile.totals(), strict=True):
        assert after == pytest.approx(before, rel=1e-9)
    assert end.profile.rbc.min() >= 0.0
    assert end.profile.rbc.max() <= ModelParameters().packed_fraction + 1e-12
    assert end.profile.platelets.min() >= 0.0
    assert end.profile.wbc.min() >= 0.0


@FAST
@given(tube=tubes, cut=st.floats(0, 120))
def test_what_a_harvest_takes_and_leaves_add_up_to_the_tube(tube: Tube, cut: float) -> None:
    grid = make_grid(tube, 5.0, 0.5)
    above = fraction_taken(tube, grid, cut, "above")
    below = fraction_taken(tube, grid, cut, "below")
    np.testing.assert_allclose(above + below, 1.0)
    taken_ml = float(above @ grid.volumes_mm3) / 1000
    assert taken_ml == pytest.approx(max(5.0 - tube.volume_below_ml(min(cut, grid.edges_mm[-1])), 0.0), abs=1e-9)


@FAST
@given(tube=tubes, hematocrit=hematocrits, rcf=gs, mins=minutes, more=st.floats(1.0, 4.0))
def test_a_longer_or_harder_spin_never_separates_less(
    tube: Tube, hematocrit: float, rcf: float, mins: float, more: float
) -> None:
    base = spun(tube, hematocrit, rcf, mins)
    longer = spun(tube, hematocrit, rcf, mins * more)
    harder = spun(tube, hematocrit, rcf * more, mins)
    for stronger in (longer, harder):
        assert red_centre_mm(stronger) <= red_centre_mm(base) + 1e-9
        # the clear plasma on top never shrinks: the red-cell interface never rises
        threshold = 0.5 * hematocrit
        top = np.nonzero(base.rbc >= threshold)[0].max()
        assert np.nonzero(stronger.rbc >= threshold)[0].max() <= top


def test_only_g_times_minutes_matters_in_this_model() -> None:
    # Every speed is proportional to g, so the model obeys the g·min rule exactly (docs: where it misses).
    a = predict(TUBE_15ML_CONICAL, BLOOD, (Step(Spin(300, 10), PlasmaAboveBuffy(2.0)),))
    b = predict(TUBE_15ML_CONICAL, BLOOD, (Step(Spin(600, 5), PlasmaAboveBuffy(2.0)),))
    assert b.platelet_recovery == pytest.approx(a.platelet_recovery, abs=0.01)
    assert b.steps[0].layers.red_top_mm == pytest.approx(a.steps[0].layers.red_top_mm, abs=0.1)


def test_a_rotor_radius_weakens_the_field_towards_the_top() -> None:
    flat = spun(TUBE_15ML_CONICAL, 0.4, 300, 5)
    radial = spun(TUBE_15ML_CONICAL, 0.4, 300, 5, radius_mm=150.0)
    assert red_centre_mm(radial) > red_centre_mm(flat)


HARVESTS = st.sampled_from(
    (
        PlasmaAboveBuffy(2.0),
        UpperPlasmaLayer(),
        UpperPlasmaLayer(1.0),
        UpperVolume(2.0),
        KeepLowerFraction(1 / 3),
        KeepLowerVolume(1.0),
    )
)


@FAST
@given(
    hematocrit=hematocrits,
    first=st.tuples(gs, minutes),
    second=st.tuples(gs, minutes),
    h1=HARVESTS,
    h2=HARVESTS,
)
def test_recovery_is_never_above_one_hundred_percent(
    hematocrit: float,
    first: tuple[float, float],
    second: tuple[float, float],
    h1: PlasmaAboveBuffy,
    h2: PlasmaAboveBuffy,
) -> None:
    blood = Blood(volume_ml=6.0, hematocrit=hematocrit, platelets_per_ul=250_000, anticoagulant_ml=0.7)
    steps = (Step(Spin(*first), h1), Step(Spin(*second), h2))
    result = predict(TUBE_15ML_CONICAL, blood, steps, numerics=COARSE)
    for value in (result.platelet_recovery, result.wbc_recovery, result.rbc_recovery):
        assert 0.0 <= value <= 1.0 + 1e-9
    for step in result.steps:
        for value in (step.platelet_recovery, step.wbc_recovery, step.rbc_recovery):
            assert 0.0 <= value <= 1.0 + 1e-9


@pytest.mark.parametrize(
    "steps",
    [
        TWO_SPINS,
        (Step(Spin(900, 5), PlasmaAboveBuffy(2.0)), Step(Spin(1500, 15), KeepLowerVolume(1.0))),
        (Step(Spin(100, 10), UpperPlasmaLayer()),),
    ],
)
def test_results_do_not_depend_on_the_time_step(steps: tuple[Step, ...]) -> None:
    coarse = predict(TUBE_15ML_CONICAL, BLOOD, steps, numerics=Numerics(cfl=0.8))
    fine = predict(TUBE_15ML_CONICAL, BLOOD, steps, numerics=Numerics(cfl=0.2))
    assert fine.steps[-1].time_steps > 2 * coarse.steps[-1].time_steps
    assert fine.platelet_recovery == pytest.approx(coarse.platelet_recovery, abs=0.01)
    assert fine.concentration_factor == pytest.approx(coarse.concentration_factor, rel=0.02)
    assert fine.wbc_recovery == pytest.approx(coarse.wbc_recovery, abs=0.02)
    assert fine.steps[0].layers.red_top_mm == pytest.approx(coarse.steps[0].layers.red_top_mm, abs=0.3)
    for a, b in zip(fine.steps, coarse.steps, strict=True):
        # later steps pellet a few µL of red cells in the tube's tip: within a cell
        assert a.layers.red_top_mm == pytest.approx(b.layers.red_top_mm, abs=Numerics().cell_mm + 0.1)


def test_halving_the_cells_changes_the_recovery_little() -> None:
    coarse = predict(TUBE_15ML_CONICAL, BLOOD, TWO_SPINS, numerics=Numerics(cell_mm=0.5))
    fine = predict(TUBE_15ML_CONICAL, BLOOD, TWO_SPINS, numerics=Numerics(cell_mm=0.25))
    assert fine.platelet_recovery == pytest.approx(coarse.platelet_recovery, abs=0.03)


# --- physics that must show ----------------------------------------------------------------------


def test_a_soft_spin_leaves_platelet_rich_plasma_above_the_red_cells() -> None:
    result = predict(TUBE_15ML_CONICAL, BLOOD, (Step(Spin(200, 10), PlasmaAboveBuffy(1.0)),))
    assert result.concentration_factor > 1.0
    assert result.hematocrit < 0.01
    layers = result.steps[0].layers
    assert 0 < layers.sediment_top_mm <= layers.red_top_mm < layers.meniscus_mm


def test_the_buffy_coat_holds_the_white_cells() -> None:
    steps_poor = (Step(Spin(1000, 10), PlasmaAboveBuffy(2.0)),)
    steps_rich = (Step(Spin(1000, 10), UpperPlasmaLayer()),)
    poor = predict(TUBE_15ML_CONICAL, BLOOD, steps_poor)
    rich = predict(TUBE_15ML_CONICAL, BLOOD, steps_rich)
    layers = rich.steps[0].layers
    assert layers.buffy_bottom_mm <= layers.red_top_mm <= layers.buffy_top_mm
    assert layers.buffy_top_mm > layers.buffy_bottom_mm
    assert poor.wbc_recovery < 0.05 < rich.wbc_recovery
    assert poor.wbc_factor < 1.0
    assert rich.wbc_per_ul == pytest.approx(rich.wbc_factor * 6_000)


def test_packed_red_cells_keep_their_trapped_plasma() -> None:
    profile = spun(TUBE_16X100_ROUND, 0.45, 3000, 30)
    assert profile.rbc.max() <= ModelParameters().packed_fraction + 1e-12


# --- the product's definitions (PRP_REFERENCE.md §2) ----------------------------------------------


def test_the_reference_worked_example() -> None:
    # 250k/µL x 10 mL = 2.5e9 platelets; R = 0.70 into 1.5 mL gives N = 1.75e9, C ≈ 1.17e6/µL, CF ≈ 4.7.
    m = measures(wb_platelets_per_ul=250_000, wb_ml=10.0, product_platelets=0.70 * 2.5e9, product_ml=1.5)
    assert m.recovery == pytest.approx(0.70)
    assert m.dose == pytest.approx(1.75e9)
    assert m.platelets_per_ul == pytest.approx(1.17e6, rel=0.005)
    assert m.concentration_factor == pytest.approx(4.7, rel=0.01)


def test_predictions_obey_the_reference_identities() -> None:
    result = predict(TUBE_15ML_CONICAL, BLOOD, TWO_SPINS)
    v_wb, c_wb = BLOOD.volume_ml, BLOOD.platelets_per_ul
    assert result.concentration_factor == pytest.approx(result.platelet_recovery * v_wb / result.volume_ml)
    assert result.dose == pytest.approx(result.platelets_per_ul * result.volume_ml * 1000)
    assert result.platelet_recovery == pytest.approx(result.dose / (c_wb * v_wb * 1000))
    overall = math.prod(step.platelet_recovery for step in result.steps)
    assert result.platelet_recovery == pytest.approx(overall)


# --- inputs, speed, recommendation, purity ---------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: Blood(volume_ml=0, hematocrit=0.4, platelets_per_ul=2e5),
        lambda: Blood(volume_ml=5, hematocrit=0.95, platelets_per_ul=2e5),
        lambda: Spin(-1, 5),
        lambda: KeepLowerFraction(0),
        lambda: PlasmaAboveBuffy(-1),
        lambda: Tube("bad", 14, 100, "conical", cone_height_mm=0),
        lambda: Numerics(cfl=1.5),
    ],
)
def test_impossible_inputs_are_refused(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


def test_blood_that_does_not_fit_the_tube_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        predict(TUBE_16X100_ROUND, Blood(volume_ml=20, hematocrit=0.4, platelets_per_ul=2e5), TWO_SPINS)


def test_a_two_spin_prediction_takes_well_under_a_second() -> None:
    blood = Blood(volume_ml=10.0, hematocrit=0.42, platelets_per_ul=250_000, anticoagulant_ml=1.1)
    steps = (Step(Spin(1000, 15), PlasmaAboveBuffy(2.0)), Step(Spin(3000, 20), KeepLowerVolume(1.0)))
    predict(TUBE_15ML_CONICAL, blood, steps)  # warm-up
    started = time.perf_counter()
    predict(TUBE_15ML_CONICAL, blood, steps)
    assert time.perf_counter() - started < 1.0


def test_recommend_puts_the_closest_program_first() -> None:
    programs = (
        Program("soft", (Step(Spin(150, 10), UpperPlasmaLayer()),)),
        Program("double", TWO_SPINS),
    )
    ranked = recommend(TUBE_15ML_CONICAL, BLOOD, programs, Target(concentration_factor=4.0))
    assert [r.program.name for r in ranked] == ["double", "soft"]
    assert ranked[0].miss == pytest.approx(abs(math.log(ranked[0].prediction.concentration_factor / 4.0)))
    volume = resuspension_volume_ml(ranked[0].prediction, 1.0e6)
    assert volume * 1000 * 1.0e6 == pytest.approx(ranked[0].prediction.dose)


def test_the_planner_imports_no_django() -> None:
    for path in PLANNER.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n == "django" or n.startswith("django.") for n in names), path
    modules = [f"prpclinic.planner.{p.stem}" for p in sorted(PLANNER.glob("*.py")) if p.stem != "__init__"]
    code = (
        f"import sys\nfor m in {modules!r}: __import__(m)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
