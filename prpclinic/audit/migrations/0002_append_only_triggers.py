"""On PostgreSQL, refuse UPDATE and DELETE of audit events and seals, row by row.

The app never changes an event; this makes the database refuse it too, whoever connects.
TRUNCATE is left to privileges (the app's role should not own the tables; see docs): test
databases are emptied with TRUNCATE between tests. SQLite has no such guard here: the HMAC
chain still reveals any change (verify_audit).
"""

from django.db import migrations

TABLES = ("audit_auditevent", "audit_auditseal")

FUNCTION = """
CREATE OR REPLACE FUNCTION prpclinic_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION prpclinic_audit_append_only()"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS prpclinic_audit_append_only()")


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
