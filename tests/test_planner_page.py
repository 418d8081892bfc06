"""The planner page: a prediction with a drawing of the tube, and a program recommended for a target."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from prpclinic.prp.models import SpinProgram
from tests.conftest import Chain, Personas, clinic_request
from tests.test_prp_chain import do_draw

MANUAL = {
    "tube": "0",
    "volume_ml": "8",
    "hematocrit_pct": "42",
    "platelets_k_per_ul": "250",
    "g1": "200",
    "minutes1": "10",
    "harvest1": "buffy2",
    "g2": "600",
    "minutes2": "10",
    "harvest2": "lower_third",
}


def test_manual_settings_give_a_prediction_and_a_drawing_of_each_spin(personas: Personas, signed_in: Any) -> None:
    response = signed_in("nurse").post("/planner/", MANUAL)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="prediction"' in page
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg"') == 2
    assert "draw off above" in page and "keep below" in page
    assert "take the plasma down to 2 mm above the buffy coat" in page and "keep the lower 0.333 of the volume" in page
    assert "Platelet recovery" in page


def test_a_target_ranks_the_clinics_programs_and_recommends_one(
    personas: Personas, chain: Chain, signed_in: Any
) -> None:
    SpinProgram.objects.create(
        clinic=personas.clinic_a, centrifuge=chain.centrifuge, name="Soft single", spin1_rcf=150, spin1_rpm=1248,
        spin1_minutes=10,
    )  # fmt: skip
    data = MANUAL | {"volume_ml": "4", "target_kind": "cf", "target_value": "4"}  # fits the 8.6 cm rotor
    response = signed_in("nurse").post("/planner/", data)
    page = response.content.decode()
    assert 'data-testid="recommendation"' in page and "Recommended:" in page
    assert "Double spin" in page and "Soft single" in page
    assert 'data-testid="new-settings"' in page


def test_counts_come_from_the_patients_last_draw(personas: Personas, chain: Chain, signed_in: Any) -> None:
    do_draw(clinic_request(personas.nurse, personas.clinic_a), chain, platelets_k_per_ul=Decimal("310"))
    page = signed_in("nurse").get(f"/planner/?patient={chain.patient.pk}").content.decode()
    assert "from the patient&#x27;s last draw" in page or "from the patient's last draw" in page
    assert 'value="310.0"' in page and 'value="9.0"' in page


def test_missing_settings_are_refused_next_to_the_field(personas: Personas, signed_in: Any) -> None:
    data = MANUAL | {"g1": "", "minutes1": ""}
    response = signed_in("nurse").post("/planner/", data)
    assert response.status_code == 400
    assert "Choose a program, or give spin 1" in response.content.decode()


def test_blood_that_does_not_fit_the_tube_is_refused(personas: Personas, signed_in: Any) -> None:
    response = signed_in("nurse").post("/planner/", MANUAL | {"volume_ml": "59"})
    assert response.status_code == 400
    assert "does not fit" in response.content.decode()
