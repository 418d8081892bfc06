"""FHIR types served from several tables: the PRP's whole-blood parent (``BiologicallyDerivedProduct/wb-<draw>``),
the spins (``Procedure/spin-<spin>``) and the lab values (``Observation/plt-<draw>`` …) as top-level resources, read
by their prefixed ids, searched together with the primary source, paged across the source boundary, included, and
exported."""

from __future__ import annotations

import importlib
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from prpclinic.fhir import registry
from prpclinic.fhir.auth import create_token
from prpclinic.fhir.patient_export import patient_bundle
from prpclinic.fhir.resources import clinical_codes
from prpclinic.fhir.search import CURSOR_SALT
from tests.conftest import Personas, make_patient
from tests.fhir_tokens import bearer, issue_token
from tests.test_fhir_clinical import ALLOWED_SNOMED, _applied, add_second_chain, make_record, walk

BASE = "/fhir/R4"


@pytest.fixture
def record(personas: Personas, chain: Any) -> dict[str, Any]:
    return make_record(personas, chain)


@pytest.fixture
def token(personas: Personas) -> dict[str, str]:
    return bearer(issue_token(personas.clinic_a, by=personas.admin))


def get(path: str, headers: dict[str, str], **params: Any) -> tuple[int, dict[str, Any]]:
    response = Client().get(f"{BASE}/{path}", params, headers=headers)
    assert response["Content-Type"] == "application/fhir+json"
    return response.status_code, json.loads(response.content)


def follow(url: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    parts = urlsplit(url)
    response = Client().get(f"{parts.path}?{parts.query}", headers=headers)
    return response.status_code, json.loads(response.content)


def validate(resource: dict[str, Any]) -> None:
    name = resource["resourceType"]
    getattr(importlib.import_module(f"fhir.resources.R4B.{name.lower()}"), name).model_validate(resource)


def test_the_whole_blood_a_spin_and_the_platelet_count_are_read_by_their_prefixed_ids(
    personas: Personas, record: dict[str, Any], token: dict[str, str]
) -> None:
    product = record["product"]
    spin = product.spins.get(number=1)

    status, whole_blood = get(f"BiologicallyDerivedProduct/wb-{product.draw_id}", token)
    assert status == 200 and whole_blood["id"] == f"wb-{product.draw_id}"
    assert whole_blood["productCode"]["coding"][0]["code"] == "whole-blood"
    assert whole_blood["collection"]["source"] == {"reference": f"Patient/{product.patient_id}"}
    status, procedure = get(f"Procedure/spin-{spin.pk}", token)
    assert status == 200 and procedure["code"]["coding"][0]["code"] == "centrifugation"
    assert procedure["usedReference"] == [{"reference": f"Device/{spin.centrifuge_id}"}]
    status, platelets = get(f"Observation/plt-{product.draw_id}", token)
    assert status == 200 and platelets["code"]["coding"] == [
        {"system": "http://loinc.org", "code": "777-3", "display": "Platelets [#/volume] in Blood"}
    ]
    assert platelets["specimen"] == {"reference": f"Specimen/{product.draw_id}"}
    status, prp_count = get(f"Observation/prp-plt-{product.pk}", token)
    assert status == 200 and prp_count["focus"] == [{"reference": f"BiologicallyDerivedProduct/{product.pk}"}]
    for resource in (whole_blood, procedure, platelets, prp_count):
        validate(resource)


def test_the_prp_parent_reference_resolves_and_is_included_on_request(
    personas: Personas, record: dict[str, Any], token: dict[str, str]
) -> None:
    product = record["product"]
    _, prp = get(f"BiologicallyDerivedProduct/{product.pk}", token)
    (parent,) = prp["parent"]
    status, whole_blood = get(parent["reference"], token)
    assert status == 200 and whole_blood["id"] == f"wb-{product.draw_id}"
    for step in prp["processing"]:
        status, spin = get(step["extension"][0]["valueReference"]["reference"], token)
        assert status == 200 and spin["resourceType"] == "Procedure"

    status, bundle = get(
        "BiologicallyDerivedProduct", token, identifier=product.barcode, _include="BiologicallyDerivedProduct:parent"
    )
    assert status == 200 and bundle["total"] == 1
    entries = [(e["search"]["mode"], e["resource"]["id"], e["fullUrl"]) for e in bundle["entry"]]
    assert entries == [
        ("match", str(product.pk), f"http://testserver{BASE}/BiologicallyDerivedProduct/{product.pk}"),
        (
            "include",
            f"wb-{product.draw_id}",
            f"http://testserver{BASE}/BiologicallyDerivedProduct/wb-{product.draw_id}",
        ),
    ]


def test_a_patients_products_page_from_the_prp_to_its_whole_blood_across_the_source_boundary(
    personas: Personas, chain: Any, record: dict[str, Any], token: dict[str, str]
) -> None:
    product = record["product"]
    other = make_patient(personas.clinic_a)  # another patient's chain: never on these pages
    from prpclinic.visits.models import Visit

    _applied(personas, chain, donor=other, visit=Visit.objects.create(
        clinic=personas.clinic_a, patient=other, treatment="prp_scalp", clinician=personas.physician))  # fmt: skip

    status, bundle = get("BiologicallyDerivedProduct", token, patient=f"Patient/{product.patient_id}", _count=1)
    seen: list[tuple[str, str]] = []
    while True:
        assert status == 200 and bundle["total"] == 2
        assert len(bundle.get("entry", [])) == 1
        seen += [(e["resource"]["id"], e["fullUrl"].rsplit("/", 1)[1]) for e in bundle["entry"]]
        following = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not following:
            break
        assert f"patient=Patient%2F{product.patient_id}" in following[0]  # the filter travels with the cursor
        status, bundle = follow(following[0], token)
    wb = f"wb-{product.draw_id}"
    assert seen == [(str(product.pk), str(product.pk)), (wb, wb)]  # primary first; fullUrl carries the FHIR id


def test_a_search_page_of_a_type_with_several_sources_runs_the_same_queries_for_more_rows(
    personas: Personas, chain: Any, record: dict[str, Any], token: dict[str, str]
) -> None:
    urls = {
        "BiologicallyDerivedProduct": {"_include": [f"BiologicallyDerivedProduct:{n}" for n in ("parent", "patient")]},
        "Procedure": {"_include": "Procedure:patient"},
        "Observation": {"_include": ["Observation:patient", "Observation:specimen"]},
    }  # fmt: skip

    def cost() -> dict[str, tuple[int, int]]:
        found = {}
        for type_name, params in urls.items():
            with CaptureQueriesContext(connection) as queries:
                status, bundle = get(type_name, token, _count=100, **params)
            assert status == 200
            found[type_name] = (len(queries), len(bundle["entry"]))
        return found

    cost()  # the token's first use stamps last_used_at (once a minute): not a page cost
    before = cost()
    add_second_chain(personas, chain, record)
    after = cost()
    for type_name in urls:
        assert after[type_name][1] > before[type_name][1], type_name
        assert after[type_name][0] == before[type_name][0], type_name


def test_the_platelet_count_is_found_by_its_loinc_code_and_the_draws_values_by_specimen(
    personas: Personas, record: dict[str, Any], token: dict[str, str]
) -> None:
    product = record["product"]

    def ids(**params: str) -> list[str]:
        status, bundle = get("Observation", token, **params)
        assert status == 200, bundle
        return sorted(e["resource"]["id"] for e in bundle.get("entry", []))

    platelets = [f"plt-{product.draw_id}"]
    assert ids(code="http://loinc.org|777-3") == platelets
    assert ids(code="777-3") == platelets
    assert ids(code="http://example.org|777-3") == []
    assert ids(code=f"{clinical_codes.SYSTEM}|prp-platelets") == [f"prp-plt-{product.pk}"]
    assert len(ids(code="scale-hair_density")) == 1  # the scores' own codes still work
    assert ids(specimen=f"Specimen/{product.draw_id}") == sorted(
        f"{p}-{product.draw_id}" for p in ("hct", "plt", "wbc")
    )
    assert ids(focus=f"BiologicallyDerivedProduct/{product.pk}") == sorted(
        f"{p}-{product.pk}" for p in ("prp-plt", "prp-rbc", "prp-wbc")
    )
    assert ids(_id=f"plt-{product.draw_id},hct-{product.draw_id}") == sorted([f"hct-{product.draw_id}", *platelets])


def test_a_parameter_a_source_does_not_answer_leaves_that_source_out(
    personas: Personas, record: dict[str, Any], token: dict[str, str]
) -> None:
    product = record["product"]
    # The whole blood carries no product code: identifier finds the PRP only.
    status, bundle = get("BiologicallyDerivedProduct", token, identifier=product.barcode)
    assert status == 200 and [e["resource"]["id"] for e in bundle["entry"]] == [str(product.pk)]
    # _id of a further source finds that resource only, a primary id the primary's row only.
    _, bundle = get("BiologicallyDerivedProduct", token, _id=f"wb-{product.draw_id}")
    assert [e["resource"]["id"] for e in bundle["entry"]] == [f"wb-{product.draw_id}"]
    _, bundle = get("BiologicallyDerivedProduct", token, _id=str(product.pk))
    assert [e["resource"]["id"] for e in bundle["entry"]] == [str(product.pk)]
    # A parameter no source answers is still a 400, and a bad value too, whichever source answers it.
    assert get("Observation", token, specimen="Patient/1")[0] == 400
    assert get("Observation", token, colour="red")[0] == 400


def test_unknown_prefixes_garbage_and_another_clinics_prefixed_ids_answer_404(
    personas: Personas, record: dict[str, Any], token: dict[str, str]
) -> None:
    product = record["product"]
    draw, spin = product.draw_id, product.spins.first().pk
    for path in (
        f"BiologicallyDerivedProduct/xx-{draw}", f"BiologicallyDerivedProduct/wb-{draw}x",
        "BiologicallyDerivedProduct/wb-", f"BiologicallyDerivedProduct/-{draw}", f"Procedure/wb-{draw}",
        f"BiologicallyDerivedProduct/spin-{spin}", "Observation/plt-99999999999999999999999", f"Specimen/wb-{draw}",
    ):  # fmt: skip
        status, outcome = get(path, token)
        assert status == 404 and outcome["resourceType"] == "OperationOutcome", path
    other = bearer(issue_token(personas.clinic_b, by=personas.other_physician))
    for path in (f"BiologicallyDerivedProduct/wb-{draw}", f"Procedure/spin-{spin}", f"Observation/plt-{draw}"):
        assert get(path, token)[0] == 200, path
        assert get(path, other)[0] == 404, path
    _, bundle = get("BiologicallyDerivedProduct", other)
    assert bundle["total"] == 0


def test_a_forged_or_out_of_range_cursor_is_refused(
    personas: Personas, record: dict[str, Any], token: dict[str, str]
) -> None:
    for cursor in ("forged", signing.dumps([9, 0], salt=CURSOR_SALT), signing.dumps("x", salt=CURSOR_SALT)):
        status, outcome = get("BiologicallyDerivedProduct", token, _cursor=cursor)
        assert status == 400 and "paging cursor is not valid" in outcome["issue"][0]["diagnostics"]


def test_a_patient_context_token_reads_its_patients_chain_and_nothing_of_another(
    personas: Personas, chain: Any, record: dict[str, Any]
) -> None:
    product = record["product"]
    add_second_chain(personas, chain, record)
    _, raw = create_token(
        clinic=personas.clinic_a, label="App", scopes=("patient/*.read",), created_by=personas.admin,
        patient=chain.patient,
    )  # fmt: skip
    mine = bearer(raw)
    assert get(f"BiologicallyDerivedProduct/wb-{product.draw_id}", mine)[0] == 200
    _, bundle = get("Procedure", mine)
    assert {e["resource"]["subject"]["reference"] for e in bundle["entry"]} == {f"Patient/{chain.patient.pk}"}
    from prpclinic.prp.models import Spin

    theirs = Spin.objects.exclude(product__patient=chain.patient).first()
    assert theirs is not None and get(f"Procedure/spin-{theirs.pk}", mine)[0] == 404


def test_a_whole_blood_whose_product_names_another_patient_answers_an_operation_outcome(
    personas: Personas, chain: Any, token: dict[str, str]
) -> None:
    from prpclinic.prp.models import Product
    from tests.test_fhir_clinical import _draw

    other = make_patient(personas.clinic_a, given_name="Otto", family_name="Other")
    draw = _draw(personas, chain, chain.patient)
    Product.objects.create(clinic=personas.clinic_a, patient=other, draw=draw)
    status, outcome = get(f"BiologicallyDerivedProduct/wb-{draw.pk}", token)
    assert status == 500 and "autologous rule" in outcome["issue"][0]["diagnostics"]


def test_the_patient_export_carries_every_source_with_its_own_fhir_id(
    personas: Personas, record: dict[str, Any]
) -> None:
    product = record["product"]
    bundle = patient_bundle(
        product.patient, registry.BuildContext(base_url="https://clinic.example/fhir/R4", clinic=personas.clinic_a)
    )
    urls = {entry["fullUrl"] for entry in bundle["entry"]}
    for path in (
        f"BiologicallyDerivedProduct/{product.pk}", f"BiologicallyDerivedProduct/wb-{product.draw_id}",
        f"Procedure/spin-{product.spins.first().pk}", f"Observation/plt-{product.draw_id}",
        f"Observation/prp-rbc-{product.pk}",
    ):  # fmt: skip
        assert f"https://clinic.example/fhir/R4/{path}" in urls, path
    assert all(
        e["fullUrl"].endswith(f"/{e['resource']['resourceType']}/{e['resource']['id']}") for e in bundle["entry"]
    )


def test_every_new_resource_carries_only_listed_codes_and_valid_status_values(
    personas: Personas, record: dict[str, Any], token: dict[str, str]
) -> None:
    from prpclinic.fhir import codesystems

    local = codesystems.local_codes()
    further = [source for source in registry.all_sources() if source.id_prefix]
    assert {(s.type_name, s.id_prefix) for s in further} >= {
        ("BiologicallyDerivedProduct", "wb"), ("Procedure", "spin"), ("Observation", "plt"), ("Observation", "hct"),
        ("Observation", "wbc"), ("Observation", "prp-plt"), ("Observation", "prp-wbc"), ("Observation", "prp-rbc"),
    }  # fmt: skip
    statuses = {"BiologicallyDerivedProduct": {"available", "unavailable"},
                "Procedure": {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed",
                              "entered-in-error", "unknown"},
                "Observation": {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                                "entered-in-error", "unknown"}}  # fmt: skip
    for source in further:
        _, bundle = get(source.type_name, token, _id=",".join(source.fhir_id(row.pk) for row in source.queryset(
            personas.clinic_a.pk)))  # fmt: skip
        assert bundle.get("entry"), source.id_prefix
        for entry in bundle["entry"]:
            resource = entry["resource"]
            validate(resource)
            assert resource["status"] in statuses[source.type_name]
            if source.type_name == "BiologicallyDerivedProduct":
                assert resource["productCategory"] in {"organ", "tissue", "fluid", "cells", "biologicalAgent"}
            for coding in walk(resource, "coding"):
                for c in coding:
                    if c["system"] == clinical_codes.SYSTEM:
                        assert c["code"] in local, c
                    elif c["system"] == clinical_codes.SNOMED:
                        assert c["code"] in ALLOWED_SNOMED, c
                    elif c["system"] == clinical_codes.LOINC:
                        assert c["code"] == "777-3", c
                    else:
                        assert c["system"].startswith("http://terminology.hl7.org/CodeSystem/"), c


def test_the_capability_statement_lists_binary_and_the_searches_of_every_source(db: Any) -> None:
    response = Client().get(f"{BASE}/metadata")
    resources = {r["type"]: r for r in json.loads(response.content)["rest"][0]["resource"]}
    assert resources["Binary"]["interaction"] == [{"code": "read"}]
    assert "BiologicallyDerivedProduct:parent" in resources["BiologicallyDerivedProduct"]["searchInclude"]
    assert "wb-<n>" in resources["BiologicallyDerivedProduct"]["documentation"]
    assert "spin-<n>" in resources["Procedure"]["documentation"]
    observation = {p["name"] for p in resources["Observation"]["searchParam"]}
    assert {"code", "specimen", "focus", "patient", "subject", "date", "_id"} <= observation
    assert "Observation:specimen" in resources["Observation"]["searchInclude"]


def test_a_media_content_url_is_the_binary_a_token_reads_the_photo_from(
    personas: Personas, token: dict[str, str], settings: Any, tmp_path: Any
) -> None:
    from tests.test_fhir_binary import take_photo

    settings.MEDIA_ROOT = tmp_path
    photo = take_photo(personas, make_patient(personas.clinic_a))
    status, media = get(f"Media/{photo.pk}", token)
    assert status == 200
    url = media["content"]["url"]
    assert url == f"http://testserver{BASE}/Binary/photo-{photo.pk}"
    response = Client().get(urlsplit(url).path, headers=token)
    assert response.status_code == 200 and response["Content-Type"] == media["content"]["contentType"]
    assert b"".join(response.streaming_content) == (tmp_path / photo.file_name).read_bytes()


def test_the_capability_statement_documents_each_sources_codes_for_observation_code(db: Any) -> None:
    response = Client().get(f"{BASE}/metadata")
    resources = {r["type"]: r for r in json.loads(response.content)["rest"][0]["resource"]}
    (code,) = [p for p in resources["Observation"]["searchParam"] if p["name"] == "code"]
    assert "scale-" in code["documentation"] and "http://loinc.org|777-3" in code["documentation"]
