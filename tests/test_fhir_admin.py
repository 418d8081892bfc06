"""The administrative FHIR resources as a client receives them: valid R4, codes from their value sets, references
that resolve, and the mappings docs/fhir.md promises."""

from __future__ import annotations

import base64
import importlib
from typing import Any

import pytest
from django.test import Client

from prpclinic.fhir import registry
from prpclinic.fhir.codesystems import EXT_SHA256, LOCAL_SYSTEM, local_codes
from prpclinic.scheduling.models import AppointmentStatus
from tests.conftest import Personas
from tests.fhir_tokens import bearer, issue_token
from tests.matrix_fhir_core import AdminRecords, add_appointments, admin_records

ADMIN_TYPES = ("Patient", "Appointment", "Consent", "QuestionnaireResponse", "CarePlan", "Provenance")

# The R4 (4.0.1) required value sets of the status-like elements we fill, copied from the specification.
R4_VALUE_SETS: dict[tuple[str, str], set[str]] = {
    ("Patient", "gender"): {"male", "female", "other", "unknown"},
    ("Appointment", "status"): {
        "proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow", "entered-in-error",
        "checked-in", "waitlist",
    },
    ("Appointment", "participant.status"): {"accepted", "declined", "tentative", "needs-action"},
    ("Appointment", "participant.required"): {"required", "optional", "information-only"},
    ("Consent", "status"): {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"},
    ("Consent", "scope"): {"adr", "research", "patient-privacy", "treatment"},
    ("Consent", "provision.type"): {"deny", "permit"},
    ("QuestionnaireResponse", "status"): {"in-progress", "completed", "amended", "entered-in-error", "stopped"},
    ("CarePlan", "status"): {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
    ("CarePlan", "intent"): {"proposal", "plan", "order", "option"},
    ("CarePlan", "activity.status"): {
        "not-started", "scheduled", "in-progress", "on-hold", "completed", "cancelled", "stopped", "unknown",
        "entered-in-error",
    },
    ("Patient", "link.type"): {"replaced-by", "replaces", "refer", "seealso"},
    ("Provenance", "activity"): {"CREATE", "UPDATE", "DELETE", "APPEND", "NULLIFY"},
    ("Provenance", "agent.type"): {"author", "performer", "enterer", "verifier", "legal", "attester", "informant",
                                   "custodian", "assembler", "composer"},
}  # fmt: skip


@pytest.fixture
def records(personas: Personas) -> AdminRecords:
    return admin_records(personas)


@pytest.fixture
def client_a(personas: Personas) -> Any:
    raw = issue_token(personas.clinic_a, by=personas.admin)

    def get(url: str, **params: Any) -> Any:
        return Client().get(url, params, headers=bearer(raw))

    return get


def _search_all(get: Any, type_name: str) -> list[dict[str, Any]]:
    response = get(f"/fhir/R4/{type_name}", _count=100)
    assert response.status_code == 200, response.content
    return [entry["resource"] for entry in response.json().get("entry", [])]


def _model(type_name: str) -> Any:
    module = importlib.import_module(f"fhir.resources.R4B.{type_name.lower()}")
    return getattr(module, type_name)


def _codes(resource: dict[str, Any]) -> dict[str, set[str]]:
    kind = resource["resourceType"]
    found: dict[str, set[str]] = {}

    def add(key: str, value: str | None) -> None:
        if value is not None:
            found.setdefault(key, set()).add(value)

    add("status", resource.get("status"))
    add("gender", resource.get("gender"))
    add("intent", resource.get("intent"))
    for participant in resource.get("participant", []):
        add("participant.status", participant.get("status"))
        add("participant.required", participant.get("required"))
    for link in resource.get("link", []):
        add("link.type", link["type"])
    if kind == "Consent":
        for coding in resource["scope"]["coding"]:
            add("scope", coding["code"])
        add("provision.type", resource["provision"]["type"])
    for activity in resource.get("activity", []) if kind == "CarePlan" else []:
        add("activity.status", activity["detail"]["status"])
    if kind == "Provenance":
        for coding in resource["activity"]["coding"]:
            add("activity", coding["code"])
        for agent in resource["agent"]:
            for coding in agent["type"]["coding"]:
                add("agent.type", coding["code"])
    return found


def _walk(value: Any, found: list[tuple[str, Any]], key: str = "") -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _walk(v, found, k)
        if "reference" in value:
            found.append(("reference", value["reference"]))
        if value.get("system") == LOCAL_SYSTEM and "code" in value:
            found.append(("local", value["code"]))
    elif isinstance(value, list):
        for item in value:
            _walk(item, found, key)


def test_every_administrative_type_is_registered_and_in_the_patient_compartment_where_it_belongs() -> None:
    served = {d.type_name: d for d in registry.all_types()}
    assert set(ADMIN_TYPES) <= set(served)
    assert {t for t in ADMIN_TYPES if served[t].patient_path is None} == {"Provenance"}


def test_each_resource_served_validates_with_r4b_and_uses_codes_of_its_r4_value_sets(
    records: AdminRecords, client_a: Any
) -> None:
    for type_name in ADMIN_TYPES:
        resources = _search_all(client_a, type_name)
        assert resources, f"no {type_name} served"
        for resource in resources:
            _model(type_name).model_validate(resource)  # raises when not valid R4B
            for element, codes in _codes(resource).items():
                allowed = R4_VALUE_SETS[(type_name, element)]
                assert codes <= allowed, f"{type_name}.{element}: {codes - allowed}"


def test_every_reference_points_at_a_served_type_and_resolves_and_local_codes_are_in_the_codesystem(
    records: AdminRecords, client_a: Any
) -> None:
    served = {d.type_name for d in registry.all_types()}
    for type_name in ADMIN_TYPES:
        for resource in _search_all(client_a, type_name):
            found: list[tuple[str, Any]] = []
            _walk(resource, found)
            for kind, value in found:
                if kind == "local":
                    assert value in local_codes(), f"{type_name}: {value} is not in CodeSystem/prpclinic"
                    continue
                target_type, _, target_id = value.partition("/")
                assert target_type in served, f"{type_name} points at {target_type}, which is not served"
                followed = client_a(f"/fhir/R4/{value}")
                assert followed.status_code == 200, f"{type_name} -> {value}"
                assert followed.json()["resourceType"] == target_type and followed.json()["id"] == target_id


def test_patient_carries_its_mrn_contacts_and_the_merge_links(records: AdminRecords, client_a: Any) -> None:
    survivor = client_a(f"/fhir/R4/Patient/{records.patient.pk}").json()
    assert survivor["identifier"][0]["system"] == "urn:prpclinic:clinic:clinic-a:mrn"
    assert survivor["identifier"][0]["value"] == records.patient.mrn
    assert survivor["name"][0] == {"use": "official", "family": "Berger", "given": ["Anna"]}
    assert survivor["birthDate"] == "1985-04-30" and survivor["gender"] == "female" and survivor["active"] is True
    assert {"system": "email", "value": "anna@example.test"} in survivor["telecom"]
    assert survivor["link"] == [{"other": {"reference": f"Patient/{records.duplicate.pk}"}, "type": "replaces"}]
    duplicate = client_a(f"/fhir/R4/Patient/{records.duplicate.pk}").json()
    assert duplicate["active"] is False
    assert duplicate["link"] == [{"other": {"reference": f"Patient/{records.patient.pk}"}, "type": "replaced-by"}]


@pytest.mark.parametrize(
    ("ours", "fhir"),
    [("booked", "booked"), ("checked_in", "checked-in"), ("in_treatment", "arrived"), ("completed", "fulfilled"),
     ("no_show", "noshow"), ("cancelled", "cancelled")],
)  # fmt: skip
def test_appointment_status_is_mapped_to_the_r4_code(personas: Personas, client_a: Any, ours: str, fhir: str) -> None:
    from tests.matrix_fhir_core import add_patient

    appointment = add_appointments(personas, add_patient(personas), 1, status=ours)[0]
    body = client_a(f"/fhir/R4/Appointment/{appointment.pk}").json()
    assert body["status"] == fhir
    assert body["participant"][0]["actor"] == {"reference": f"Patient/{appointment.patient_id}"}
    assert body["participant"][1]["actor"] == {"display": "Phil Physician"}
    assert body["start"] == "2026-03-02T09:00:00Z" and body["minutesDuration"] == 45


def test_every_appointment_status_has_a_mapping() -> None:
    from prpclinic.fhir.resources.admin import APPOINTMENT_STATUS

    assert set(APPOINTMENT_STATUS) == set(AppointmentStatus.values)


def test_consent_points_at_its_signed_pdf_with_its_sha256_and_a_revoked_one_is_inactive(
    records: AdminRecords, client_a: Any
) -> None:
    body = client_a(f"/fhir/R4/Consent/{records.consent.pk}").json()
    assert body["status"] == "active" and body["scope"]["coding"][0]["code"] == "treatment"
    attachment = body["sourceAttachment"]
    assert attachment["url"] == f"http://testserver/fhir/R4/Binary/consent-{records.consent.pk}"
    assert attachment["contentType"] == "application/pdf" and attachment["size"] == records.consent.pdf_size
    digest = base64.b64decode(attachment["extension"][0]["valueBase64Binary"]).hex()
    assert attachment["extension"][0]["url"] == EXT_SHA256 and digest == records.consent.pdf_sha256
    assert body["policy"][0]["uri"].endswith(f":v{records.consent.template_version}")
    revoked = client_a(f"/fhir/R4/Consent/{records.revoked_consent.pk}").json()
    assert revoked["status"] == "inactive" and revoked["scope"]["coding"][0]["code"] == "patient-privacy"


def test_a_screening_is_a_completed_questionnaire_response_with_one_item_per_answer(
    records: AdminRecords, client_a: Any
) -> None:
    body = client_a(f"/fhir/R4/QuestionnaireResponse/{records.screening.pk}").json()
    assert body["status"] == "completed" and body["subject"] == {"reference": f"Patient/{records.patient.pk}"}
    by_id = {item["linkId"]: item for item in body["item"]}
    assert set(by_id) == set(records.screening.answers) | {"screening-result"}
    yes_no = [k for k, v in records.screening.answers.items() if isinstance(v, bool)]
    assert yes_no and all(by_id[k]["answer"] == [{"valueBoolean": records.screening.answers[k]}] for k in yes_no)
    assert by_id["screening-result"]["answer"][0]["valueCoding"]["display"] == "Eligible"
    assert body["author"] == {"display": "Nina Nurse"}


def test_a_treatment_plan_is_a_careplan_with_one_scheduled_activity_per_planned_session(
    records: AdminRecords, client_a: Any
) -> None:
    body = client_a(f"/fhir/R4/CarePlan/{records.plan.pk}").json()
    sessions = list(records.plan.sessions.order_by("number"))
    assert body["status"] == "active" and body["intent"] == "plan"
    assert [a["detail"]["scheduledPeriod"]["start"] for a in body["activity"]] == [
        s.due_date.isoformat() for s in sessions
    ]
    assert {a["detail"]["status"] for a in body["activity"]} == {"scheduled"}


def test_provenance_names_who_created_each_record_and_targets_it(records: AdminRecords, client_a: Any) -> None:
    response = client_a("/fhir/R4/Provenance", target=f"Consent/{records.consent.pk}")
    entries = [e["resource"] for e in response.json()["entry"]]
    assert [(p["activity"]["coding"][0]["code"], p["agent"][0]["who"]["display"]) for p in entries] == [
        ("CREATE", "Nina Nurse")
    ]
    assert entries[0]["target"] == [{"reference": f"Consent/{records.consent.pk}"}]
    merged = client_a("/fhir/R4/Provenance", target=f"Patient/{records.duplicate.pk}").json()
    assert [p["resource"]["activity"]["text"] for p in merged["entry"]] == ["patient.create", "patient.merged_away"]


def test_consents_of_another_clinic_are_not_found(records: AdminRecords, personas: Personas) -> None:
    raw_b = issue_token(personas.clinic_b, by=personas.other_physician)
    cases = [
        ("Consent", records.consent.pk),
        ("CarePlan", records.plan.pk),
        ("QuestionnaireResponse", records.screening.pk),
        ("Patient", records.patient.pk),
    ]
    for type_name, pk in cases:
        response = Client().get(f"/fhir/R4/{type_name}/{pk}", headers=bearer(raw_b))
        assert response.status_code == 404 and response.json()["resourceType"] == "OperationOutcome"
