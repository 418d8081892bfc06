from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "prpclinic.outcomes"
    label = "outcomes"
    verbose_name = "Outcomes"
