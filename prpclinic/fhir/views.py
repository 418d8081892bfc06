"""The FHIR R4 REST endpoints: metadata, read, search and the local CodeSystem.

Every endpoint but ``metadata`` authenticates the bearer token first (``prpclinic.fhir.auth``, which audits each
use); every row is read through its source's ``queryset(clinic_id)`` narrowed by ``FhirAccess.restrict``, so another
clinic's row (or, for a patient-context token, another patient's) is simply not found (404). A type may have several
sources: a read picks the source by the id's prefix (``wb-12``; a numeric id is the primary's), a search spans them
all (``search.page``). Scopes: ``system/*.read`` reads every type; ``patient/*.read`` reads the types of the patient
compartment (those with a ``patient_path``), of every patient or, for a token limited to one, of that patient only.
Errors are OperationOutcomes; nothing is cached.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from fhir.resources.R4B.codesystem import CodeSystem

from prpclinic.fhir import registry, search
from prpclinic.fhir.auth import FhirAccess, FhirAuthError, authenticate
from prpclinic.fhir.bundle import fhir_response, operation_outcome, searchset
from prpclinic.fhir.capability import capability_statement
from prpclinic.fhir.codesystems import codesystem_json
from prpclinic.fhir.registry import BuildContext, Include, ResourceDef, SearchError
from prpclinic.fhir.resources.clinical import AutologousRuleViolation

View = Callable[..., HttpResponse]


def base_url(request: HttpRequest) -> str:
    """``https://host/fhir/R4`` as the client reached it."""
    metadata = reverse("fhir_metadata")
    return request.build_absolute_uri(metadata[: -len("metadata")]).rstrip("/")


logger = logging.getLogger(__name__)


def fhir_get(view: View) -> View:
    """GET only, answered with an OperationOutcome otherwise; CSRF does not apply to bearer-token requests."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            response = operation_outcome(405, "This server is read-only here: use GET.")
            response["Allow"] = "GET"
            return response
        try:
            return view(request, *args, **kwargs)
        except FhirAuthError as error:
            return operation_outcome(error.status, error.message)
        except SearchError as error:
            return operation_outcome(400, str(error))
        except AutologousRuleViolation:
            # A PRP record whose donor is not the treated patient is never served; the clinic must see why.
            logger.error("fhir: autologous rule violated", extra={"path": request.path})
            return operation_outcome(
                500, "A PRP record breaks the autologous rule (donor is not the treated patient); it is not served."
            )

    return wrapper


def _allowed(access: FhirAccess, definition: ResourceDef) -> bool:
    if access.allows("system/*.read") or access.allows(f"system/{definition.type_name}.read"):
        return True
    # patient/*.read: a staff token for the clinic's patient-compartment resources (see docs/fhir.md).
    in_compartment = definition.patient_path is not None
    return in_compartment and (access.allows("patient/*.read") or access.allows(f"patient/{definition.type_name}.read"))


def _definition(access: FhirAccess, type_name: str) -> ResourceDef:
    definition = registry.get(type_name)
    if definition is None:
        raise _NotServed(type_name)
    if not _allowed(access, definition):
        raise FhirAuthError(403, f"This token's scopes do not allow reading {type_name}.")
    return definition


class _NotServed(Exception):
    pass


@fhir_get
def metadata(request: HttpRequest) -> HttpResponse:
    # Public, as FHIR and SMART expect: a client reads it before it has a token. It holds no clinic data.
    return fhir_response(capability_statement(base_url(request)))


@fhir_get
def codesystem(request: HttpRequest) -> HttpResponse:
    authenticate(request)
    return fhir_response(CodeSystem.model_validate(codesystem_json()))


@fhir_get
def read(request: HttpRequest, type_name: str, resource_id: str) -> HttpResponse:
    access = authenticate(request)
    try:
        _definition(access, type_name)
    except _NotServed:
        return operation_outcome(404, f"{type_name} is not a resource type this server serves.")
    row = None
    # A numeric id is the primary source's row, ``<prefix>-<pk>`` a further source's; anything else is unknown.
    found = search.resolve_id(registry.sources(type_name), resource_id)
    if found is not None:
        definition, pk = found
        row = access.restrict(definition, definition.queryset(access.clinic.pk)).filter(pk=pk).first()
    if found is None or row is None:
        return operation_outcome(404, f"{type_name}/{resource_id} is not known.")
    ctx = BuildContext(base_url=base_url(request), clinic=access.clinic)
    return fhir_response(definition.build(row, ctx))


@fhir_get
def search_type(request: HttpRequest, type_name: str) -> HttpResponse:
    access = authenticate(request)
    try:
        _definition(access, type_name)
    except _NotServed:
        return operation_outcome(404, f"{type_name} is not a resource type this server serves.")
    sources = registry.sources(type_name)
    parsed = search.parse(sources, request.GET)
    for _, name in parsed.includes:
        for include in _includes_named(sources, name):
            target = registry.get(include.target)
            if target is None or not _allowed(access, target):
                raise FhirAuthError(403, f"This token's scopes do not allow reading {include.target}.")
    base = base_url(request)
    ctx = BuildContext(base_url=base, clinic=access.clinic)
    # A type's search spans every source: one count per source (total is their sum), then the page fills from the
    # primary source and each further one in order (search.page).
    querysets = [
        search.apply(source, access.restrict(source, source.queryset(access.clinic.pk)), parsed, ctx)
        for source in sources
    ]
    counts = [queryset.count() for queryset in querysets]
    rows, cursor = search.page(querysets, counts, parsed)
    matches = []
    for index, row in rows:
        source = sources[index]
        matches.append((ctx.url(type_name, source.fhir_id(row.pk)), source.build(row, ctx)))
    included = _included(access, parsed, [(sources[index], row) for index, row in rows], ctx)
    self_query = [(k, v) for k in request.GET for v in request.GET.getlist(k) if k != "_cursor"]
    self_url = f"{base}/{type_name}" + (f"?{urlencode(self_query)}" if self_query else "")
    if parsed.after is not None:
        self_url += ("&" if self_query else "?") + urlencode({"_cursor": request.GET["_cursor"]})
    next_url = None
    if cursor is not None:
        next_query = [*self_query, ("_cursor", search.make_cursor(*cursor))]
        next_url = f"{base}/{type_name}?{urlencode(next_query)}"
    body = searchset(self_url=self_url, next_url=next_url, total=sum(counts), matches=matches, included=included)
    return fhir_response(body)


def _includes_named(sources: list[ResourceDef], name: str) -> list[Include]:
    return [source.includes[name] for source in sources if name in source.includes]


def _included(
    access: FhirAccess, parsed: search.SearchRequest, rows: list[tuple[ResourceDef, Any]], ctx: BuildContext
) -> list[tuple[str, Any]]:
    """One query (plus the target's prefetches) per _include and target source; each included resource once.

    Each matched row's source says where its include points (a PRP's ``parent`` is a ``wb-`` whole blood)."""
    included: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for _, name in parsed.includes:
        wanted: dict[tuple[str, str], set[Any]] = {}
        for source, row in rows:
            include = source.includes.get(name)
            if include is None:
                continue  # this source's resources do not carry that reference
            target_id = getattr(row, include.id_attr)
            if target_id is not None:
                wanted.setdefault((include.target, include.target_prefix), set()).add(target_id)
        for (type_name, prefix), ids in wanted.items():
            target = registry.source(type_name, prefix)
            assert target is not None  # a registered include names a registered source
            rows_of_target = access.restrict(target, target.queryset(access.clinic.pk))
            for target_row in rows_of_target.filter(pk__in=ids).order_by("pk"):
                url = ctx.url(type_name, target.fhir_id(target_row.pk))
                if url not in seen:
                    seen.add(url)
                    included.append((url, target.build(target_row, ctx)))
    return included
