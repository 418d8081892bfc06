"""Every inserted audit event gets its pending marker from the database itself.

The app wrote the marker with a second INSERT in the same transaction as the event: a chart
opening then cost BEGIN, two INSERTs and COMMIT. With this AFTER INSERT trigger the event is
one statement (atomic on its own in autocommit), and no writer, whoever it is, can insert an
event that the sealer would never see. Written for both databases: PostgreSQL and SQLite
(the embedded default) each run the same trigger, so the app has one code path.

A restore (pg_restore) loads table data before it creates triggers, so restored events do
not get a second marker; the benchmark's generator, which seals its events itself, deletes
the markers after its COPY.
"""

from django.db import migrations

PG_FORWARDS = (
    """
    CREATE OR REPLACE FUNCTION prpclinic_audit_pending_marker() RETURNS trigger AS $$
    BEGIN
        INSERT INTO audit_auditpending (event_id, chain_key) VALUES (NEW.id, NEW.chain_key);
        RETURN NULL;
    END;
    $$ LANGUAGE plpgsql;
    """,
    "CREATE TRIGGER audit_auditevent_pending_marker AFTER INSERT ON audit_auditevent "
    "FOR EACH ROW EXECUTE FUNCTION prpclinic_audit_pending_marker()",
)
PG_BACKWARDS = (
    "DROP TRIGGER IF EXISTS audit_auditevent_pending_marker ON audit_auditevent",
    "DROP FUNCTION IF EXISTS prpclinic_audit_pending_marker()",
)
SQLITE_FORWARDS = (
    "CREATE TRIGGER audit_auditevent_pending_marker AFTER INSERT ON audit_auditevent "
    "BEGIN INSERT INTO audit_auditpending (event_id, chain_key) VALUES (NEW.id, NEW.chain_key); END",
)
SQLITE_BACKWARDS = ("DROP TRIGGER IF EXISTS audit_auditevent_pending_marker",)


def _run(schema_editor, statements: dict[str, tuple[str, ...]]) -> None:
    for statement in statements.get(schema_editor.connection.vendor, ()):
        schema_editor.execute(statement, params=None)


def forwards(apps, schema_editor):
    _run(schema_editor, {"postgresql": PG_FORWARDS, "sqlite": SQLITE_FORWARDS})


def backwards(apps, schema_editor):
    _run(schema_editor, {"postgresql": PG_BACKWARDS, "sqlite": SQLITE_BACKWARDS})


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_triggers")]
    operations = [migrations.RunPython(forwards, backwards)]
