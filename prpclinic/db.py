"""How the app talks to its database, where that differs by statement."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


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
