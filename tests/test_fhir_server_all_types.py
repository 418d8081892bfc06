"""Across every registered type and every source of it (the clinical ones too, with the PRP's whole blood, the spins
and the lab values): what is served validates with R4B, its codes are listed ones, and its references point at
served types and resolve."""

from __future__ import annotations

import importlib
from typing import Any

from django.test import Client

from prpclinic.audit.services import audit_record
from prpclinic.fhir import codesystems, registry, search
from prpclinic.fhir.resources import clinical_codes
from tests.conftest import Personas, clinic_request
from tests.fhir_tokens import bearer, issue_token
from tests.matrix_fhir_core import admin_records
from tests.test_fhir_clinical import ALLOWED_SNOMED, make_record, walk


def _references(value: Any, found: list[str]) -> None:
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str) and not value["reference"].startswith("#"):
            found.append(value["reference"])
        for item in value.values():
            _references(item, found)
    elif isinstance(value, list):
        for item in value:
            _references(item, found)


def _check_codes(resource: dict[str, Any]) -> None:
    """Local codes are in our CodeSystem; SNOMED CT and LOINC only the listed ones (fhir.resources checks none)."""
    local = codesystems.local_codes()
    for coding in walk(resource, "coding"):
        for c in coding:
            if c.get("system") == codesystems.LOCAL_SYSTEM:
                assert c["code"] in local, c
            elif c.get("system") == clinical_codes.SNOMED:
                assert c["code"] in ALLOWED_SNOMED, c
            elif c.get("system") == clinical_codes.LOINC:
                assert c["code"] in {"777-3", "59284-0"}, c


def test_every_registered_type_serves_valid_r4b_whose_references_resolve(personas: Personas, chain: Any) -> None:
    admin_records(personas)
    make_record(personas, chain)  # the PRP chain, visits, scores, a photo: every clinical source has rows
    # As visits.services.visit_start records it: Provenance then targets the visit's Procedure.
    audit_record(action="visit.start", request=clinic_request(personas.physician, personas.clinic_a), obj=chain.visit)
    raw = issue_token(personas.clinic_a, by=personas.admin)
    served = {d.type_name for d in registry.all_types()}
    checked: set[str] = set()
    ids_seen: set[tuple[str, str]] = set()
    for type_name in sorted(served):
        response = Client().get(f"/fhir/R4/{type_name}", {"_count": 100}, headers=bearer(raw))
        assert response.status_code == 200, f"{type_name}: {response.content[:300]!r}"
        assert response.json()["total"] <= 100, f"{type_name}: more than one page, raise _count"
        model = getattr(importlib.import_module(f"fhir.resources.R4B.{type_name.lower()}"), type_name)
        for entry in response.json().get("entry", []):
            model.model_validate(entry["resource"])
            assert entry["fullUrl"].endswith(f"/{type_name}/{entry['resource']['id']}")
            ids_seen.add((type_name, entry["resource"]["id"]))
            _check_codes(entry["resource"])
            found: list[str] = []
            _references(entry["resource"], found)
            for ref in found:
                target_type = ref.split("/", 1)[0]
                assert target_type in served, f"{type_name} points at {ref}: {target_type} is not served"
                followed = Client().get(f"/fhir/R4/{ref}", headers=bearer(raw))
                assert followed.status_code == 200, f"{type_name} -> {ref}"
            checked.add(type_name)
    assert {"Patient", "Appointment", "Consent", "QuestionnaireResponse", "CarePlan", "Provenance"} <= checked
    # Every source of every type was on a search page (a source the search forgot would be missing here).
    for source in registry.all_sources():
        prefix = f"{source.id_prefix}-" if source.id_prefix else ""
        mine = {i for t, i in ids_seen if t == source.type_name and search.source_pk(source, i) is not None}
        assert mine, f"{source.type_name} source {prefix or 'primary'} served nothing"
    provenance = Client().get("/fhir/R4/Provenance", {"_count": 100}, headers=bearer(raw)).json()
    targets = {e["resource"]["target"][0]["reference"].split("/")[0] for e in provenance["entry"]}
    assert "Procedure" in targets  # the visit started by staff
