"""Calibrating a centrifuge to the clinic's own products, and the planner using it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from prpclinic.planning.models import CentrifugeCalibration
from tests.conftest import Chain, Personas, clinic_request
from tests.test_prp_chain import prepared_product


def _products(personas: Personas, chain: Chain, counts: list[int]) -> None:
    nurse = clinic_request(personas.nurse, personas.clinic_a)
    for count in counts:
        prepared_product(nurse, chain, volume_ml=Decimal("3"), platelets_k_per_ul=Decimal(count))


def test_a_physician_calibrates_a_centrifuge_and_sees_predicted_against_measured(
    personas: Personas, chain: Chain, signed_in: Any
) -> None:
    _products(personas, chain, [900, 950, 1000, 1050, 1100, 980])
    client = signed_in("physician")
    response = client.post(f"/planner/calibration/{chain.centrifuge.pk}/")
    assert response.status_code == 302
    calibration = CentrifugeCalibration.objects.get()
    assert calibration.status == "calibrated" and calibration.n_observations == 6
    assert calibration.rmse_recovery_after <= calibration.rmse_recovery_before
    page = client.get(f"/planner/calibration/{chain.centrifuge.pk}/").content.decode()
    assert 'data-testid="calibration"' in page and page.count("<td>PRP-") == 6


def test_too_few_products_leave_the_published_fit_and_say_so(personas: Personas, chain: Chain, signed_in: Any) -> None:
    _products(personas, chain, [1000, 1100])
    client = signed_in("physician")
    client.post(f"/planner/calibration/{chain.centrifuge.pk}/")
    assert CentrifugeCalibration.objects.get().status == "too_few"
    page = client.post(
        "/planner/",
        {"program": chain.program.pk, "tube": "0", "volume_ml": "4", "hematocrit_pct": "42",
         "platelets_k_per_ul": "250", "harvest1": "buffy2", "harvest2": "lower_third"},
    ).content.decode()  # fmt: skip
    assert "the published fit (no calibration of this centrifuge yet)" in page


def test_the_planner_uses_the_calibrated_model_and_names_it(personas: Personas, chain: Chain, signed_in: Any) -> None:
    _products(personas, chain, [900, 950, 1000, 1050, 1100, 980])
    client = signed_in("physician")
    client.post(f"/planner/calibration/{chain.centrifuge.pk}/")
    page = client.post(
        "/planner/",
        {"program": chain.program.pk, "tube": "0", "volume_ml": "4", "hematocrit_pct": "42",
         "platelets_k_per_ul": "250", "harvest1": "buffy2", "harvest2": "lower_third"},
    ).content.decode()  # fmt: skip
    assert "Model calibrated to Room 1&#x27;s own 6 products" in page


def test_a_nurse_may_read_but_not_run_a_calibration(personas: Personas, chain: Chain, signed_in: Any) -> None:
    client = signed_in("nurse")
    assert client.get(f"/planner/calibration/{chain.centrifuge.pk}/").status_code == 200
    assert client.post(f"/planner/calibration/{chain.centrifuge.pk}/").status_code == 403
