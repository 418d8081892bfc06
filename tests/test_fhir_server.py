"""The FHIR server framework as a client meets it: metadata, authentication and scopes, errors, search, paging,
_include, and a fixed number of queries per search page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.operationoutcome import OperationOutcome

from prpclinic.audit.models import AuditEvent
from prpclinic.fhir import registry
from prpclinic.fhir.codesystems import LOCAL_SYSTEM
from tests.conftest import Personas
from tests.fhir_tokens import bearer, issue_token
from tests.matrix_fhir_core import add_appointments, add_patient


@pytest.fixture
def token_a(personas: Personas) -> str:
    return issue_token(personas.clinic_a, by=personas.admin)


def get(url: str, token: str | None = None, **params: Any) -> Any:
    return Client().get(url, params, headers=bearer(token) if token else {})


def outcome(response: Any, status: int) -> str:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/fhir+json"
    OperationOutcome.model_validate(response.json())
    return response.json()["issue"][0]["diagnostics"]


def walk(first: Any, token: str) -> tuple[list[str], list[int]]:
    """Follow next links from a first page; the ids of every match and each page's size."""
    ids: list[str] = []
    sizes: list[int] = []
    response = first
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        Bundle.model_validate(body)
        matches = [e["resource"]["id"] for e in body.get("entry", []) if e["search"]["mode"] == "match"]
        ids += matches
        sizes.append(len(matches))
        following = [link["url"] for link in body["link"] if link["relation"] == "next"]
        if not following:
            return ids, sizes
        parts = urlsplit(following[0])
        response = Client().get(f"{parts.path}?{parts.query}", headers=bearer(token))


def test_metadata_is_public_r4_json_and_lists_every_registered_type_with_its_search_parameters(db: Any) -> None:
    response = Client().get("/fhir/R4/metadata")
    assert response.status_code == 200 and response["Content-Type"] == "application/fhir+json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    CapabilityStatement.model_validate(body)
    assert body["fhirVersion"] == "4.0.1" and body["format"] == ["json"] and body["kind"] == "instance"
    listed = {r["type"]: r for r in body["rest"][0]["resource"]}
    for definition in registry.all_types():
        entry = listed[definition.type_name]
        assert {i["code"] for i in entry["interaction"]} == {"read", "search-type"}
        names = {p["name"] for p in entry["searchParam"]}
        assert set(definition.all_search_params()) <= names
        assert len(names) == len(entry["searchParam"]), f"{definition.type_name} lists a parameter twice"
    assert {"Patient", "Appointment", "Consent", "QuestionnaireResponse", "CarePlan", "Provenance"} <= set(listed)
    assert "Appointment:patient" in listed["Appointment"]["searchInclude"]
    assert {"_id", "patient", "subject", "date"} <= {p["name"] for p in listed["Appointment"]["searchParam"]}
    # Bulk Data: the server-level $export and Patient/$export are advertised where a client looks for them.
    assert body["rest"][0]["operation"][0]["definition"].endswith("/OperationDefinition/export")
    assert listed["Patient"]["operation"][0]["definition"].endswith("/OperationDefinition/patient-export")
    assert "patient context" in body["rest"][0]["security"]["description"]


def test_the_local_codesystem_is_served_and_lists_the_treatments(personas: Personas, token_a: str) -> None:
    response = get("/fhir/R4/CodeSystem/prpclinic", token_a)
    body = response.json()
    CodeSystem.model_validate(body)
    assert body["url"] == LOCAL_SYSTEM and body["count"] == len(body["concept"])
    assert {"treatment-prp_scalp", "treatment-mesotherapy", "treatment-microneedling_prp"} <= {
        c["code"] for c in body["concept"]
    }


def test_without_a_valid_token_every_resource_answers_401_with_an_operation_outcome(personas: Personas) -> None:
    patient = add_patient(personas)
    for url in (f"/fhir/R4/Patient/{patient.pk}", "/fhir/R4/Patient", "/fhir/R4/CodeSystem/prpclinic"):
        assert "bearer token is required" in outcome(get(url), 401)
        assert get(url)["WWW-Authenticate"].startswith("Bearer")
        outcome(get(url, "not-a-token"), 401)


def test_a_signed_in_staff_session_is_not_a_token(personas: Personas, signed_in: Any) -> None:
    patient = add_patient(personas)
    assert signed_in("admin").get(f"/fhir/R4/Patient/{patient.pk}").status_code == 401


def test_a_patient_scope_token_reads_patient_compartment_types_but_not_provenance(personas: Personas) -> None:
    patient = add_patient(personas)
    raw = issue_token(personas.clinic_a, scopes=("patient/*.read",), by=personas.admin)
    assert get(f"/fhir/R4/Patient/{patient.pk}", raw).status_code == 200
    assert get("/fhir/R4/Appointment", raw).status_code == 200
    assert "do not allow reading Provenance" in outcome(get("/fhir/R4/Provenance", raw), 403)


def test_other_clinics_rows_unknown_ids_and_unknown_types_answer_404(personas: Personas, token_a: str) -> None:
    other = add_patient(personas)
    other.clinic = personas.clinic_b  # moved by the ORM: a row of clinic B
    other.save()
    outcome(get(f"/fhir/R4/Patient/{other.pk}", token_a), 404)
    outcome(get("/fhir/R4/Patient/999999", token_a), 404)
    outcome(get("/fhir/R4/Patient/abc", token_a), 404)
    outcome(get("/fhir/R4/Patient/99999999999999999999999", token_a), 404)
    huge = "99999999999999999999999"
    assert get("/fhir/R4/Appointment", token_a, patient=huge, _id=huge).json()["total"] == 0
    assert "not a resource type" in outcome(get("/fhir/R4/Practitioner/1", token_a), 404)
    assert get("/fhir/R4/Patient", token_a).json()["total"] == 0


def test_writes_are_refused_with_405(personas: Personas, token_a: str) -> None:
    response = Client().post("/fhir/R4/Patient", {}, headers=bearer(token_a))
    outcome(response, 405)


def test_bad_search_parameters_answer_400_naming_the_problem(personas: Personas, token_a: str) -> None:
    cases = {
        "name": "Unknown search parameter name",
        "date": "must be a date",
        "patient": "must reference a Patient",
        "_include": "Unsupported _include",
        "_cursor": "paging cursor is not valid",
        "_count": "_count must be a whole number",
    }
    values = {"name": "x", "date": "yesterday", "patient": "Group/1", "_include": "Appointment:practitioner",
              "_cursor": "forged", "_count": "many"}  # fmt: skip
    for name, message in cases.items():
        assert message in outcome(get("/fhir/R4/Appointment", token_a, **{name: values[name]}), 400), name
    for wrong in ("2026-02-30", "9999-12-31", "ge2026-03-01T10:00:00", "2026-03"):
        outcome(get("/fhir/R4/Appointment", token_a, date=wrong), 400)


def test_search_by_id_patient_subject_and_identifier(personas: Personas, token_a: str) -> None:
    anna = add_patient(personas)
    bob = add_patient(personas, given_name="Bob", family_name="Huber", sex="male")
    add_appointments(personas, anna, 2)
    add_appointments(personas, bob, 1)

    def ids(url: str, **params: Any) -> list[str]:
        response = get(url, token_a, **params)
        assert response.status_code == 200, response.content
        return sorted(e["resource"]["id"] for e in response.json().get("entry", []))

    assert ids("/fhir/R4/Patient", _id=f"{bob.pk}") == [str(bob.pk)]
    assert ids("/fhir/R4/Patient", _id=f"{bob.pk},{anna.pk}") == sorted([str(anna.pk), str(bob.pk)])
    assert ids("/fhir/R4/Patient", identifier=bob.mrn) == [str(bob.pk)]
    assert ids("/fhir/R4/Patient", identifier=f"urn:prpclinic:clinic:clinic-a:mrn|{bob.mrn}") == [str(bob.pk)]
    assert ids("/fhir/R4/Patient", identifier=f"urn:other:mrn|{bob.mrn}") == []
    assert len(ids("/fhir/R4/Appointment", patient=f"Patient/{anna.pk}")) == 2
    assert len(ids("/fhir/R4/Appointment", subject=str(bob.pk))) == 1
    assert ids("/fhir/R4/Patient", gender="male") == [str(bob.pk)]


def test_date_search_takes_each_prefix_on_the_natural_date(personas: Personas, token_a: str) -> None:
    # Appointments start on 2 March 2026 at 09:00 UTC, then one a day later each.
    add_appointments(personas, add_patient(personas), 4)

    def count(*dates: str) -> int:
        response = Client().get("/fhir/R4/Appointment?" + "&".join(f"date={d}" for d in dates), headers=bearer(token_a))
        assert response.status_code == 200, response.content
        return response.json()["total"]

    assert count("2026-03-03") == 1
    assert count("eq2026-03-03") == 1
    assert count("ge2026-03-03") == 3
    assert count("gt2026-03-03") == 2
    assert count("le2026-03-03") == 2
    assert count("lt2026-03-03") == 1
    assert count("ge2026-03-03", "le2026-03-04") == 2
    assert count("ge2026-03-03T09:00:00Z") == 3
    assert count("gt2026-03-03T09:00:00Z") == 2
    assert count("2026-03-03T09:00:00+00:00") == 1


def test_next_links_walk_every_result_exactly_once(personas: Personas, token_a: str) -> None:
    made = add_appointments(personas, add_patient(personas), 7)
    first = get("/fhir/R4/Appointment", token_a, _count=3)
    assert first.json()["total"] == 7
    ids, sizes = walk(first, token_a)
    assert sorted(ids) == sorted(str(a.pk) for a in made) and len(ids) == len(set(ids))
    assert sizes == [3, 3, 1]


def test_count_defaults_to_20_and_is_capped_at_100(personas: Personas, token_a: str) -> None:
    add_appointments(personas, add_patient(personas), 21)
    assert len(get("/fhir/R4/Appointment", token_a).json()["entry"]) == 20
    assert len(get("/fhir/R4/Appointment", token_a, _count=1000).json()["entry"]) == 21


def test_include_adds_each_patient_once_in_include_mode(personas: Personas, token_a: str) -> None:
    patient = add_patient(personas)
    add_appointments(personas, patient, 3)
    body = get("/fhir/R4/Appointment", token_a, _include="Appointment:patient").json()
    modes = [(e["search"]["mode"], e["resource"]["resourceType"]) for e in body["entry"]]
    assert modes == [("match", "Appointment")] * 3 + [("include", "Patient")]
    assert body["entry"][-1]["fullUrl"] == f"http://testserver/fhir/R4/Patient/{patient.pk}"
    assert body["total"] == 3


def _queries(token: str, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = Client().get(url, headers=bearer(token))
    assert response.status_code == 200, response.content
    return len(captured.captured_queries)


def test_a_search_page_costs_the_same_queries_for_2_and_20_results(personas: Personas, token_a: str) -> None:
    from tests.matrix_fhir_core import admin_records

    admin_records(personas)  # 2 patients (one merged), 2 appointments, 2 consents, a screening, a plan
    types = ("Patient", "Consent", "QuestionnaireResponse", "CarePlan", "Provenance")
    urls = [f"/fhir/R4/{t}?_count=100" for t in types]
    urls.append("/fhir/R4/Appointment?_count=100&_include=Appointment:patient")
    _queries(token_a, urls[0])  # the token's first use also stamps last_used_at (once a minute): not a page cost
    few = {url: _queries(token_a, url) for url in urls}
    for _ in range(9):
        admin_records(personas)
    assert get("/fhir/R4/Consent", token_a, _count=100).json()["total"] == 20
    assert {url: _queries(token_a, url) for url in urls} == few


def test_each_use_of_a_token_is_audited_without_patient_data(personas: Personas, token_a: str) -> None:
    patient = add_patient(personas)
    get("/fhir/R4/Patient", token_a, identifier=patient.mrn)
    event = AuditEvent.objects.filter(action="fhir.access").latest("pk")
    assert event.changes["resource_type"] == "Patient" and patient.mrn not in str(event.changes)
