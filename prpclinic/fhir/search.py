"""FHIR search: parse the query string of ``GET /fhir/R4/<Type>?…`` into a filtered, ordered queryset and a page.

Supported: ``_id``, ``patient``/``subject`` (reference), ``date`` (prefixes ``eq ge le gt lt``; a date without a
time means the whole UTC day), ``identifier`` and the other parameters a type registers, ``_count`` (default 20,
max 100), ``_include`` (the includes a type registers) and ``_cursor`` (the opaque keyset cursor of a ``next`` link).
Unknown parameters are refused with 400: a client that thinks it filtered must not get everything.
Paging is keyset on the primary key (``pk > last``), signed so a client cannot forge one; a page costs the same
queries whatever its position.
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

from prpclinic.fhir.registry import BuildContext, Include, ResourceDef, SearchError, SearchParam

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


@dataclass(frozen=True)
class SearchRequest:
    filters: list[tuple[str, SearchParam, str]]
    count: int
    after: int | None
    includes: list[tuple[str, Include]]


def parse(definition: ResourceDef, query: QueryDict) -> SearchRequest:
    """Validate the query string against the type's parameters (raises SearchError for a bad one)."""
    params = definition.all_search_params()
    if "patient" in params and "subject" not in params:
        params["subject"] = params["patient"]
    filters: list[tuple[str, SearchParam, str]] = []
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
            filters.append((name, params[name], value))
    fmt = query.get("_format")
    if fmt not in (None, "json", "application/json", "application/fhir+json"):
        raise SearchError("Only JSON is served (_format=json).")
    return SearchRequest(
        filters=filters,
        count=_count(query.get("_count")),
        after=_cursor(query.get("_cursor")),
        includes=_includes(definition, query.getlist("_include")),
    )


def _count(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_COUNT
    if not raw.isdigit():
        raise SearchError("_count must be a whole number.")
    return max(1, min(int(raw), MAX_COUNT))


def make_cursor(last_pk: int) -> str:
    return signing.dumps(last_pk, salt=CURSOR_SALT, compress=False)


def _cursor(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        value = signing.loads(raw, salt=CURSOR_SALT)
    except signing.BadSignature as exc:
        raise SearchError("The paging cursor is not valid; start the search again.") from exc
    if not isinstance(value, int):
        raise SearchError("The paging cursor is not valid; start the search again.")
    return value


def _includes(definition: ResourceDef, values: list[str]) -> list[tuple[str, Include]]:
    result: list[tuple[str, Include]] = []
    for value in values:
        source, _, name = value.partition(":")
        name = name.split(":", 1)[0]
        if source != definition.type_name or name not in definition.includes:
            supported = ", ".join(f"{definition.type_name}:{n}" for n in definition.includes) or "none"
            raise SearchError(f"Unsupported _include {value} (supported: {supported}).")
        result.append((value, definition.includes[name]))
    return result


def apply(definition: ResourceDef, queryset: QuerySet, request: SearchRequest, ctx: BuildContext) -> QuerySet:
    """The queryset filtered by every search parameter (AND across parameters, OR across commas)."""
    for name, param, value in request.filters:
        if param.filter is not None:
            queryset = param.filter(queryset, value, ctx)
            continue
        condition = Q(pk__in=[])
        for part in value.split(","):
            condition |= _condition(definition, name, param, part.strip(), queryset.model)
        queryset = queryset.filter(condition)
    return queryset


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
            pk = as_id(code)
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


def page(queryset: QuerySet, request: SearchRequest) -> tuple[list[Any], int | None]:
    """One page of rows in primary-key order, and the last pk when there is a next page."""
    ordered = queryset.order_by("pk")
    if request.after is not None:
        ordered = ordered.filter(pk__gt=request.after)
    rows = list(ordered[: request.count + 1])
    if len(rows) > request.count:
        rows = rows[: request.count]
        return rows, rows[-1].pk
    return rows, None
