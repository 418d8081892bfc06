"""The CapabilityStatement at ``/fhir/R4/metadata``, generated from the registry so it never drifts from what is
served."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from prpclinic.fhir import registry

FHIR_VERSION = "4.0.1"
# FHIR Bulk Data's operation definitions: system-level $export and Patient/$export (prpclinic/fhir/bulk.py).
SYSTEM_EXPORT = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"
PATIENT_EXPORT = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"


def _search_param(name: str, type_: str, description: str) -> dict[str, str]:
    entry = {"name": name, "type": type_}
    if description:
        entry["documentation"] = description
    return entry


def _documentation(sources: list[registry.ResourceDef]) -> str:
    """The primary's one-liner, then each further source with its id pattern, so a client knows which ids exist."""
    parts = [sources[0].profile_doc] if sources[0].profile_doc else []
    for source in sources[1:]:
        parts.append(f"Also ids {source.id_prefix}-<n>: {source.profile_doc}".rstrip(": "))
    if len(sources) > 1:
        parts.append("A search spans all of them (primary first).")
    return " ".join(parts)


def capability_statement(base_url: str) -> CapabilityStatement:
    resources: list[dict[str, Any]] = []
    for definition in registry.all_types():
        sources = registry.sources(definition.type_name)
        # A parameter or _include answered by any source of the type is listed once, with each source's own
        # wording (Observation's code: the scales' local codes, and LOINC 777-3 and the lab codes).
        params: dict[str, registry.SearchParam] = {}
        wordings: dict[str, list[str]] = {}
        for source in sources:
            for name, param in source.all_search_params().items():
                params.setdefault(name, param)
                said = wordings.setdefault(name, [])
                if param.description and param.description not in said:
                    said.append(param.description)
        includes: list[str] = []
        for source in sources:
            includes += [name for name in source.includes if name not in includes]
        entry: dict[str, Any] = {
            "type": definition.type_name,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "versioning": "no-version",
            "readHistory": False,
            "searchParam": [
                {
                    "name": name,
                    "type": param.type,
                    **({"documentation": "; ".join(wordings[name])} if wordings[name] else {}),
                }
                for name, param in params.items()
            ],
        }
        if "patient" in params and "subject" not in params:
            entry["searchParam"].append({"name": "subject", "type": "reference", "documentation": "Same as patient"})
        if includes:
            entry["searchInclude"] = [f"{definition.type_name}:{name}" for name in includes]
        if definition.type_name == "Patient":
            entry["operation"] = [{"name": "export", "definition": PATIENT_EXPORT}]
        documentation = _documentation(sources)
        if documentation:
            entry["documentation"] = documentation
        resources.append(entry)
    resources.append(
        {"type": "CodeSystem", "interaction": [{"code": "read"}], "documentation": "Only CodeSystem/prpclinic."}
    )
    # Binary (prpclinic/fhir/binary.py) is not a registry type: read only, ids photo-<n> (an outcome photo, the
    # Media content.url) and consent-<n> (a signed consent PDF).
    resources.append(
        {
            "type": "Binary",
            "interaction": [{"code": "read"}],
            "documentation": "Read only: Binary/photo-<n> (the file of Media/<n>) and Binary/consent-<n> (a signed "
            "consent PDF), with the same bearer token.",
        }
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
                            "Scopes: system/*.read (every resource of the clinic, $export and Patient/$export), "
                            "patient/*.read (patient-compartment resources of the clinic, or only the token's own "
                            "patient when the token is limited to one: SMART patient context)."
                        ),
                    },
                    "resource": resources,
                    "operation": [{"name": "export", "definition": SYSTEM_EXPORT}],
                }
            ],
        }
    )
