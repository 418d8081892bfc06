"""The clinical FHIR resources through the server: read, search, _include, paging, another clinic's rows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.conftest import Personas
from tests.fhir_tokens import bearer, issue_token
from tests.test_fhir_clinical import CLINICAL_TYPES, add_second_chain, make_record

BASE = "/fhir/R4"


@pytest.fixture
def record(personas: Personas, chain: Any) -> dict[str, Any]:
    return make_record(personas, chain)


@pytest.fixture
def token(personas: Personas) -> dict[str, str]:
    return bearer(issue_token(personas.clinic_a, by=personas.admin))


def get(path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    response = Client().get(f"{BASE}/{path}", headers=headers)
    return response.status_code, json.loads(response.content)


def test_every_clinical_type_is_searched_and_read_through_the_server(
    personas: Personas, record: dict[str, Any], token: dict[str, str]
) -> None:
    for type_name in CLINICAL_TYPES:
        status, bundle = get(type_name, token)
        assert status == 200 and bundle["type"] == "searchset" and bundle["entry"], type_name
        resource = bundle["entry"][0]["resource"]
        status, read = get(f"{type_name}/{resource['id']}", token)
        assert status == 200 and read == resource, type_name


def test_another_clinics_clinical_resources_answer_404(
    personas: Personas, record: dict[str, Any], token: dict[str, str]
) -> None:
    other = bearer(issue_token(personas.clinic_b, by=personas.other_physician))
    for type_name in CLINICAL_TYPES:
        _, bundle = get(type_name, token)
        resource_id = bundle["entry"][0]["resource"]["id"]
        assert get(f"{type_name}/{resource_id}", other)[0] == 404, type_name
        assert get(type_name, other)[1].get("entry", []) == [], type_name


def test_procedures_are_found_by_patient_with_the_patient_included(
    personas: Personas, record: dict[str, Any], token: dict[str, str]
) -> None:
    patient_id = record["product"].patient_id
    status, bundle = get(f"Procedure?patient=Patient/{patient_id}&_include=Procedure:patient", token)
    assert status == 200
    modes = sorted((e["search"]["mode"], e["resource"]["resourceType"]) for e in bundle["entry"])
    # Two visits and the product's two spins (Procedure/spin-<id>), the patient once.
    assert modes == [("include", "Patient")] + [("match", "Procedure")] * 4
    spins = [e["resource"]["id"] for e in bundle["entry"] if e["resource"]["id"].startswith("spin-")]
    assert sorted(spins) == sorted(f"spin-{spin.pk}" for spin in record["product"].spins.all())


def test_mesotherapy_is_found_by_date_with_the_patient_included(
    personas: Personas, record: dict[str, Any], token: dict[str, str]
) -> None:
    day = record["meso_entry"].entered_at.date().isoformat()
    status, bundle = get(f"MedicationAdministration?date={day}&_include=MedicationAdministration:patient", token)
    assert status == 200
    modes = sorted((e["search"]["mode"], e["resource"]["resourceType"]) for e in bundle["entry"])
    assert modes == [("include", "Patient"), ("match", "MedicationAdministration")]
    assert get("MedicationAdministration?date=lt2000-01-01", token)[1].get("entry", []) == []


def test_a_product_is_found_by_its_printed_code_and_scores_by_scale(
    personas: Personas, record: dict[str, Any], token: dict[str, str]
) -> None:
    product = record["product"]
    _, bundle = get(f"BiologicallyDerivedProduct?identifier={product.barcode}", token)
    assert [e["resource"]["id"] for e in bundle["entry"]] == [str(product.pk)]
    _, bundle = get(f"Specimen?identifier=urn:prpclinic:product|{product.barcode}", token)
    assert [e["resource"]["id"] for e in bundle["entry"]] == [str(product.draw_id)]
    _, bundle = get("Observation?code=scale-hair_density,scale-norwood", token)
    codes = sorted(e["resource"]["code"]["coding"][0]["code"] for e in bundle["entry"])
    assert codes == ["scale-hair_density", "scale-norwood"]


def test_observations_page_with_next_links(personas: Personas, record: dict[str, Any], token: dict[str, str]) -> None:
    seen: list[str] = []
    status, bundle = get("Observation?_count=1", token)
    while True:
        assert status == 200
        seen += [e["resource"]["id"] for e in bundle.get("entry", [])]
        following = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not following:
            break
        status, bundle = get(following[0].split(f"{BASE}/", 1)[1], token)
    # Three scores, then the draw's three whole-blood values and the PRP's three counts, each once.
    product = record["product"]
    lab = {f"{prefix}-{product.draw_id}" for prefix in ("plt", "hct", "wbc")}
    lab |= {f"{prefix}-{product.pk}" for prefix in ("prp-plt", "prp-wbc", "prp-rbc")}
    assert len(seen) == len(set(seen)) == 9
    assert set(seen[3:]) == lab


@pytest.mark.parametrize("type_name", CLINICAL_TYPES)
def test_a_search_page_runs_the_same_queries_for_one_row_or_more(
    personas: Personas, chain: Any, record: dict[str, Any], token: dict[str, str], type_name: str
) -> None:
    def cost() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            status, bundle = get(f"{type_name}?_count=50&_include={type_name}:patient"
                                 if type_name != "Device" else f"{type_name}?_count=50", token)  # fmt: skip
        assert status == 200
        return len(queries), len(bundle.get("entry", []))

    cost()  # the first use writes the token's last_used_at (at most once a minute): warm it up
    queries_before, entries_before = cost()
    add_second_chain(personas, chain, record)
    queries_after, entries_after = cost()
    assert entries_after > entries_before
    assert queries_after == queries_before


def test_the_capability_statement_lists_the_clinical_types_and_their_searches(personas: Personas) -> None:
    response = Client().get(f"{BASE}/metadata")
    assert response.status_code == 200
    resources = {r["type"]: r for r in json.loads(response.content)["rest"][0]["resource"]}
    for type_name in CLINICAL_TYPES:
        params = {p["name"] for p in resources[type_name].get("searchParam", [])}
        assert "_id" in params, type_name
        if type_name != "Device":
            assert {"patient", "date"} <= params, type_name
    assert "identifier" in {p["name"] for p in resources["BiologicallyDerivedProduct"]["searchParam"]}


def test_a_procedure_breaking_the_autologous_rule_answers_an_operation_outcome_not_a_crash(
    personas: Personas, chain: Any, token: dict[str, str]
) -> None:
    from prpclinic.visits.models import Visit
    from tests.conftest import make_patient
    from tests.test_fhir_clinical import _applied

    other = make_patient(personas.clinic_a, given_name="Otto", family_name="Other")
    visit = Visit.objects.create(
        clinic=personas.clinic_a, patient=other, treatment="prp_scalp", clinician=personas.physician
    )
    _applied(personas, chain, donor=chain.patient, visit=visit)  # the chain's patient's blood, given to Otto

    status, outcome = get(f"Procedure/{visit.pk}", token)

    assert status == 500 and outcome["resourceType"] == "OperationOutcome"
    assert "autologous rule" in outcome["issue"][0]["diagnostics"]
