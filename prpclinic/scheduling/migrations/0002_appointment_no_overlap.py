"""On PostgreSQL, the database refuses two active appointments of one clinician, or in one room, that overlap.

An exclusion constraint over ``tstzrange(starts_at, ends_at)`` (half-open, so back-to-back
appointments are allowed) with ``&&``, per clinic and clinician and per clinic and room, only
for statuses that hold the slot (cancelled and no-show free it). ``btree_gist`` lets the
equality columns sit in the same GiST index. The application checks first and names the
conflicting appointment; this constraint is what makes "two bookings at once: one wins" hold.
SQLite has no such constraint: its IMMEDIATE transactions serialise writers instead.
"""

from django.db import migrations

ACTIVE = "('booked', 'checked_in', 'in_treatment', 'completed')"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    for name, column in (("appt_no_clinician_overlap", "clinician_id"), ("appt_no_room_overlap", "room_id")):
        schema_editor.execute(
            f"ALTER TABLE scheduling_appointment ADD CONSTRAINT {name} EXCLUDE USING gist "
            f"(clinic_id WITH =, {column} WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
            f"WHERE (status IN {ACTIVE})"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in ("appt_no_clinician_overlap", "appt_no_room_overlap"):
        schema_editor.execute(f"ALTER TABLE scheduling_appointment DROP CONSTRAINT IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
