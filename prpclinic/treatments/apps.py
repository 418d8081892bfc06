from django.apps import AppConfig


class TreatmentsConfig(AppConfig):
    name = "prpclinic.treatments"
    label = "treatments"
    verbose_name = "Treatments and series"
