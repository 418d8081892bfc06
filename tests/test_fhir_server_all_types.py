"""Across every registered type (the clinical ones too): what is served validates with R4B and its references
point at served types and resolve."""

from __future__ import annotations

import importlib
from typing import Any

from django.test import Client

from prpclinic.audit.services import audit_record
from prpclinic.fhir import registry
from tests.conftest import Personas, clinic_request
from tests.fhir_tokens import bearer, issue_token
from tests.matrix_fhir_core import admin_records


def _references(value: Any, found: list[str]) -> None:
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str) and not value["reference"].startswith("#"):
            found.append(value["reference"])
        for item in value.values():
            _references(item, found)
    elif isinstance(value, list):
        for item in value:
            _references(item, found)


def test_every_registered_type_serves_valid_r4b_whose_references_resolve(personas: Personas, chain: Any) -> None:
    admin_records(personas)
    # As visits.services.visit_start records it: Provenance then targets the visit's Procedure.
    audit_record(action="visit.start", request=clinic_request(personas.physician, personas.clinic_a), obj=chain.visit)
    raw = issue_token(personas.clinic_a, by=personas.admin)
    served = {d.type_name for d in registry.all_types()}
    checked: set[str] = set()
    for type_name in sorted(served):
        response = Client().get(f"/fhir/R4/{type_name}", {"_count": 100}, headers=bearer(raw))
        assert response.status_code == 200, f"{type_name}: {response.content[:300]!r}"
        model = getattr(importlib.import_module(f"fhir.resources.R4B.{type_name.lower()}"), type_name)
        for entry in response.json().get("entry", []):
            model.model_validate(entry["resource"])
            found: list[str] = []
            _references(entry["resource"], found)
            for ref in found:
                target_type = ref.split("/", 1)[0]
                assert target_type in served, f"{type_name} points at {ref}: {target_type} is not served"
                followed = Client().get(f"/fhir/R4/{ref}", headers=bearer(raw))
                assert followed.status_code == 200, f"{type_name} -> {ref}"
            checked.add(type_name)
    assert {"Patient", "Appointment", "Consent", "QuestionnaireResponse", "CarePlan", "Provenance"} <= checked
    provenance = Client().get("/fhir/R4/Provenance", {"_count": 100}, headers=bearer(raw)).json()
    targets = {e["resource"]["target"][0]["reference"].split("/")[0] for e in provenance["entry"]}
    assert "Procedure" in targets  # the visit started by staff
