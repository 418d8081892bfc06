"""An appointment reminder is sent once per appointment *and start time*: a moved appointment gets a new one.

Rows sent before this change announced the appointment's time as it was then; the best record of it is the
appointment's start now (a move after a reminder was sent is exactly what this change starts to handle), so
they are filled in with it and nothing is re-sent for them.
"""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_subject_at(apps, schema_editor):
    ReminderLog = apps.get_model("reminders", "ReminderLog")
    Appointment = apps.get_model("scheduling", "Appointment")
    starts = Appointment.objects.filter(pk=OuterRef("appointment_id")).values("starts_at")[:1]
    ReminderLog.objects.filter(appointment__isnull=False).update(subject_at=Subquery(starts))


class Migration(migrations.Migration):
    dependencies = [
        ("reminders", "0001_initial"),
        ("scheduling", "0004_appointment_type_updated_by"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="reminderlog", name="reminder_once_per_appointment"),
        migrations.AddField(
            model_name="reminderlog", name="subject_at", field=models.DateTimeField(blank=True, null=True)
        ),
        migrations.RunPython(fill_subject_at, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="reminderlog",
            constraint=models.UniqueConstraint(
                condition=models.Q(("appointment__isnull", False)),
                fields=("clinic", "appointment", "kind", "channel", "subject_at"),
                name="reminder_once_per_appointment_time",
            ),
        ),
        migrations.AddConstraint(
            model_name="reminderlog",
            constraint=models.CheckConstraint(
                condition=models.Q(("appointment__isnull", True), ("subject_at__isnull", False), _connector="OR"),
                name="reminder_appointment_has_time",
            ),
        ),
    ]
