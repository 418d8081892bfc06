from django.apps import AppConfig


class AftercareConfig(AppConfig):
    name = "prpclinic.aftercare"
    label = "aftercare"
    verbose_name = "Adverse events and aftercare"
