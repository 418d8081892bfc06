from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "prpclinic.intake"
    label = "intake"
    verbose_name = "Screening"
