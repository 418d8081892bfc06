"""A real FHIR client against the running server: fhirpy (written by others, not for prpclinic) reads,
searches and pages through /fhir/R4/ with a bearer token, as a hospital EHR or a registry would.

The server runs in a thread (pytest-django's ``live_server``); fhirpy speaks HTTP to it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import AuthorizationError, OperationOutcome, ResourceNotFound

from tests.conftest import Personas, make_patient
from tests.fhir_tokens import issue_token

MRN_SYSTEM = "urn:prpclinic:clinic:clinic-a:mrn"


@pytest.fixture
def fhir(live_server: Any, personas: Personas) -> SyncFHIRClient:
    token = issue_token(personas.clinic_a, scopes=("system/*.read",), by=personas.admin)
    return SyncFHIRClient(f"{live_server.url}/fhir/R4", authorization=f"Bearer {token}")


def test_fhirpy_reads_a_patient_by_id(fhir: SyncFHIRClient, personas: Personas) -> None:
    patient = make_patient(personas.clinic_a, given_name="Clara", family_name="Weber", mrn="A000100")
    resource = fhir.reference("Patient", str(patient.pk)).to_resource()
    assert resource.id == str(patient.pk)
    assert resource["name"][0]["family"] == "Weber"
    assert resource["birthDate"] == "1985-04-30"
    assert {"system": MRN_SYSTEM, "value": "A000100"} in [
        {"system": i["system"], "value": i["value"]} for i in resource["identifier"]
    ]


def test_fhirpy_finds_no_patient_of_another_clinic(fhir: SyncFHIRClient, personas: Personas) -> None:
    theirs = make_patient(personas.clinic_b, family_name="Fremd")
    with pytest.raises((ResourceNotFound, OperationOutcome)):
        fhir.reference("Patient", str(theirs.pk)).to_resource()
    assert fhir.resources("Patient").search(identifier=f"{MRN_SYSTEM}|{theirs.mrn}").fetch() == []


def test_fhirpy_searches_by_identifier_and_birthdate(fhir: SyncFHIRClient, personas: Personas) -> None:
    clara = make_patient(personas.clinic_a, given_name="Clara", mrn="A000100", date_of_birth=dt.date(1990, 1, 5))
    make_patient(personas.clinic_a, given_name="Dora", mrn="A000101", date_of_birth=dt.date(1970, 6, 1))
    by_mrn = fhir.resources("Patient").search(identifier=f"{MRN_SYSTEM}|A000100").fetch()
    assert [p.id for p in by_mrn] == [str(clara.pk)]
    born_after_1980 = fhir.resources("Patient").search(birthdate="ge1980-01-01").fetch()
    assert [p.id for p in born_after_1980] == [str(clara.pk)]


def test_fhirpy_pages_through_every_patient_by_next_links(fhir: SyncFHIRClient, personas: Personas) -> None:
    ids = {str(make_patient(personas.clinic_a, mrn=f"A{n:06d}").pk) for n in range(1, 8)}
    make_patient(personas.clinic_b)  # another clinic's: never on a page
    first_page = fhir.resources("Patient").limit(3).fetch()
    assert len(first_page) == 3
    every = fhir.resources("Patient").limit(3).fetch_all()
    assert [p.id for p in every] == sorted((p.id for p in every), key=int)
    assert {p.id for p in every} == ids
    pages = list(fhir.resources("Patient").limit(3))  # the iterator follows next links too
    assert {p.id for p in pages} == ids


def test_fhirpy_without_a_token_is_refused(live_server: Any, personas: Personas) -> None:
    anonymous = SyncFHIRClient(f"{live_server.url}/fhir/R4")
    with pytest.raises(AuthorizationError):  # fhirpy's name for a 401
        anonymous.resources("Patient").fetch()


def test_fhirpy_with_an_unknown_token_is_refused(live_server: Any, personas: Personas) -> None:
    stranger = SyncFHIRClient(f"{live_server.url}/fhir/R4", authorization="Bearer not-a-token-of-ours")
    with pytest.raises(AuthorizationError):
        stranger.resources("Patient").fetch()


def test_fhirpy_follows_a_prps_parent_and_pages_a_patients_products_across_sources(
    fhir: SyncFHIRClient, personas: Personas, chain: Any
) -> None:
    from tests.test_fhir_clinical import make_record

    product = make_record(personas, chain)["product"]
    prp = fhir.reference("BiologicallyDerivedProduct", str(product.pk)).to_resource()
    (parent,) = prp["parent"]
    whole_blood = fhir.reference(reference=parent["reference"]).to_resource()
    assert whole_blood.id == f"wb-{product.draw_id}"
    assert whole_blood["productCode"]["coding"][0]["code"] == "whole-blood"
    every = fhir.resources("BiologicallyDerivedProduct").search(patient=str(product.patient_id)).limit(1).fetch_all()
    assert [p.id for p in every] == [str(product.pk), f"wb-{product.draw_id}"]
    platelets = fhir.resources("Observation").search(code="http://loinc.org|777-3").fetch()
    assert [o.id for o in platelets] == [f"plt-{product.draw_id}"]
