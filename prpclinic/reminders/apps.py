from django.apps import AppConfig


class RemindersConfig(AppConfig):
    name = "prpclinic.reminders"
    label = "reminders"
    verbose_name = "Reminders"
