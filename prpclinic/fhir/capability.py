"""The CapabilityStatement at ``/fhir/R4/metadata``, generated from the registry so it never drifts from what is
served."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from prpclinic.fhir import registry

FHIR_VERSION = "4.0.1"


def _search_param(name: str, type_: str, description: str) -> dict[str, str]:
    entry = {"name": name, "type": type_}
    if description:
        entry["documentation"] = description
    return entry


def capability_statement(base_url: str) -> CapabilityStatement:
    resources: list[dict[str, Any]] = []
    for definition in registry.all_types():
        params = definition.all_search_params()
        entry: dict[str, Any] = {
            "type": definition.type_name,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "versioning": "no-version",
            "readHistory": False,
            "searchParam": [
                {
                    "name": name,
                    "type": param.type,
                    **({"documentation": param.description} if param.description else {}),
                }
                for name, param in params.items()
            ],
        }
        if "patient" in params and "subject" not in params:
            entry["searchParam"].append({"name": "subject", "type": "reference", "documentation": "Same as patient"})
        if definition.includes:
            entry["searchInclude"] = [f"{definition.type_name}:{name}" for name in definition.includes]
        if definition.profile_doc:
            entry["documentation"] = definition.profile_doc
        resources.append(entry)
    resources.append(
        {"type": "CodeSystem", "interaction": [{"code": "read"}], "documentation": "Only CodeSystem/prpclinic."}
    )
    resources.sort(key=lambda r: r["type"])
    return CapabilityStatement.model_validate(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": timezone.now().isoformat(),
            "publisher": "prpclinic",
            "kind": "instance",
            "software": {"name": "prpclinic"},
            "implementation": {"description": "prpclinic FHIR R4 server", "url": base_url},
            "fhirVersion": FHIR_VERSION,
            "format": ["json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "cors": False,
                        "service": [
                            {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                        "code": "SMART-on-FHIR",
                                    }
                                ]
                            }
                        ],
                        "description": (
                            "Bearer tokens issued by a clinic admin (Interop > Tokens), limited to one clinic. "
                            "Scopes: system/*.read (every resource of the clinic), patient/*.read "
                            "(patient-compartment resources of the clinic)."
                        ),
                    },
                    "resource": resources,
                }
            ],
        }
    )
