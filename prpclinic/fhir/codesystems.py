"""The local CodeSystem ``https://prpclinic.org/fhir/CodeSystem/prpclinic``,
served at ``/fhir/R4/CodeSystem/prpclinic``.

Codes with no standard equivalent (the treatments, consent kinds, screening questions' local linkIds). fhir-clinical
keeps its concepts in ``resources/clinical_codes.py`` as ``CONCEPTS`` (a list of ``{"code", "display", "definition"?}``
dicts or ``(code, display)`` tuples); they are merged here. A code used in a resource must be listed here: tests
check every local coding against this list.
"""

from __future__ import annotations

import importlib
from typing import Any

from prpclinic.visits.models import TreatmentKind

LOCAL_SYSTEM = "https://prpclinic.org/fhir/CodeSystem/prpclinic"
CODESYSTEM_ID = "prpclinic"

# Extensions defined by prpclinic (documented in docs/fhir.md).
EXT_SHA256 = "https://prpclinic.org/fhir/StructureDefinition/attachment-sha256"

_ADMIN_CONCEPTS: list[dict[str, str]] = [
    *(
        {"code": f"treatment-{kind.value}", "display": str(kind.label), "definition": "A treatment prpclinic serves."}
        for kind in TreatmentKind
    ),
    {"code": "consent-photography", "display": "Photography and use of photos", "definition": "Photo consent."},
    {"code": "screening", "display": "Contraindication screening", "definition": "Screening before a treatment."},
    {"code": "screening-result", "display": "Screening result", "definition": "Result of the screening rules."},
]


def _normalise(entry: Any) -> dict[str, str]:
    if isinstance(entry, dict):
        return {k: str(v) for k, v in entry.items() if k in ("code", "display", "definition") and v}
    code, display = entry[0], entry[1]
    return {"code": str(code), "display": str(display)}


def _clinical_concepts() -> list[dict[str, str]]:
    try:
        module = importlib.import_module("prpclinic.fhir.resources.clinical_codes")
    except ModuleNotFoundError as exc:
        if exc.name != "prpclinic.fhir.resources.clinical_codes":
            raise
        return []
    return [_normalise(entry) for entry in getattr(module, "CONCEPTS", [])]


def concepts() -> list[dict[str, str]]:
    """Every local concept, admin first, without duplicate codes (first wins)."""
    seen: set[str] = set()
    merged: list[dict[str, str]] = []
    for concept in [*_ADMIN_CONCEPTS, *_clinical_concepts()]:
        if concept["code"] not in seen:
            seen.add(concept["code"])
            merged.append(concept)
    return merged


def local_codes() -> set[str]:
    return {c["code"] for c in concepts()}


def local_coding(code: str, display: str | None = None) -> dict[str, str]:
    """A coding in the local CodeSystem; an unknown code is a programming error, caught at build time."""
    known = {c["code"]: c["display"] for c in concepts()}
    if code not in known:
        raise KeyError(f"{code} is not in the prpclinic CodeSystem")
    return {"system": LOCAL_SYSTEM, "code": code, "display": display or known[code]}


def codesystem_json() -> dict[str, Any]:
    """The CodeSystem resource (built and validated with R4B by the caller)."""
    items = concepts()
    return {
        "resourceType": "CodeSystem",
        "id": CODESYSTEM_ID,
        "url": LOCAL_SYSTEM,
        "name": "PrpclinicLocalCodes",
        "title": "prpclinic local codes",
        "status": "active",
        "content": "complete",
        "caseSensitive": True,
        "count": len(items),
        "concept": items,
    }
