"""SMART patient context (a token limited to one patient) and patient-level bulk export (``Patient/$export``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from fhir.resources.R4B.patient import Patient as FhirPatient

from prpclinic.audit.models import AuditEvent
from prpclinic.fhir import registry
from prpclinic.fhir.auth import create_token
from prpclinic.fhir.models import ExportJob, ExportLevel, FhirToken
from prpclinic.patients.models import Patient
from prpclinic.patients.services import patient_merge
from prpclinic.visits.models import Visit
from tests.conftest import Personas, clinic_request, make_patient
from tests.fhir_tokens import bearer, issue_token

BASE = "/fhir/R4"
TOKENS = "/interop/tokens/"
PATIENT_EXPORT = f"{BASE}/Patient/$export"


def _visit(personas: Personas, patient: Patient) -> Visit:
    """A visit, served as a Procedure of its patient."""
    return Visit.objects.create(
        clinic=patient.clinic, patient=patient, treatment="prp_scalp", clinician=personas.physician
    )


@pytest.fixture
def two_patients(personas: Personas) -> tuple[Patient, Patient]:
    """Anna (two visits) and Otto (one visit) of clinic A."""
    anna = make_patient(personas.clinic_a, given_name="Anna", family_name="Berger")
    otto = make_patient(personas.clinic_a, given_name="Otto", family_name="Other")
    _visit(personas, anna)
    _visit(personas, anna)
    _visit(personas, otto)
    return anna, otto


def _patient_token(personas: Personas, patient: Patient) -> str:
    _token, raw = create_token(
        clinic=personas.clinic_a,
        label="Anna's app",
        scopes=["patient/*.read"],
        created_by=personas.admin,
        patient=patient,
    )
    return raw


def _get(path: str, raw: str) -> tuple[int, dict[str, Any]]:
    response = Client().get(f"{BASE}/{path}", headers=bearer(raw))
    return response.status_code, json.loads(response.content)


def _ids(bundle: dict[str, Any]) -> list[str]:
    return sorted(entry["resource"]["id"] for entry in bundle.get("entry", []))


# --- issuing a patient-context token -----------------------------------------------------------------------------


def test_an_admin_limits_a_token_to_one_patient_by_mrn_and_the_page_confirms_initials_and_mrn(
    personas: Personas, signed_in: Any, two_patients: tuple[Patient, Patient]
) -> None:
    anna, _otto = two_patients
    admin = signed_in("admin")
    response = admin.post(TOKENS, {"label": "Anna's app", "scopes": ["patient/*.read"], "patient_mrn": anna.mrn})
    assert response.status_code == 201
    page = response.content.decode()
    assert f"A. B. (MRN {anna.mrn})" in page
    assert "Berger" not in page  # initials only, never the name
    token = FhirToken.objects.get()
    assert token.patient == anna and token.scopes == "patient/*.read"
    assert AuditEvent.objects.get(action="fhir.token.issue").changes["patient"] == anna.pk
    listing = admin.get(TOKENS).content.decode()
    assert f"one patient: {anna.mrn}" in listing


@pytest.mark.parametrize(
    ("mrn", "scopes", "message"),
    [
        ("A999999", ["patient/*.read"], "No patient of this clinic has this MRN."),
        ("B000001", ["patient/*.read"], "No patient of this clinic has this MRN."),  # clinic B's patient
        ("A000001", ["system/*.read"], "can only have the scope patient/*.read"),
        ("A000001", ["patient/*.read", "system/*.read"], "can only have the scope patient/*.read"),
    ],
)
def test_a_patient_token_the_clinic_cannot_issue_is_refused_with_a_message_and_nothing_is_issued(
    personas: Personas, signed_in: Any, mrn: str, scopes: list[str], message: str
) -> None:
    make_patient(personas.clinic_a)  # A000001
    make_patient(personas.clinic_b)  # B000001
    response = signed_in("admin").post(TOKENS, {"label": "App", "scopes": scopes, "patient_mrn": mrn})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not FhirToken.objects.exists()


def test_a_merged_away_record_cannot_be_given_a_token(personas: Personas) -> None:
    survivor = make_patient(personas.clinic_a)
    duplicate = make_patient(personas.clinic_a, given_name="Ana")
    patient_merge(
        request=clinic_request(personas.admin, personas.clinic_a),
        duplicate_id=duplicate.pk,
        survivor_id=survivor.pk,
        reason="Registered twice",
    )
    duplicate.refresh_from_db()
    with pytest.raises(ValidationError, match="merged into another one"):
        _patient_token(personas, duplicate)
    assert not FhirToken.objects.exists()


def test_the_token_list_runs_the_same_queries_for_one_patient_token_or_three(
    personas: Personas, signed_in: Any
) -> None:
    admin = signed_in("admin")

    def cost() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin.get(TOKENS).status_code == 200
        return len(queries)

    _patient_token(personas, make_patient(personas.clinic_a))
    one = cost()
    for _ in range(2):
        _patient_token(personas, make_patient(personas.clinic_a))
    assert cost() == one


# --- reading with a patient-context token ------------------------------------------------------------------------


def test_a_patient_token_reads_its_own_patient_and_no_other(
    personas: Personas, two_patients: tuple[Patient, Patient]
) -> None:
    anna, otto = two_patients
    raw = _patient_token(personas, anna)
    status, resource = _get(f"Patient/{anna.pk}", raw)
    assert status == 200 and resource["id"] == str(anna.pk)
    status, outcome = _get(f"Patient/{otto.pk}", raw)
    assert status == 404 and outcome["resourceType"] == "OperationOutcome"
    assert _ids(_get("Patient", raw)[1]) == [str(anna.pk)]


def test_a_patient_tokens_searches_return_only_its_patients_rows(
    personas: Personas, two_patients: tuple[Patient, Patient]
) -> None:
    anna, otto = two_patients
    own_visits = sorted(str(pk) for pk in Visit.objects.filter(patient=anna).values_list("pk", flat=True))
    raw = _patient_token(personas, anna)
    status, bundle = _get("Procedure", raw)
    assert status == 200 and _ids(bundle) == own_visits and bundle["total"] == 2
    status, bundle = _get(f"Procedure?patient=Patient/{otto.pk}", raw)
    assert status == 200 and bundle.get("entry", []) == [] and bundle["total"] == 0
    other_visit = Visit.objects.get(patient=otto)
    assert _get(f"Procedure/{other_visit.pk}", raw)[0] == 404


def test_a_patient_token_may_not_read_outside_the_compartment_nor_start_a_system_export(
    personas: Personas, two_patients: tuple[Patient, Patient]
) -> None:
    raw = _patient_token(personas, two_patients[0])
    status, outcome = _get("Device", raw)
    assert status == 403 and outcome["issue"][0]["code"] == "forbidden"
    kickoff = Client().get(f"{BASE}/$export", headers={**bearer(raw), "Prefer": "respond-async"})
    assert kickoff.status_code == 403
    assert not ExportJob.objects.exists()


def test_once_its_patient_is_merged_away_the_token_answers_401_instead_of_following_the_merge(
    personas: Personas, two_patients: tuple[Patient, Patient]
) -> None:
    anna, otto = two_patients
    raw = _patient_token(personas, otto)
    assert _get(f"Patient/{otto.pk}", raw)[0] == 200
    patient_merge(
        request=clinic_request(personas.admin, personas.clinic_a),
        duplicate_id=otto.pk,
        survivor_id=anna.pk,
        reason="Registered twice",
    )
    assert FhirToken.objects.get().patient_id == otto.pk  # the merge did not move the token
    response = Client().get(f"{BASE}/Patient/{anna.pk}", headers=bearer(raw))
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert "patient record was merged" in response.json()["issue"][0]["diagnostics"]


# --- patient-level export ----------------------------------------------------------------------------------------


def _kickoff(raw: str, query: str = "", *, body: dict[str, Any] | None = None) -> Any:
    headers = {**bearer(raw), "Prefer": "respond-async"}
    if body is not None:
        return Client().post(PATIENT_EXPORT, json.dumps(body), content_type="application/fhir+json", headers=headers)
    return Client().get(PATIENT_EXPORT + query, headers=headers)


def _export(raw: str, query: str = "", *, body: dict[str, Any] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Kick off (the task runs at once in tests), read the manifest, and return each type's resources."""
    kickoff = _kickoff(raw, query, body=body)
    assert kickoff.status_code == 202, kickoff.content
    client = Client()
    manifest = client.get(kickoff["Content-Location"], headers=bearer(raw)).json()
    files: dict[str, list[dict[str, Any]]] = {}
    for output in manifest["output"]:
        body_bytes = b"".join(client.get(output["url"], headers=bearer(raw)).streaming_content)
        files[output["type"]] = [json.loads(line) for line in body_bytes.decode().splitlines()]
        assert len(files[output["type"]]) == output["count"]
    return files


def _patient_refs(resources: list[dict[str, Any]]) -> set[str]:
    return {resource["subject"]["reference"] for resource in resources}


def test_a_system_token_exports_the_compartment_types_of_every_patient_of_the_clinic(
    personas: Personas, two_patients: tuple[Patient, Patient]
) -> None:
    anna, otto = two_patients
    make_patient(personas.clinic_b, given_name="Bert")
    raw = issue_token(personas.clinic_a, by=personas.admin)
    files = _export(raw)
    compartment = {d.type_name for d in registry.all_types() if d.patient_path is not None}
    assert set(files) <= compartment and {"Patient", "Procedure"} <= set(files)
    assert "Device" not in files and "Provenance" not in files
    assert sorted(p["id"] for p in files["Patient"]) == sorted([str(anna.pk), str(otto.pk)])
    assert len(files["Procedure"]) == 3
    job = ExportJob.objects.get()
    assert (job.level, job.patients) == (ExportLevel.PATIENT, [])
    for patient in files["Patient"]:
        FhirPatient.model_validate(patient)


def test_a_patient_token_exports_only_its_own_patients_records_and_follows_the_job_itself(
    personas: Personas, two_patients: tuple[Patient, Patient]
) -> None:
    anna, _otto = two_patients
    raw = _patient_token(personas, anna)
    files = _export(raw, "?_type=Patient,Procedure")
    assert [p["id"] for p in files["Patient"]] == [str(anna.pk)]
    assert len(files["Procedure"]) == 2 and _patient_refs(files["Procedure"]) == {f"Patient/{anna.pk}"}
    job = ExportJob.objects.get()
    assert (job.level, job.patients, job.types) == (ExportLevel.PATIENT, [anna.pk], ["Patient", "Procedure"])


def test_the_patient_parameter_limits_a_system_export_to_those_patients_by_get_or_post(
    personas: Personas, two_patients: tuple[Patient, Patient]
) -> None:
    anna, otto = two_patients
    raw = issue_token(personas.clinic_a, by=personas.admin)
    by_get = _export(raw, f"?_type=Procedure&patient=Patient/{otto.pk}")
    assert _patient_refs(by_get["Procedure"]) == {f"Patient/{otto.pk}"} and len(by_get["Procedure"]) == 1
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "_type", "valueString": "Patient,Procedure"},
            {"name": "patient", "valueReference": {"reference": f"Patient/{anna.pk}"}},
        ],
    }
    by_post = _export(raw, body=body)
    assert [p["id"] for p in by_post["Patient"]] == [str(anna.pk)]
    assert _patient_refs(by_post["Procedure"]) == {f"Patient/{anna.pk}"} and len(by_post["Procedure"]) == 2


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("?patient=Patient/{other_clinic}", 404, "Patient/{other_clinic} is not known"),
        ("?patient=Patient/99999999", 404, "Patient/99999999 is not known"),
        ("?patient=Practitioner/1", 400, "patient must be a reference like Patient/12"),
        ("?patient=Patient/abc", 400, "patient must be a reference like Patient/12"),
        ("?_type=Device", 400, "Not in the patient compartment"),
        ("?_type=Nonsense", 400, "does not export: Nonsense"),
        ("?_since=yesterday", 400, "_since"),
    ],
)
def test_a_patient_level_kickoff_the_server_cannot_honour_is_refused_and_starts_nothing(
    personas: Personas, query: str, status: int, message: str
) -> None:
    other_clinic = make_patient(personas.clinic_b).pk
    raw = issue_token(personas.clinic_a, by=personas.admin)
    response = _kickoff(raw, query.format(other_clinic=other_clinic))
    assert response.status_code == status
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert message.format(other_clinic=other_clinic) in outcome["issue"][0]["diagnostics"]
    assert not ExportJob.objects.exists()


def test_a_post_kickoff_whose_body_is_not_parameters_is_refused(personas: Personas) -> None:
    raw = issue_token(personas.clinic_a, by=personas.admin)
    headers = {**bearer(raw), "Prefer": "respond-async"}
    response = Client().post(PATIENT_EXPORT, "not json", content_type="application/fhir+json", headers=headers)
    assert response.status_code == 400 and "Parameters" in response.json()["issue"][0]["diagnostics"]
    unknown = _kickoff(raw, body={"resourceType": "Parameters", "parameter": [{"name": "group", "valueString": "x"}]})
    assert unknown.status_code == 400 and "group" in unknown.json()["issue"][0]["diagnostics"]
    odd = _kickoff(raw, body={"resourceType": "Parameters", "parameter": [{"name": "patient", "valueReference": "x"}]})
    assert odd.status_code == 400 and "valueReference" in odd.json()["issue"][0]["diagnostics"]
    assert not ExportJob.objects.exists()


def test_a_patient_token_may_not_export_another_patient_and_a_plain_patient_scope_may_not_export_at_all(
    personas: Personas, two_patients: tuple[Patient, Patient]
) -> None:
    anna, otto = two_patients
    response = _kickoff(_patient_token(personas, anna), f"?patient=Patient/{otto.pk}")
    assert response.status_code == 404
    plain = issue_token(personas.clinic_a, scopes=("patient/*.read",), by=personas.admin)
    assert _kickoff(plain).status_code == 403
    assert not ExportJob.objects.exists()


def test_a_patient_level_export_is_seen_only_by_its_token(
    personas: Personas, two_patients: tuple[Patient, Patient]
) -> None:
    raw = _patient_token(personas, two_patients[0])
    status_url = _kickoff(raw)["Content-Location"]
    other = issue_token(personas.clinic_a, by=personas.admin)
    assert Client().get(status_url, headers=bearer(other)).status_code == 404
    assert Client().delete(status_url, headers=bearer(raw)).status_code == 202
    assert Client().get(status_url, headers=bearer(raw)).status_code == 404


def test_a_kickoff_for_three_patients_runs_the_same_queries_as_for_one(personas: Personas) -> None:
    patients = [make_patient(personas.clinic_a) for _ in range(3)]
    for patient in patients:
        _visit(personas, patient)
    raw = issue_token(personas.clinic_a, by=personas.admin)

    def cost(query: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert _kickoff(raw, query).status_code == 202
        return len(queries)

    cost("?_type=Patient")  # the token's first use also writes its last_used_at
    one = cost(f"?_type=Patient,Procedure&patient=Patient/{patients[0].pk}")
    three = cost("?_type=Patient,Procedure&" + "&".join(f"patient=Patient/{p.pk}" for p in patients))
    assert three == one


# --- a type served from several sources --------------------------------------------------------------------------


@pytest.fixture
def second_patient_source(db: Any) -> Iterator[registry.ResourceDef]:
    """A throwaway second source of Patient (ids ``tst-<pk>``), removed again after the test."""

    def build(row: Patient, ctx: registry.BuildContext) -> FhirPatient:
        return FhirPatient.model_validate({"resourceType": "Patient", "id": f"tst-{row.pk}", "gender": row.sex})

    definition = registry.register(
        registry.ResourceDef(
            type_name="Patient",
            queryset=lambda clinic_id: Patient.objects.filter(clinic_id=clinic_id),
            build=build,
            patient_path="id",
            id_prefix="tst",
        )
    )
    try:
        yield definition
    finally:
        registry._REGISTRY["Patient"].remove(definition)


def test_every_source_of_a_type_lands_in_the_types_one_file_filtered_to_the_asked_patients(
    personas: Personas, two_patients: tuple[Patient, Patient], second_patient_source: registry.ResourceDef
) -> None:
    anna, otto = two_patients
    raw = issue_token(personas.clinic_a, by=personas.admin)
    everyone = _export(raw, "?_type=Patient")
    assert sorted(p["id"] for p in everyone["Patient"]) == sorted(
        [str(anna.pk), str(otto.pk), f"tst-{anna.pk}", f"tst-{otto.pk}"]
    )
    one = _export(raw, f"?_type=Patient&patient=Patient/{otto.pk}")
    assert sorted(p["id"] for p in one["Patient"]) == sorted([str(otto.pk), f"tst-{otto.pk}"])
    assert [item["type"] for item in ExportJob.objects.order_by("pk").last().output] == ["Patient"]
