"""Bundles and OperationOutcomes, built and validated with the R4B models, and the FHIR JSON response."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.resource import Resource

FHIR_JSON = "application/fhir+json"

# HTTP status -> OperationOutcome.issue.code (http://hl7.org/fhir/issue-type).
ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported", 500: "exception"}


def resource_json(resource: Resource) -> dict[str, Any]:
    return resource.model_dump(mode="json", exclude_none=True)


def fhir_response(body: dict[str, Any] | Resource, status: int = 200) -> HttpResponse:
    """A FHIR JSON response; never cached (it carries patient data)."""
    data = resource_json(body) if isinstance(body, Resource) else body
    response = HttpResponse(json.dumps(data, ensure_ascii=False), content_type=FHIR_JSON, status=status)
    response["Cache-Control"] = "no-store"
    return response


def operation_outcome(status: int, message: str) -> HttpResponse:
    outcome = OperationOutcome.model_validate(
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error" if status >= 400 else "information",
                    "code": ISSUE_CODES.get(status, "processing"),
                    "diagnostics": message,
                }
            ],
        }
    )
    response = fhir_response(outcome, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="prpclinic FHIR"'
    return response


def searchset(
    *,
    self_url: str,
    next_url: str | None,
    total: int,
    matches: list[tuple[str, Resource]],
    included: list[tuple[str, Resource]],
) -> dict[str, Any]:
    """A searchset Bundle (validated as a whole with R4B) as JSON; entries are (fullUrl, resource)."""
    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    entries = [
        {"fullUrl": url, "resource": resource_json(resource), "search": {"mode": "match"}} for url, resource in matches
    ] + [
        {"fullUrl": url, "resource": resource_json(resource), "search": {"mode": "include"}}
        for url, resource in included
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": timezone.now().isoformat(),
        "total": total,
        "link": links,
        "entry": entries,
    }
    # Validating the shell is enough: each entry's resource was built (validated) by its R4B model already.
    Bundle.model_validate({**bundle, "entry": []})
    if not entries:
        del bundle["entry"]
    return bundle
