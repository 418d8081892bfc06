"""The stored fit: it is what the model gives today, what the docs show, and a minimum of the fit's objective."""

from __future__ import annotations

from pathlib import Path

import pytest

from prpclinic.planner import constants
from prpclinic.planner.fit import (
    chi_square,
    plausibility_bands,
    predicted,
    render_bands,
    render_parameters,
    render_table,
    simulate,
)
from prpclinic.planner.fitted import FIT
from prpclinic.planner.model import default_parameters
from prpclinic.planner.observations import CONDITIONS, OBSERVATIONS, PLAUSIBILITY
from prpclinic.planner.parameters import FITTED_NAMES
from prpclinic.planner.trends import render_trends, trend_checks

DOCS = Path(__file__).resolve().parent.parent / "docs" / "planner.md"


def test_the_fit_used_every_published_row_with_numbers_and_their_sources() -> None:
    assert FIT.data == tuple(o.id for o in OBSERVATIONS)
    assert [row.id for row in FIT.rows] == list(FIT.data)
    for obs in OBSERVATIONS:
        assert obs.source and obs.reported and obs.row in CONDITIONS
        assert obs.sigma >= obs.spread > 0
    for condition in CONDITIONS.values():
        assert condition.assumptions
    assert {p.id for p in PLAUSIBILITY} == {"T6", "T7", "T8"}


def test_every_physical_constant_names_its_source() -> None:
    for quantity in constants.ALL_QUANTITIES:
        assert quantity.source
        assert quantity.certainty in ("V", "S", "U")
        assert quantity.low <= quantity.value <= quantity.high


def test_the_model_uses_the_stored_fit_by_default() -> None:
    assert default_parameters() == FIT.parameters


def test_the_stored_fit_reproduces() -> None:
    values = predicted(FIT.parameters, OBSERVATIONS, FIT.numerics)
    for row in FIT.rows:
        assert values[row.id] == pytest.approx(row.fitted, abs=1e-3), row.id


def test_the_stored_leave_one_out_predictions_reproduce() -> None:
    by_id = {o.id: o for o in OBSERVATIONS}
    for row in FIT.rows:
        params = FIT.parameters.with_fitted(row.loo_parameters)
        value = predicted(params, [by_id[row.id]], FIT.numerics)[row.id]
        assert value == pytest.approx(row.loo, abs=1e-3), row.id


def test_the_stored_plausibility_bands_reproduce() -> None:
    for stored, now in zip(FIT.bands, plausibility_bands(FIT.parameters, FIT.numerics), strict=True):
        assert stored.id == now.id
        assert now.low == pytest.approx(stored.low, abs=1e-3)
        assert now.high == pytest.approx(stored.high, abs=1e-3)


def test_the_stored_fit_is_a_minimum_of_its_objective() -> None:
    best = chi_square(FIT.parameters, OBSERVATIONS, FIT.numerics)
    assert best == pytest.approx(FIT.chi_square, abs=0.01)
    for i, name in enumerate(FITTED_NAMES):
        for factor in (0.9, 1.1):
            values = list(FIT.parameters.fitted_vector())
            values[i] *= factor
            moved = chi_square(FIT.parameters.with_fitted(values), OBSERVATIONS, FIT.numerics)
            assert moved >= best - 0.05, (name, factor)


def test_the_docs_show_the_stored_fit() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert render_table(FIT) in text
    assert render_bands(FIT) in text
    assert render_parameters(FIT) in text
    assert render_trends(trend_checks(FIT.parameters, FIT.numerics)) in text
    assert FIT.date in text


def test_more_blood_in_the_same_tube_lowers_recovery() -> None:
    # Perez 2014 (T2): 8.5 mL gave a lower recovery than 3.5 mL with the same program.
    small = simulate(CONDITIONS["T1"], FIT.parameters, FIT.numerics)
    large = simulate(CONDITIONS["T2"], FIT.parameters, FIT.numerics)
    assert large.platelet_recovery < small.platelet_recovery
