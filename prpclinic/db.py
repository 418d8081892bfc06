"""How the app talks to its database, where that differs by statement."""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable, get_related_populators
from django.utils import timezone

M = TypeVar("M", bound=Model)


@contextmanager
def planned_for_its_values() -> Iterator[None]:
    """Run the statements inside without a prepared statement: PostgreSQL plans each for its values.

    The app prepares statements on PostgreSQL (settings: ``DATABASE_PREPARED_STATEMENTS``), so a
    statement run often is planned once per connection, for any values. That is right for
    almost every read; it is wrong where the best plan depends on the value itself. A name
    fragment (``LIKE '%mul%'``) is the case here: planned for the fragment, PostgreSQL reads
    the trigram index and sorts the few thousand matches (16 ms for ``mul`` among 100,000
    patients); a generic plan cannot know how selective the fragment is, intersects it with
    the clinic's index of every patient and took 44 ms (docs/benchmark.md). Elsewhere a no-op.
    """
    if connection.vendor != "postgresql" or not connection.settings_dict["OPTIONS"].get("prepare_threshold"):
        yield
        return
    connection.ensure_connection()
    raw = connection.connection
    before = raw.prepare_threshold
    raw.prepare_threshold = None  # psycopg: no statement on this connection is prepared meanwhile
    try:
        yield
    finally:
        raw.prepare_threshold = before


# --- Reads compiled once -----------------------------------------------------------------------
#
# Django compiles a queryset to SQL on every execution: resolving the filters, the select list of
# every ``select_related`` model and the ordering. For the chart that was a third of its CPU time
# (docs/benchmark.md), spent producing the same SQL text with different ids. ``compiled_read``
# builds a read's queryset once per thread, database and time zone with marker values in place of
# its parameters, keeps the SQL and where each parameter goes, and from then on only runs that SQL
# with the new values and turns the rows into model instances as Django's own iterator does
# (``select_related`` objects, annotations, deferred fields). Related rows come from a second
# compiled read, attached with ``attach_related``.
# ``tests/test_compiled_reads.py`` checks each compiled read against its plain queryset.

_MARKER_BASES = (-7_316_000_000_000, -8_427_000_000_000)  # ids no table holds; one per parameter below
_MARKER_STEP = 10_000
_ID_MIN, _ID_MAX = -(2**63), 2**63 - 1
COMPILED_READS: list[CompiledRead[Any]] = []  # every compiled read, for tests/test_compiled_reads.py


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, str, Callable[[Any], Any]], ...]  # (position, parameter, how its value is written)
    model: type[Model]
    init_list: tuple[str, ...]
    start: int
    end: int
    populators: tuple[Any, ...]
    annotations: tuple[tuple[str, int], ...]
    converters: tuple[tuple[int, tuple[Callable[..., Any], ...], Any], ...]


class CompiledRead(Generic[M]):
    """A read whose SQL is built once; calling it with the parameters returns the model instances.

    ``build`` takes keyword parameters (``int`` or ``str`` values: ids and codes) and returns a
    queryset of model instances. Only what stays the same between calls may shape the query
    (filters on constants, ordering); the parameters may appear anywhere, as themselves or as
    text (``object_id=str(patient_id)``). A build that computes on a parameter (``patient_id + 1``)
    or whose SQL changes with one is refused when first compiled, not answered wrongly.

    ``limit``: the rows read (``LIMIT``), fixed in the compiled SQL. A call may ask for another
    number (``read(..., limit=500)``); that one is built and compiled by Django as usual.
    """

    def __init__(self, build: Callable[..., QuerySet[M]], *, limit: int | None = None) -> None:
        self.build = build
        self.limit = limit
        self.names = tuple(inspect.signature(build).parameters)
        self._local = threading.local()
        functools.update_wrapper(self, build)
        COMPILED_READS.append(self)

    def __call__(self, *, limit: int | None = None, **values: Any) -> list[M]:
        if set(values) != set(self.names):
            raise TypeError(f"{self.build.__name__} takes {', '.join(self.names)}")
        if limit is not None and limit != self.limit:
            return list(self.build(**values)[:limit])
        alias = DEFAULT_DB_ALIAS
        key = (alias, connections[alias].vendor, timezone.get_current_timezone_name())
        cache = self._local.__dict__.setdefault("compiled", {})
        compiled = cache.get(key)
        if compiled is None:
            compiled = cache[key] = self._compile(alias)
        return self._run(compiled, alias, values)

    def queryset(self, **values: Any) -> QuerySet[M]:
        """The plain queryset for these values (what the compiled read must equal)."""
        queryset = self.build(**values)
        return queryset if self.limit is None else queryset[: self.limit]

    def _compile(self, alias: str) -> _Compiled:
        name = f"{self.build.__module__}.{self.build.__qualname__}"
        # Built twice, with two sets of markers: a parameter is where the markers are, and every
        # other value must come out the same both times (else the build computed on a parameter).
        compiled = []
        for base in _MARKER_BASES:
            markers = {param: base - i * _MARKER_STEP for i, param in enumerate(self.names)}
            queryset = self.queryset(**markers)
            if queryset._iterable_class is not ModelIterable or queryset._fields or queryset._known_related_objects:
                raise TypeError(f"{name}: only querysets of model instances can be compiled")
            if queryset._prefetch_related_lookups:
                # Its queries would be Django's own on every call (and a Prefetch's queryset would
                # keep the markers as its values): compile the related read too, see attach_related.
                raise TypeError(f"{name}: prefetch_related cannot be compiled; use attach_related")
            compiler = queryset.query.get_compiler(using=alias)
            sql, params = compiler.as_sql()
            forms: dict[Any, tuple[str, Callable[[Any], Any]]] = {}
            for param, marker in markers.items():
                forms[marker] = (param, _as_is)
                forms[str(marker)] = (param, str)
            compiled.append((sql, tuple(params), forms, compiler))
        (sql, params, forms, compiler), (sql_b, params_b, forms_b, _) = compiled
        if sql != sql_b or len(params) != len(params_b):
            raise TypeError(f"{name}: the SQL's shape depends on a parameter")
        slots = []
        for position, (value, value_b) in enumerate(zip(params, params_b, strict=True)):
            slot = forms.get(value) if _scalar(value) else None
            if slot is not None and _scalar(value_b) and forms_b.get(value_b) == slot:
                slots.append((position, *slot))
            elif value != value_b:
                raise TypeError(f"{name}: a parameter is used as {value!r}, which cannot be compiled")
        missing = set(self.names) - {param for _, param, _ in slots}
        if missing:
            raise TypeError(f"{name}: {', '.join(sorted(missing))} not found in the SQL's parameters")
        select, klass_info = compiler.select, compiler.klass_info
        first, last = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        fields = [s[0] for s in select[0 : compiler.col_count]]
        converters = tuple(
            (position, tuple(convs), expression)
            for position, (convs, expression) in compiler.get_converters(fields).items()
        )
        return _Compiled(
            sql=sql,
            params=tuple(params),
            slots=tuple(slots),
            model=klass_info["model"],
            init_list=tuple(f[0].target.attname for f in select[first:last]),
            start=first,
            end=last,
            populators=tuple(get_related_populators(klass_info, select, alias)),
            annotations=tuple((compiler.annotation_col_map or {}).items()),
            converters=converters,
        )

    def _run(self, compiled: _Compiled, alias: str, values: dict[str, Any]) -> list[M]:
        if any(isinstance(v, int) and not _ID_MIN <= v <= _ID_MAX for v in values.values()):
            # No row has an id beyond 64 bits (a URL's <int:> takes any digits): nothing, as
            # Django answers, where the driver would raise (SQLite: OverflowError, a 500).
            return []
        params = list(compiled.params)
        for position, name, write in compiled.slots:
            params[position] = write(values[name])
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        objects: list[M] = []
        model, init_list, start, end = compiled.model, list(compiled.init_list), compiled.start, compiled.end
        for raw in rows:
            row = list(raw)
            for position, convs, expression in compiled.converters:
                value = row[position]
                for convert in convs:
                    value = convert(value, expression, connection)
                row[position] = value
            obj = model.from_db(alias, init_list, row[start:end])
            for populator in compiled.populators:
                populator.populate(row, obj)
            for attr, position in compiled.annotations:
                setattr(obj, attr, row[position])
            objects.append(obj)
        return objects


def _as_is(value: Any) -> Any:
    return value


def _scalar(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def compiled_read(*, limit: int | None = None) -> Callable[[Callable[..., QuerySet[M]]], CompiledRead[M]]:
    """Decorator: ``@compiled_read()`` or ``@compiled_read(limit=50)``; see ``CompiledRead``."""

    def decorate(build: Callable[..., QuerySet[M]]) -> CompiledRead[M]:
        return CompiledRead(build, limit=limit)

    return decorate


def attach_related(objects: list[Model], name: str, rows: list[Model]) -> None:
    """Give each of ``objects`` its rows of the reverse relation ``name``, as ``prefetch_related`` would.

    For a compiled read, whose ``Prefetch`` querysets cannot be compiled: the related rows come
    from a second compiled read, and ``obj.<name>.all()`` then answers from them without a query,
    each row knowing its parent. Rows whose parent is not among ``objects`` are left out.
    """
    if not objects:
        return
    relation = objects[0]._meta.get_field(name)
    foreign_key = relation.field  # type: ignore[union-attr]
    by_parent: dict[Any, list[Model]] = {obj.pk: [] for obj in objects}
    for row in rows:
        group = by_parent.get(getattr(row, foreign_key.attname))
        if group is not None:
            group.append(row)
    for obj in objects:
        related = getattr(obj, name).get_queryset()
        related._result_cache = by_parent[obj.pk]
        related._prefetch_done = True
        for row in related._result_cache:
            foreign_key.set_cached_value(row, obj)
        obj.__dict__.setdefault("_prefetched_objects_cache", {})[foreign_key.remote_field.cache_name] = related
