"""Calibration to one clinic (issue point 5): g_scale and harvest_yield fitted to the clinic's products.

Synthetic products come from the model itself (``predicted_recoveries``, exact) with a known
correction and a little noise; the fit must find the correction, agree with ``predict``, and say
when it cannot.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from prpclinic.planner.calibration import (
    DEFAULT_HEMATOCRIT,
    DEFAULT_TUBE,
    MIN_OBSERVATIONS,
    Calibration,
    ClinicObservation,
    calibrate,
    predicted_recoveries,
)
from prpclinic.planner.model import default_parameters, predict
from prpclinic.planner.parameters import ModelParameters
from prpclinic.planner.protocol import Spin, UpperVolume

BASE = default_parameters()
TRUE = replace(BASE, g_scale=1.35, harvest_yield=0.88)
PROGRAMS = ((Spin(250, 5),), (Spin(100, 10), Spin(400, 10)), (Spin(200, 10), Spin(700, 12)))
HEMATOCRITS = (0.33, 0.36, 0.38, 0.40, 0.41, 0.43, 0.45, 0.47, 0.50)


def product(
    spins: tuple[Spin, ...], volume: float, hct: float | None, prp: float, count: float = 1.0e6
) -> ClinicObservation:
    return ClinicObservation(
        volume_ml=volume,
        platelets_per_ul=240_000,
        spins=spins,
        prp_ml=prp,
        prp_platelets_per_ul=count,
        hematocrit=hct,
        anticoagulant_ml=volume / 9,
    )


def with_counts(
    products: list[ClinicObservation], params: ModelParameters, noise: float, seed: int
) -> list[ClinicObservation]:
    """The products with the PRP counts the model gives with ``params``, times lognormal noise."""
    rng = random.Random(seed)
    out = []
    for o, r in zip(products, predicted_recoveries(products, params=params), strict=True):
        count = r * o.platelets_per_ul * o.volume_ml / o.prp_ml * math.exp(rng.gauss(0.0, noise))
        out.append(replace(o, prp_platelets_per_ul=count))
    return out


@pytest.fixture(scope="module")
def clinic() -> tuple[list[ClinicObservation], Calibration]:
    rng = random.Random(7)
    products = []
    for i in range(27):
        spins = PROGRAMS[i % 3]
        prp = rng.uniform(2.5, 3.5) if len(spins) == 1 else rng.uniform(0.8, 1.5)
        products.append(product(spins, rng.choice((8.0, 10.0)), HEMATOCRITS[i % len(HEMATOCRITS)], prp))
    observations = with_counts(products, TRUE, noise=0.04, seed=1)
    return observations, calibrate(observations, base=BASE)


def test_calibration_finds_a_known_correction(clinic: tuple[list[ClinicObservation], Calibration]) -> None:
    _, cal = clinic
    assert cal.calibrated and cal.status == "calibrated" and cal.n_observations == 27
    assert cal.g_scale == pytest.approx(1.35, abs=0.1)
    assert cal.harvest_yield == pytest.approx(0.88, abs=0.04)
    assert cal.g_scale_interval[0] <= 1.35 <= cal.g_scale_interval[1]
    assert cal.harvest_yield_interval[0] <= 0.88 <= cal.harvest_yield_interval[1]
    assert cal.g_scale_identified
    assert cal.parameters == replace(BASE, g_scale=cal.g_scale, harvest_yield=cal.harvest_yield)
    assert cal.rmse_recovery_after < cal.rmse_recovery_before
    assert cal.rms_log_error_after < 0.06 < cal.rms_log_error_before  # noise 0.04 after, the bias before
    assert not cal.notes


def test_the_calibration_reports_each_product(clinic: tuple[list[ClinicObservation], Calibration]) -> None:
    observations, cal = clinic
    assert [f.index for f in cal.observations] == list(range(len(observations)))
    for f, o in zip(cal.observations, observations, strict=True):
        assert f.observation is o and f.hematocrit == o.hematocrit and not f.hematocrit_assumed
        assert f.measured.recovery == pytest.approx(o.measured_recovery)
        assert f.measured.platelets_per_ul == pytest.approx(o.prp_platelets_per_ul)
        for numbers in (f.before, f.after):
            assert numbers.concentration_factor == pytest.approx(numbers.platelets_per_ul / o.platelets_per_ul)
            assert numbers.platelets_per_ul == pytest.approx(
                numbers.recovery * o.platelets_per_ul * o.volume_ml / o.prp_ml
            )
        assert f.error_after == pytest.approx(f.after.platelets_per_ul / o.prp_platelets_per_ul - 1)
    rmse = math.sqrt(sum((f.after.recovery - f.measured.recovery) ** 2 for f in cal.observations) / 27)
    assert cal.rmse_recovery_after == pytest.approx(rmse)


def test_calibrated_numbers_are_predicts_numbers(clinic: tuple[list[ClinicObservation], Calibration]) -> None:
    # 27 products of 18 bloods: simulated one by one (no more trajectories than the lattice), so exact.
    _, cal = clinic
    for f in cal.observations[:6]:
        o = f.observation
        tube = o.tube or DEFAULT_TUBE
        assert f.before.recovery == pytest.approx(predict(tube, o.blood(), o.steps()).platelet_recovery, abs=1e-6)
        after = predict(tube, o.blood(), o.steps(), params=cal.parameters)
        assert f.after.recovery == pytest.approx(after.platelet_recovery, abs=1e-6)
        assert f.after.platelets_per_ul == pytest.approx(after.platelets_per_ul, rel=1e-6)


def test_many_bloods_go_through_the_lattice_within_its_tolerance() -> None:
    # Stated tolerance of the lattice (here hematocrit nodes 0.02 apart): 0.03 of
    # recovery near a kink, about 0.001 on average.
    rng = random.Random(11)
    products = [
        product(PROGRAMS[i % 2], rng.choice((8.0, 10.0)), rng.uniform(0.3, 0.52), 3.0 if i % 2 == 0 else 1.2)
        for i in range(44)
    ]
    observations = with_counts(products, TRUE, noise=0.05, seed=4)
    cal = calibrate(observations, base=BASE)
    assert cal.g_scale == pytest.approx(1.35, abs=0.15)
    before = predicted_recoveries(observations, params=BASE)
    after = predicted_recoveries(observations, params=cal.parameters)
    misses = [abs(f.before.recovery - b) for f, b in zip(cal.observations, before, strict=True)]
    misses += [abs(f.after.recovery - a) for f, a in zip(cal.observations, after, strict=True)]
    assert max(misses) < 0.03
    assert sum(misses) / len(misses) < 0.005
    assert max(misses) > 1e-9  # the lattice was used


def test_too_few_products_are_not_calibrated() -> None:
    products = [product(PROGRAMS[i % 3], 9.0, 0.4, 3.0 if i % 3 == 0 else 1.2) for i in range(MIN_OBSERVATIONS - 1)]
    observations = with_counts(products, TRUE, noise=0.0, seed=2)
    cal = calibrate(observations, base=BASE)
    assert cal.status == "too_few" and not cal.calibrated
    assert cal.parameters == BASE and cal.g_scale == 1.0 and cal.harvest_yield == 1.0
    assert "at least 5" in cal.notes[0]
    assert cal.rmse_recovery_after == cal.rmse_recovery_before > 0
    for f in cal.observations:
        o = f.observation
        assert f.after == f.before
        # few distinct values: every product is simulated exactly
        assert f.before.recovery == pytest.approx(
            predict(DEFAULT_TUBE, o.blood(), o.steps()).platelet_recovery, abs=1e-6
        )
    assert calibrate([]).status == "too_few"


def test_one_program_for_one_kind_of_blood_cannot_pin_down_the_centrifuge() -> None:
    # Every product responds alike to g·min: only the level is known, so k stays near 1 and y moves.
    products = [product(PROGRAMS[1], 9.0, None, 1.0) for _ in range(8)]
    observations = with_counts(products, TRUE, noise=0.03, seed=3)
    cal = calibrate(observations, base=BASE)
    assert cal.calibrated and not cal.g_scale_identified
    assert any("do not pin down" in note for note in cal.notes)
    assert any(f"{DEFAULT_HEMATOCRIT}" in note for note in cal.notes)
    assert all(f.hematocrit_assumed and f.hematocrit == DEFAULT_HEMATOCRIT for f in cal.observations)
    assert cal.rms_log_error_after < cal.rms_log_error_before


def test_a_product_far_off_is_pointed_out(clinic: tuple[list[ClinicObservation], Calibration]) -> None:
    observations, _ = clinic
    wrong = [
        *observations[:10],
        replace(observations[10], prp_platelets_per_ul=observations[10].prp_platelets_per_ul * 4),
    ]
    cal = calibrate(wrong, base=BASE)
    assert any("1 of 11 products" in note for note in cal.notes)


def test_products_the_model_cannot_simulate_are_left_out_and_named(
    clinic: tuple[list[ClinicObservation], Calibration],
) -> None:
    observations, _ = clinic
    short_rotor = replace(observations[0], spins=(Spin(300, 5, rotor_radius_cm=3.0),), label="PRP-A")
    too_much = replace(observations[1], volume_ml=16.0, anticoagulant_ml=1.8)
    cal = calibrate([short_rotor, *observations[2:8], too_much], base=BASE)
    assert cal.n_observations == 6 and cal.calibrated
    assert [f.index for f in cal.observations] == [1, 2, 3, 4, 5, 6]
    assert "2 products left out" in cal.notes[0] and "PRP-A (a rotor radius of 3 cm" in cal.notes[0]
    assert "#8 (17.8 mL does not fit" in cal.notes[0]


def test_observations_say_what_is_simulated() -> None:
    o = product(PROGRAMS[0], 8.0, 0.4, 3.0, count=700_000)
    assert o.measured_recovery == pytest.approx(700_000 * 3.0 / (240_000 * 8.0))
    assert o.steps()[0].harvest == UpperVolume(3.0)
    assert o.blood().tube_volume_ml == pytest.approx(8.0 + 8.0 / 9)


@pytest.mark.parametrize(
    "changes",
    [
        {"hematocrit": 42.0},
        {"volume_ml": 0.0},
        {"prp_platelets_per_ul": 0.0},
        {"prp_ml": 20.0},
        {"spins": ()},
        {"spins": (Spin(100, 5),) * 3},
        {"anticoagulant_ml": -1.0},
    ],
)
def test_impossible_observations_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        replace(product(PROGRAMS[0], 8.0, 0.4, 3.0), **changes)  # type: ignore[arg-type]
