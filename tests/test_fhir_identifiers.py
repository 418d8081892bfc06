"""Other systems' identifiers of a patient (ExternalIdentifier): one per clinic and system, served on the FHIR
Patient, searchable, and moved to the survivor when a duplicate is merged."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from prpclinic.audit.models import AuditEvent
from prpclinic.patients.models import ExternalIdentifier, IdentifierSource, Patient
from prpclinic.patients.services import patient_merge
from tests.conftest import Personas, clinic_request, make_patient
from tests.fhir_tokens import bearer, issue_token

HOSPITAL = "https://hospital.example/fhir/mrn"
NATIONAL = "urn:oid:1.2.40.0.10.1.4.3.1"


def add_identifier(patient: Patient, system: str = HOSPITAL, value: str = "H-100", **extra: Any) -> ExternalIdentifier:
    row = ExternalIdentifier(
        clinic_id=patient.clinic_id, patient=patient, system=system, value=value, source=IdentifierSource.STAFF, **extra
    )
    row.full_clean()
    row.save()
    return row


@pytest.fixture
def get(personas: Personas) -> Any:
    raw = issue_token(personas.clinic_a, by=personas.admin)

    def fetch(url: str, **params: Any) -> Any:
        response = Client().get(url, params, headers=bearer(raw))
        assert response.status_code == 200, response.content
        return response.json()

    return fetch


def search_ids(get: Any, **params: Any) -> list[str]:
    return sorted(entry["resource"]["id"] for entry in get("/fhir/R4/Patient", **params).get("entry", []))


# --- the model -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("system", [HOSPITAL, NATIONAL, "urn:uuid:0c3d9f3e-2b1d-4b1a-9f0e-1a2b3c4d5e6f"])
def test_a_uri_or_urn_is_a_valid_system_and_system_and_value_are_stripped(personas: Personas, system: str) -> None:
    row = add_identifier(make_patient(personas.clinic_a), system=f"  {system} ", value=" H-100\t")
    row.refresh_from_db()
    assert (row.system, row.value) == (system, "H-100")


@pytest.mark.parametrize(
    ("system", "value", "field"),
    [
        ("hospital", "H-1", "system"),  # a bare word names nobody
        ("https://hospital.example/a b", "H-1", "system"),
        ("ftp://hospital.example/mrn", "H-1", "system"),
        (HOSPITAL, "   ", "value"),
        ("", "H-1", "system"),
    ],
)
def test_an_identifier_without_a_uri_system_or_a_value_is_refused(
    personas: Personas, system: str, value: str, field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        add_identifier(make_patient(personas.clinic_a), system=system, value=value)
    assert field in refused.value.message_dict
    assert not ExternalIdentifier.objects.exists()


def test_one_number_of_a_system_names_one_patient_per_clinic_but_two_clinics_may_each_hold_it(
    personas: Personas,
) -> None:
    ours = make_patient(personas.clinic_a)
    theirs = make_patient(personas.clinic_b)
    add_identifier(ours)
    add_identifier(theirs)  # clinic B's own record of the same hospital patient: allowed
    other_of_ours = make_patient(personas.clinic_a, given_name="Eva")
    add_identifier(other_of_ours, system=NATIONAL)  # the same value in another system: allowed
    with pytest.raises(IntegrityError), transaction.atomic():
        ExternalIdentifier.objects.create(
            clinic=personas.clinic_a, patient=other_of_ours, system=HOSPITAL, value="H-100", source="staff"
        )
    assert ExternalIdentifier.objects.filter(system=HOSPITAL, value="H-100").count() == 2


def test_an_identifier_must_belong_to_a_patient_of_its_own_clinic(personas: Personas) -> None:
    theirs = make_patient(personas.clinic_b)
    row = ExternalIdentifier(clinic=personas.clinic_a, patient=theirs, system=HOSPITAL, value="H-1", source="staff")
    with pytest.raises(ValidationError, match="same clinic"):
        row.full_clean()


# --- FHIR Patient ----------------------------------------------------------------------------------------------


def test_the_fhir_patient_lists_its_mrn_then_its_other_identifiers(personas: Personas, get: Any) -> None:
    patient = make_patient(personas.clinic_a)
    add_identifier(patient, value="H-100")
    add_identifier(patient, system=NATIONAL, value="1234 010185")
    body = get(f"/fhir/R4/Patient/{patient.pk}")
    assert body["identifier"][0]["system"] == "urn:prpclinic:clinic:clinic-a:mrn"
    assert body["identifier"][0]["value"] == patient.mrn
    assert body["identifier"][1:] == [
        {"system": HOSPITAL, "value": "H-100"},
        {"system": NATIONAL, "value": "1234 010185"},
    ]


def test_search_by_another_systems_identifier_finds_the_patient_and_only_in_this_clinic(
    personas: Personas, get: Any
) -> None:
    anna = make_patient(personas.clinic_a)
    bob = make_patient(personas.clinic_a, given_name="Bob", sex="male")
    add_identifier(anna, value="H-100")
    add_identifier(bob, system=NATIONAL, value="H-100")
    add_identifier(make_patient(personas.clinic_b), value="H-200")
    assert search_ids(get, identifier=f"{HOSPITAL}|H-100") == [str(anna.pk)]
    assert search_ids(get, identifier=f"{NATIONAL}|H-100") == [str(bob.pk)]
    assert search_ids(get, identifier="H-100") == sorted([str(anna.pk), str(bob.pk)])  # no system: any system
    assert search_ids(get, identifier=f"{HOSPITAL}|H-100,urn:prpclinic:clinic:clinic-a:mrn|{bob.mrn}") == sorted(
        [str(anna.pk), str(bob.pk)]
    )
    assert search_ids(get, identifier=f"{HOSPITAL}|H-200") == []  # clinic B's patient
    assert search_ids(get, identifier=f"{HOSPITAL}|H-999") == []


def test_a_patient_search_page_costs_the_same_queries_with_1_and_3_identified_patients(
    personas: Personas, get: Any
) -> None:
    add_identifier(make_patient(personas.clinic_a), value="H-1")
    get("/fhir/R4/Patient")  # the token's first use also stamps last_used_at: not a page cost

    def page_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            body = get("/fhir/R4/Patient", _count=100)
        assert all(len(entry["resource"]["identifier"]) >= 2 for entry in body["entry"])
        return len(captured.captured_queries)

    one = page_queries()
    for n in (2, 3):
        patient = make_patient(personas.clinic_a, given_name=f"Eva{'x' * n}")
        add_identifier(patient, value=f"H-{n}")
        add_identifier(patient, system=NATIONAL, value=f"N-{n}")
    assert Patient.objects.filter(clinic=personas.clinic_a).count() == 3
    assert page_queries() == one


# --- merge ------------------------------------------------------------------------------------------------------


def test_merging_moves_the_duplicates_identifiers_to_the_survivor_and_audits_them(personas: Personas, get: Any) -> None:
    survivor = make_patient(personas.clinic_a)
    duplicate = make_patient(personas.clinic_a, given_name="Ana")
    add_identifier(survivor, system=NATIONAL, value="N-1")
    add_identifier(duplicate, value="H-100")
    patient_merge(
        request=clinic_request(personas.admin, personas.clinic_a),
        duplicate_id=duplicate.pk,
        survivor_id=survivor.pk,
        reason="registered twice",
    )
    assert sorted(ExternalIdentifier.objects.filter(patient=survivor).values_list("value", flat=True)) == [
        "H-100",
        "N-1",
    ]
    assert not ExternalIdentifier.objects.filter(patient=duplicate).exists()
    event = AuditEvent.objects.get(action="patient.merge")
    assert event.changes["external_identifiers"] == [None, [f"{HOSPITAL}|H-100"]]
    assert search_ids(get, identifier=f"{HOSPITAL}|H-100") == [str(survivor.pk)]
    served = get(f"/fhir/R4/Patient/{survivor.pk}")["identifier"]
    assert {"system": HOSPITAL, "value": "H-100"} in served


def test_a_merge_into_an_already_merged_record_is_refused_and_moves_no_identifier(personas: Personas) -> None:
    request = clinic_request(personas.admin, personas.clinic_a)
    first, second, third = (make_patient(personas.clinic_a, given_name=name) for name in ("Anna", "Ana", "Annа"))
    add_identifier(third, value="H-100")
    patient_merge(request=request, duplicate_id=second.pk, survivor_id=first.pk, reason="registered twice")
    with pytest.raises(ValidationError, match="already merged"):
        patient_merge(request=request, duplicate_id=third.pk, survivor_id=second.pk, reason="registered twice")
    assert ExternalIdentifier.objects.get(value="H-100").patient_id == third.pk


# --- provenance -------------------------------------------------------------------------------------------------


def test_identifiers_kept_by_an_import_show_as_an_update_in_the_patients_provenance(
    personas: Personas, get: Any
) -> None:
    from prpclinic.fhir.importing import import_bundle

    resource = {
        "resourceType": "Patient",
        "identifier": [{"system": HOSPITAL, "value": "H-100"}],
        "name": [{"family": "Huber", "given": ["Lena"]}],
        "birthDate": "1990-02-14",
        "gender": "female",
    }
    report = import_bundle(
        request=clinic_request(personas.admin, personas.clinic_a),
        bundle={"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": resource}]},
    )
    assert report.committed and report.created == 1
    patient = Patient.objects.get(clinic=personas.clinic_a)
    provenance = get("/fhir/R4/Provenance", target=f"Patient/{patient.pk}")
    activities = [(p["resource"]["activity"]["text"], p["resource"]["activity"]["coding"][0]["code"])
                  for p in provenance["entry"]]  # fmt: skip
    assert activities == [("patient.create", "CREATE"), ("patient.identifier_add", "UPDATE")]
    assert get(f"/fhir/R4/Patient/{patient.pk}")["identifier"][1] == {"system": HOSPITAL, "value": "H-100"}
