from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("patients", "0003_externalidentifier")]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="no_reminders",
            field=models.BooleanField(
                db_default=False,
                default=False,
                help_text="The patient asked not to get appointment reminders, aftercare or next-session messages.",
                verbose_name="No reminders or messages",
            ),
        ),
    ]
