"""On PostgreSQL, a trigram index so that "part of a name" search stays fast at any size.

GIN over ``search_text gin_trgm_ops`` alone: the trigram match is selective, and the clinic
filter is applied to its few rows. (A two-column GIN with btree_gin was measured worse: the
clinic's posting list is the whole clinic, so the planner avoided it.)
"""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS patient_search_trgm ON patients_patient "
        "USING gin (search_text gin_trgm_ops)"
    )
    # The two-letter prefix search (LIKE 'ab%') needs a pattern-ops B-tree under a non-C collation.
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS patient_search_prefix ON patients_patient "
        "(clinic_id, search_text varchar_pattern_ops)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS patient_search_trgm")
    schema_editor.execute("DROP INDEX IF EXISTS patient_search_prefix")


class Migration(migrations.Migration):
    dependencies = [("patients", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
