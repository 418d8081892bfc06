"""The FHIR resource registry: which resource types the server serves and how each is read, searched and built.

Each area registers its types (``resources/admin.py``, ``resources/clinical*.py``) with :func:`register`. The server
(``views.py``), search (``search.py``), CapabilityStatement (``capability.py``) and the bulk and patient exports all
work from this registry, so a type registered here is served everywhere with the same builder.

Contract for builders: ``build(obj, ctx)`` is a pure function over rows already fetched by ``queryset(clinic_id)``
(which does the ``select_related``/``prefetch_related``), so a search page of N resources runs a fixed number of
queries. It returns an ``fhir.resources.R4B`` model; building the model is the validation. That library accepts
invalid codes and wrong reference targets, so tests check those separately.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from django.db.models import Q, QuerySet

if TYPE_CHECKING:
    from fhir.resources.R4B.resource import Resource

    from prpclinic.clinics.models import Clinic


class SearchError(ValueError):
    """A search parameter value the server cannot use: answered with 400 and an OperationOutcome."""


SearchType = Literal["token", "reference", "date", "string", "number"]


@dataclass(frozen=True)
class SearchParam:
    """One search parameter of a type.

    ``path`` is the ORM lookup path the parameter filters on:
    - ``reference``: the foreign-key id field (``"patient_id"``); the value may be ``Patient/12`` or ``12``.
    - ``date``: a date or datetime field (``"starts_at"``); prefixes ``eq``, ``ge``, ``le``, ``gt``, ``lt``.
    - ``token``: an exact field (``"status"``); ``system|code`` has the system stripped unless ``system`` is set,
      in which case a value with another system matches nothing.
    - ``string``: case-insensitive prefix match on ``path``.
    ``filter``, when given, replaces the generic handling: ``filter(queryset, value, ctx) -> QuerySet`` (raise
    :class:`SearchError` for a value it cannot use). A value with commas means OR of each part, for all types.
    """

    type: SearchType
    path: str = ""
    description: str = ""
    target: str | None = None  # reference: the resource type pointed to
    system: str | None = None  # token: the only system accepted (None: any)
    filter: Callable[[QuerySet, str, BuildContext], QuerySet] | None = None
    # For reference params, the value of a FHIR search on a served type is ``<target>/<id>``.


@dataclass(frozen=True)
class Include:
    """An ``_include`` this type supports: ``<Type>:<name>`` adds the row pointed to by ``id_attr`` (an attribute
    of the built row, e.g. ``"patient_id"``) of type ``target``, from the target's source with ``target_prefix``
    (the primary by default; ``"wb"`` for a PRP's whole-blood parent). Targets are fetched in one query per
    include and source."""

    target: str
    id_attr: str
    target_prefix: str = ""


@dataclass(frozen=True)
class ResourceDef:
    """How one FHIR resource type is served.

    ``queryset(clinic_id)`` returns the clinic's rows that are served as this type, with their related rows
    fetched (it must filter by clinic: other clinics' rows must not be reachable). ``patient_path`` is the ORM
    path from a row to its patient's id (``"patient_id"``, ``"id"`` for Patient itself, ``"visit__patient_id"``),
    or None when the type is outside the patient compartment (Device). ``date_path`` is the field of the type's
    natural date, used by ``date`` search when no ``date`` SearchParam is given explicitly and by exports.
    """

    type_name: str
    queryset: Callable[[int], QuerySet]
    build: Callable[[Any, BuildContext], Resource]
    search: dict[str, SearchParam] = field(default_factory=dict)
    includes: dict[str, Include] = field(default_factory=dict)
    patient_path: str | None = None
    date_path: str | None = None
    profile_doc: str = ""  # one line for the CapabilityStatement's resource documentation
    # A type may be served from several tables ("sources"): the primary source has no prefix and numeric ids;
    # each further source's ids are ``<id_prefix>-<pk>`` (e.g. ``wb-12`` for a whole-blood parent), so ids of
    # one type never collide across tables.
    id_prefix: str = ""

    def fhir_id(self, pk: int | str) -> str:
        """The FHIR id of this source's row ``pk``."""
        return f"{self.id_prefix}-{pk}" if self.id_prefix else str(pk)

    def all_search_params(self) -> dict[str, SearchParam]:
        """The type's own parameters plus the common ones every type answers (``_id``, ``patient``)."""
        params: dict[str, SearchParam] = {"_id": SearchParam(type="token", path="pk", description="Logical id")}
        if self.patient_path is not None and self.type_name != "Patient":
            params["patient"] = SearchParam(
                type="reference", path=self.patient_path, target="Patient", description="The patient"
            )
        if self.date_path is not None:
            params["date"] = SearchParam(type="date", path=self.date_path, description="The natural date")
        params.update(self.search)
        return params

    def patient_filter(self, patient_ids: list[int]) -> Q:
        """A Q selecting this type's rows for the given patients (patient compartment)."""
        if self.patient_path is None:
            return Q(pk__in=[])
        return Q(**{f"{self.patient_path}__in": patient_ids})


@dataclass(frozen=True)
class BuildContext:
    """What a builder may know besides the row: the server's base URL (``https://host/fhir/R4``) and the clinic."""

    base_url: str
    clinic: Clinic | None = None

    def url(self, type_name: str, pk: int | str) -> str:
        return f"{self.base_url.rstrip('/')}/{type_name}/{pk}"


def reference(type_name: str, pk: int | str | None, display: str | None = None) -> dict[str, str] | None:
    """A relative FHIR reference ``{"reference": "Patient/12"}`` (None when there is no target)."""
    if pk is None:
        return None
    ref: dict[str, str] = {"reference": f"{type_name}/{pk}"}
    if display:
        ref["display"] = display
    return ref


def display_reference(display: str) -> dict[str, str]:
    """A reference by display only, for things the server does not serve (practitioners, locations)."""
    return {"display": display}


_REGISTRY: dict[str, list[ResourceDef]] = {}
_loaded = False


def register(definition: ResourceDef) -> ResourceDef:
    """Register a source of a type. Two sources with the same type and prefix are a programming error (two
    builders for one id); the primary source (no prefix) is always listed first."""
    sources = _REGISTRY.setdefault(definition.type_name, [])
    if definition in sources:
        return definition
    if any(source.id_prefix == definition.id_prefix for source in sources):
        raise ValueError(f"FHIR type {definition.type_name} already has a source with prefix {definition.id_prefix!r}")
    sources.append(definition)
    sources.sort(key=lambda source: (source.id_prefix != "", source.id_prefix))
    return definition


def _ensure_loaded() -> None:
    # Builders register on import of prpclinic.fhir.resources; importing lazily here means no AppConfig.ready()
    # wiring and no import cycle with the apps whose models the builders read.
    global _loaded
    if not _loaded:
        _loaded = True
        importlib.import_module("prpclinic.fhir.resources")


def get(type_name: str) -> ResourceDef | None:
    """The primary definition of a served type (its search parameters and includes), or None."""
    _ensure_loaded()
    sources = _REGISTRY.get(type_name)
    return sources[0] if sources else None


def sources(type_name: str) -> list[ResourceDef]:
    """Every source of a type, primary first (empty when the type is not served)."""
    _ensure_loaded()
    return list(_REGISTRY.get(type_name, []))


def source(type_name: str, id_prefix: str) -> ResourceDef | None:
    """The source of a type with this id prefix (``""``: the primary), or None."""
    return next((item for item in sources(type_name) if item.id_prefix == id_prefix), None)


def all_types() -> list[ResourceDef]:
    """The primary definition of every served type, sorted by name (stable order for the CapabilityStatement)."""
    _ensure_loaded()
    return [_REGISTRY[name][0] for name in sorted(_REGISTRY)]


def all_sources() -> list[ResourceDef]:
    """Every source of every type, by type name then primary first: what an export must walk to miss nothing."""
    _ensure_loaded()
    return [source for name in sorted(_REGISTRY) for source in _REGISTRY[name]]
