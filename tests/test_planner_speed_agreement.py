"""The fast paths agree with ``predict``: ``batch.predict_many``, its trajectories in g·seconds, and
``recommend`` over a grid of new settings (issue point 6). Timings are in bench/planner.py, not here.

Stated tolerance: recovery, concentration factor and the white/red-cell figures within 1e-6
(relative for the concentration), layers within 1e-6 mm, the same number of time steps. In
practice the two agree to about 1e-12: they take the same steps in another unit of time.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prpclinic.planner.batch import Trajectory, predict_many, run_trajectories
from prpclinic.planner.geometry import TUBE_13X100_ROUND, TUBE_15ML_CONICAL, TUBE_16X100_ROUND, make_grid
from prpclinic.planner.model import Contents, Prediction, default_parameters, predict
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
from prpclinic.planner.recommend import CandidateGrid, Program, Target, recommend
from prpclinic.planner.sedimentation import settle, uniform_profile

TOL = 1e-6
COARSE = Numerics(cell_mm=1.0)
BLOOD = Blood(volume_ml=9.0, hematocrit=0.42, platelets_per_ul=250_000, anticoagulant_ml=1.0, wbc_per_ul=6_500)

PROGRAMS: list[tuple[Step, ...]] = [
    (Step(Spin(150, 10), PlasmaAboveBuffy(2.0)),),
    (Step(Spin(1500, 20), UpperPlasmaLayer(1.0)),),
    (Step(Spin(300, 5), UpperPlasmaLayer()), Step(Spin(700, 12), KeepLowerFraction(1 / 3))),
    (Step(Spin(300, 5), UpperPlasmaLayer()), Step(Spin(1200, 6), KeepLowerVolume(1.5))),
    (Step(Spin(600, 2.5), UpperPlasmaLayer()), Step(Spin(700, 12), KeepLowerFraction(1 / 3))),  # same g·min as #3
    (Step(Spin(200, 10, rotor_radius_cm=15.0), PlasmaAboveBuffy(1.0)), Step(Spin(900, 10, 15.0), UpperVolume(2.0))),
    (Step(Spin(250, 8), UpperPlasmaLayer(), TUBE_16X100_ROUND), Step(Spin(800, 10), KeepLowerVolume(1.0))),
    (Step(Spin(0, 10), PlasmaAboveBuffy(2.0)), Step(Spin(800, 10), KeepLowerVolume(1.0))),  # empty after step 1
    (Step(Spin(400, 0), KeepLowerFraction(0.5)),),
    (
        Step(Spin(100, 10), UpperPlasmaLayer()),
        Step(Spin(400, 10), KeepLowerFraction(1 / 3)),
        Step(Spin(2000, 5), KeepLowerVolume(0.3)),
    ),
]


def assert_same(fast: Prediction, ref: Prediction) -> None:
    assert fast.platelet_recovery == pytest.approx(ref.platelet_recovery, abs=TOL)
    assert fast.concentration_factor == pytest.approx(ref.concentration_factor, rel=TOL, abs=TOL)
    assert fast.platelets_per_ul == pytest.approx(ref.platelets_per_ul, rel=TOL, abs=TOL)
    assert fast.dose == pytest.approx(ref.dose, rel=TOL, abs=1.0)
    assert fast.volume_ml == pytest.approx(ref.volume_ml, abs=TOL)
    assert fast.wbc_recovery == pytest.approx(ref.wbc_recovery, abs=TOL)
    assert fast.rbc_recovery == pytest.approx(ref.rbc_recovery, abs=TOL)
    assert fast.hematocrit == pytest.approx(ref.hematocrit, abs=TOL)
    assert fast.warnings == ref.warnings
    assert fast.parameters == ref.parameters
    assert len(fast.steps) == len(ref.steps)
    for a, b in zip(fast.steps, ref.steps, strict=True):
        assert (a.spin, a.harvest, a.tube, a.time_steps) == (b.spin, b.harvest, b.tube, b.time_steps)
        assert a.platelet_recovery == pytest.approx(b.platelet_recovery, abs=TOL)
        assert a.harvested_ml == pytest.approx(b.harvested_ml, abs=TOL)
        assert a.cut_mm == pytest.approx(b.cut_mm, abs=TOL)
        for name in ("meniscus_mm", "buffy_top_mm", "red_top_mm", "buffy_bottom_mm", "sediment_top_mm", "plasma_ml"):
            assert getattr(a.layers, name) == pytest.approx(getattr(b.layers, name), abs=TOL), name


def test_predict_many_gives_predicts_numbers() -> None:
    fast = predict_many(TUBE_15ML_CONICAL, BLOOD, PROGRAMS)
    for steps, prediction in zip(PROGRAMS, fast, strict=True):
        assert_same(prediction, predict(TUBE_15ML_CONICAL, BLOOD, steps))


def test_predict_many_with_calibrated_parameters_and_another_grid() -> None:
    params = replace(default_parameters(), g_scale=1.4, harvest_yield=0.9)
    programs = PROGRAMS[2:4]
    for prediction, steps in zip(
        predict_many(TUBE_15ML_CONICAL, BLOOD, programs, params=params, numerics=COARSE), programs, strict=True
    ):
        assert_same(prediction, predict(TUBE_15ML_CONICAL, BLOOD, steps, params=params, numerics=COARSE))
    # harvest_yield multiplies each harvest's platelets: recovery y^h of the uncorrected one
    plain = predict_many(TUBE_15ML_CONICAL, BLOOD, programs, params=replace(params, harvest_yield=1.0), numerics=COARSE)
    lossy = predict_many(TUBE_15ML_CONICAL, BLOOD, programs, params=params, numerics=COARSE)
    for a, b in zip(plain, lossy, strict=True):
        assert b.platelet_recovery == pytest.approx(a.platelet_recovery * 0.9**2, rel=1e-9)
        assert b.wbc_recovery == pytest.approx(a.wbc_recovery, rel=1e-9)


def test_g_scale_is_a_factor_on_g() -> None:
    params = replace(default_parameters(), g_scale=1.5)
    scaled = predict(TUBE_15ML_CONICAL, BLOOD, PROGRAMS[0], params=params, numerics=COARSE)
    faster = predict(TUBE_15ML_CONICAL, BLOOD, (Step(Spin(225, 10), PlasmaAboveBuffy(2.0)),), numerics=COARSE)
    assert scaled.platelet_recovery == pytest.approx(faster.platelet_recovery, abs=1e-9)


def test_a_trajectory_holds_every_spin_of_its_tube() -> None:
    # One trajectory in g·seconds gives settle's state for any g and time with that product.
    params, num = default_parameters(), Numerics()
    contents = Contents(8.0, 0.38, 0.9, 225_000.0)
    spins = [Spin(100, 5), Spin(250, 10), Spin(500, 5), Spin(1500, 20), Spin(0, 5)]
    wanted = tuple(s.rcf * s.minutes * 60 for s in spins)
    for radius in (None, 140.0):
        (row,) = run_trajectories([Trajectory(TUBE_13X100_ROUND, contents, radius, wanted)], params, num)
        grid = make_grid(TUBE_13X100_ROUND, contents.volume_ml, num.cell_mm)
        start = uniform_profile(grid, contents.rbc, contents.wbc, contents.platelets)
        for spin, snap in zip(spins, row, strict=True):
            ref = settle(
                start, rcf=spin.rcf, seconds=spin.minutes * 60, params=params, numerics=num, rotor_radius_mm=radius
            )
            assert snap.time_steps == ref.steps
            for a, b in ((snap.profile.rbc, ref.profile.rbc), (snap.profile.platelets, ref.profile.platelets)):
                assert max(abs(a - b)) <= 1e-9 * max(b.max(), 1.0)


@settings(max_examples=10, deadline=None, derandomize=True)
@given(
    hematocrit=st.floats(0.3, 0.5),
    first=st.lists(st.tuples(st.floats(50, 1500), st.floats(1, 20)), min_size=1, max_size=4),
    second=st.tuples(st.floats(200, 3000), st.floats(1, 20)),
    harvest=st.sampled_from((UpperPlasmaLayer(), PlasmaAboveBuffy(2.0), UpperVolume(2.0))),
)
def test_predict_many_agrees_with_predict_on_random_programs(
    hematocrit: float, first: list[tuple[float, float]], second: tuple[float, float], harvest: UpperVolume
) -> None:
    blood = Blood(volume_ml=7.0, hematocrit=hematocrit, platelets_per_ul=200_000, anticoagulant_ml=0.8)
    programs = [(Step(Spin(*f), harvest), Step(Spin(*second), KeepLowerVolume(1.0))) for f in first]
    programs.append((Step(Spin(*first[0]), KeepLowerFraction(0.5)),))
    fast = predict_many(TUBE_15ML_CONICAL, blood, programs, numerics=COARSE)
    for steps, prediction in zip(programs, fast, strict=True):
        assert_same(prediction, predict(TUBE_15ML_CONICAL, blood, steps, numerics=COARSE))


def test_predict_many_refuses_what_predict_refuses() -> None:
    with pytest.raises(ValueError, match="rotor radius"):
        predict_many(TUBE_15ML_CONICAL, BLOOD, [(Step(Spin(300, 5, rotor_radius_cm=5.0), UpperPlasmaLayer()),)])
    with pytest.raises(ValueError, match="does not fit"):
        predict_many(TUBE_13X100_ROUND, replace(BLOOD, volume_ml=12.0), [PROGRAMS[0]])
    with pytest.raises(ValueError, match="at least one spin"):
        predict_many(TUBE_15ML_CONICAL, BLOOD, [()])


# --- recommend over new settings ---------------------------------------------------------------------


def test_the_default_grid_is_about_a_thousand_settings_from_100_to_1500_g() -> None:
    programs = CandidateGrid().programs()
    assert 900 <= len(programs) <= 1100
    spins = [step.spin for program in programs for step in program.steps]
    assert min(s.rcf for s in spins) == 100 and max(s.rcf for s in spins) == 1500
    assert min(s.minutes for s in spins) == 3 and max(s.minutes for s in spins) == 20
    assert {len(p.steps) for p in programs} == {1, 2}
    assert len({p.name for p in programs}) == len(programs)


def test_recommend_ranks_new_settings_with_predicts_numbers() -> None:
    grid = CandidateGrid(
        g=(150, 400, 1000),
        minutes=(5, 10),
        first_g=(100, 300),
        first_minutes=(5, 10),
        second_g=(400, 1500),
        second_minutes=(5, 15),
    )
    clinic = [Program("clinic", PROGRAMS[2])]
    target = Target(concentration_factor=4.0)
    ranked = recommend(TUBE_15ML_CONICAL, BLOOD, clinic, target, candidates=grid, numerics=COARSE)
    assert len(ranked) == 1 + len(grid.programs())
    assert [r.new for r in ranked].count(False) == 1
    misses = [r.miss for r in ranked]
    assert misses == sorted(misses)
    for r in (*ranked[:3], ranked[-1], next(r for r in ranked if not r.new)):
        ref = predict(TUBE_15ML_CONICAL, BLOOD, r.program.steps, numerics=COARSE)
        assert_same(r.prediction, ref)
        assert r.miss == pytest.approx(abs(math.log(ref.concentration_factor / 4.0)), abs=1e-6)
    assert len(recommend(TUBE_15ML_CONICAL, BLOOD, clinic, target, candidates=grid, numerics=COARSE, top=5)) == 5


def test_recommend_without_candidates_ranks_the_programs_as_before() -> None:
    programs = [Program("soft", PROGRAMS[0]), Program("double", PROGRAMS[2])]
    ranked = recommend(TUBE_15ML_CONICAL, BLOOD, programs, Target(platelets_per_ul=1.0e6), params=ModelParameters())
    assert {r.program.name for r in ranked} == {"soft", "double"}
    assert not any(r.new for r in ranked)
    for r in ranked:
        assert_same(r.prediction, predict(TUBE_15ML_CONICAL, BLOOD, r.program.steps, params=ModelParameters()))
