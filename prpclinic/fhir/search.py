"""FHIR search: parse the query string of ``GET /fhir/R4/<Type>?…`` into a filtered, ordered queryset and a page.

Supported: ``_id``, ``patient``/``subject`` (reference), ``date`` (prefixes ``eq ge le gt lt``; a date without a
time means the whole UTC day), ``identifier`` and the other parameters a type registers, ``_count`` (default 20,
max 100), ``_include`` (the includes a type registers) and ``_cursor`` (the opaque keyset cursor of a ``next`` link).
Unknown parameters are refused with 400: a client that thinks it filtered must not get everything.

A type may be served from several sources (tables, see ``registry.sources``). A search spans all of them: ``total``
is the sum of each source's matches, and pages fill from the primary source first, then each further source in
order. A parameter is known when any source of the type answers it; a source that does not answer it contributes
nothing to that search (its resources do not carry the property, so none of them match; e.g.
``BiologicallyDerivedProduct?identifier=PRP-…`` finds the PRP, never its whole-blood parent).
Paging is keyset on (source index, primary key), signed so a client cannot forge it; a page costs the same queries
whatever its position.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db import models
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from prpclinic.fhir.registry import BuildContext, ResourceDef, SearchError, SearchParam

DEFAULT_COUNT = 20
MAX_COUNT = 100
CURSOR_SALT = "prpclinic.fhir.search.cursor"
# Parameters every search accepts that are not filters. _format=json is what we serve anyway.
CONTROL_PARAMS = {"_count", "_include", "_cursor", "_format", "_total"}
PREFIXES = ("eq", "ge", "le", "gt", "lt")
MAX_ID = 2**63 - 1  # larger ids exist nowhere; SQLite would overflow on them


def as_id(text: str) -> int | None:
    """A database id from a FHIR id, or None when it cannot be one (then nothing matches)."""
    if not text.isdigit() or len(text) > 19 or int(text) > MAX_ID:
        return None
    return int(text)


def source_pk(definition: ResourceDef, fhir_id: str) -> int | None:
    """The primary key of ``definition``'s row whose FHIR id is ``fhir_id``, or None when the id is not one of this
    source's (another source's prefix, or garbage)."""
    if not definition.id_prefix:
        return as_id(fhir_id)
    prefix, dash, pk = fhir_id.rpartition("-")
    if not dash or prefix != definition.id_prefix:
        return None
    return as_id(pk)


def resolve_id(sources: list[ResourceDef], fhir_id: str) -> tuple[ResourceDef, int] | None:
    """The source and primary key a FHIR id of a type names (numeric: the primary; ``<prefix>-<pk>``: the source
    with that prefix), or None for an unknown prefix or an id that cannot be one."""
    for definition in sources:
        pk = source_pk(definition, fhir_id)
        if pk is not None:
            return definition, pk
    return None


def source_params(definition: ResourceDef) -> dict[str, SearchParam]:
    """One source's parameters, with ``subject`` as an alias of ``patient`` where the source has no own one."""
    params = definition.all_search_params()
    if "patient" in params and "subject" not in params:
        params["subject"] = params["patient"]
    return params


@dataclass(frozen=True)
class SearchRequest:
    # (name, value): each source resolves the name to its own SearchParam (its own ORM path) in apply().
    filters: list[tuple[str, str]]
    count: int
    after: tuple[int, int] | None  # (source index, last pk on the previous page)
    includes: list[tuple[str, str]]  # (value as asked, include name)


def parse(sources: list[ResourceDef], query: QueryDict) -> SearchRequest:
    """Validate the query string against the parameters of the type's sources (raises SearchError for a bad one)."""
    definition = sources[0]
    params: dict[str, SearchParam] = {}
    for source in sources:
        for name, param in source_params(source).items():
            params.setdefault(name, param)
    filters: list[tuple[str, str]] = []
    for raw_name in query:
        name = raw_name.split(":", 1)[0]  # modifiers (:exact, :missing) are not supported
        if raw_name != name:
            raise SearchError(f"Search modifiers are not supported ({raw_name}).")
        if name in CONTROL_PARAMS:
            continue
        if name not in params:
            raise SearchError(f"Unknown search parameter {name} for {definition.type_name}.")
        for value in query.getlist(raw_name):
            if value == "":
                raise SearchError(f"The search parameter {name} has no value.")
            filters.append((name, value))
    fmt = query.get("_format")
    if fmt not in (None, "json", "application/json", "application/fhir+json"):
        raise SearchError("Only JSON is served (_format=json).")
    return SearchRequest(
        filters=filters,
        count=_count(query.get("_count")),
        after=_cursor(query.get("_cursor"), len(sources)),
        includes=_includes(sources, query.getlist("_include")),
    )


def _count(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_COUNT
    if not raw.isdigit():
        raise SearchError("_count must be a whole number.")
    return max(1, min(int(raw), MAX_COUNT))


def make_cursor(source_index: int, last_pk: int) -> str:
    """The signed cursor of a ``next`` link: resume at source ``source_index`` after ``last_pk``."""
    return signing.dumps([source_index, last_pk], salt=CURSOR_SALT, compress=False)


def _cursor(raw: str | None, source_count: int) -> tuple[int, int] | None:
    if raw is None:
        return None
    invalid = "The paging cursor is not valid; start the search again."
    try:
        value = signing.loads(raw, salt=CURSOR_SALT)
    except signing.BadSignature as exc:
        raise SearchError(invalid) from exc
    if isinstance(value, int) and not isinstance(value, bool):
        value = [0, value]  # a cursor signed before types had several sources: the primary's
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(item, int) and not isinstance(item, bool) for item in value)
        or not 0 <= value[0] < source_count
    ):
        raise SearchError(invalid)
    return value[0], value[1]


def include_names(sources: list[ResourceDef]) -> list[str]:
    """Every ``_include`` name any source of a type answers, in registration order."""
    names: list[str] = []
    for source in sources:
        names += [name for name in source.includes if name not in names]
    return names


def _includes(sources: list[ResourceDef], values: list[str]) -> list[tuple[str, str]]:
    type_name = sources[0].type_name
    known = include_names(sources)
    result: list[tuple[str, str]] = []
    for value in values:
        source, _, name = value.partition(":")
        name = name.split(":", 1)[0]
        if source != type_name or name not in known:
            supported = ", ".join(f"{type_name}:{n}" for n in known) or "none"
            raise SearchError(f"Unsupported _include {value} (supported: {supported}).")
        result.append((value, name))
    return result


def apply(definition: ResourceDef, queryset: QuerySet, request: SearchRequest, ctx: BuildContext) -> QuerySet:
    """One source's queryset filtered by every search parameter (AND across parameters, OR across commas).

    A parameter this source does not answer matches none of its rows (see the module docstring)."""
    params = source_params(definition)
    unanswered = False
    for name, value in request.filters:
        param = params.get(name)
        if param is None:
            unanswered = True  # keep going: the other values are still checked (a bad one is a 400 everywhere)
            continue
        if param.filter is not None:
            queryset = param.filter(queryset, value, ctx)
            continue
        condition = Q(pk__in=[])
        for part in value.split(","):
            condition |= _condition(definition, name, param, part.strip(), queryset.model)
        queryset = queryset.filter(condition)
    return queryset.none() if unanswered else queryset


def _condition(definition: ResourceDef, name: str, param: SearchParam, value: str, model: type[models.Model]) -> Q:
    if param.type == "reference":
        target_id = _reference_id(name, param, value)
        return Q(**{param.path: target_id}) if target_id is not None else Q(pk__in=[])
    if param.type == "date":
        return _date_condition(name, param.path, value, model)
    if param.type == "token":
        system, bar, code = value.rpartition("|")
        if bar and param.system is not None and system not in ("", param.system):
            return Q(pk__in=[])
        code = code if bar else value
        if param.path == "pk":
            pk = source_pk(definition, code)
            return Q(pk=pk) if pk is not None else Q(pk__in=[])
        return Q(**{param.path: code})
    if param.type == "number":
        try:
            return Q(**{param.path: int(value)})
        except ValueError as exc:
            raise SearchError(f"{name} must be a number.") from exc
    return Q(**{f"{param.path}__istartswith": value})


def _reference_id(name: str, param: SearchParam, value: str) -> int | None:
    type_name, slash, pk = value.rpartition("/")
    if slash and param.target is not None and type_name.rsplit("/", 1)[-1] != param.target:
        raise SearchError(f"{name} must reference a {param.target}.")
    pk = pk if slash else value
    if not pk.isdigit():
        raise SearchError(f"{name} must be a {param.target or 'resource'} id.")
    return as_id(pk)


def _field(model: type[models.Model], path: str) -> models.Field:  # type: ignore[type-arg]
    parts = path.split("__")
    for part in parts[:-1]:
        model = model._meta.get_field(part).related_model  # type: ignore[assignment]
    return model._meta.get_field(parts[-1])  # type: ignore[return-value]


def _date_condition(name: str, path: str, value: str, model: type[models.Model]) -> Q:
    prefix = value[:2] if value[:2] in PREFIXES else "eq"
    text = value[2:] if value[:2] in PREFIXES else value
    # A "+01:00" zone sent unencoded in a query string arrives as " 01:00": read it as meant.
    text = text.replace(" ", "+")
    is_datetime_field = isinstance(_field(model, path), models.DateTimeField)
    try:
        day = parse_date(text) if len(text) == 10 else None
    except ValueError as exc:  # well formed but not a day of the calendar (2026-02-30)
        raise SearchError(f"{name}: {text} is not a date.") from exc
    if day is not None and not dt.date.min < day < dt.date.max:
        raise SearchError(f"{name}: {text} is out of range.")
    moment = None
    if day is None:
        try:
            moment = parse_datetime(text)
        except ValueError:
            moment = None
        if moment is None:
            raise SearchError(f"{name} must be a date (YYYY-MM-DD) or a date-time with a zone, e.g. ge2026-01-31.")
        if timezone.is_naive(moment):
            raise SearchError(f"{name}: a date-time needs a time zone (Z or +01:00).")
    if day is not None:
        # A date means the whole day: [start, end). On a date-time field the day is taken in UTC.
        if is_datetime_field:
            start: Any = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
            end: Any = start + dt.timedelta(days=1)
        else:
            start, end = day, day + dt.timedelta(days=1)
        ranges = {
            "eq": Q(**{f"{path}__gte": start, f"{path}__lt": end}),
            "ge": Q(**{f"{path}__gte": start}),
            "gt": Q(**{f"{path}__gte": end}),
            "le": Q(**{f"{path}__lt": end}),
            "lt": Q(**{f"{path}__lt": start}),
        }
        return ranges[prefix]
    assert moment is not None
    point: Any = moment if is_datetime_field else moment.astimezone(dt.UTC).date()
    lookup = {"eq": "", "ge": "__gte", "gt": "__gt", "le": "__lte", "lt": "__lt"}[prefix]
    return Q(**{f"{path}{lookup}": point})


def page(
    querysets: list[QuerySet], counts: list[int], request: SearchRequest
) -> tuple[list[tuple[int, Any]], tuple[int, int] | None]:
    """One page of (source index, row), each source in primary-key order, sources in order; and the cursor
    (source index, last pk) of the next page, or None when this is the last one.

    ``counts`` are each source's matches (already counted for ``total``): a source with none is not queried, and
    a page that ends exactly at the end of a source knows whether a later source still has rows."""
    start, after = request.after if request.after is not None else (0, 0)
    rows: list[tuple[int, Any]] = []
    for index in range(start, len(querysets)):
        if counts[index] == 0:
            continue
        room = request.count - len(rows)
        if room == 0:
            return rows, (index, 0)  # pks are positive: 0 means from this source's first row
        ordered = querysets[index].order_by("pk")
        if index == start and after:
            ordered = ordered.filter(pk__gt=after)
        found = list(ordered[: room + 1])
        if len(found) > room:
            rows += [(index, row) for row in found[:room]]
            return rows, (index, found[room - 1].pk)
        rows += [(index, row) for row in found]
    return rows, None
