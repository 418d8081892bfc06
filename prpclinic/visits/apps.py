from django.apps import AppConfig


class VisitsConfig(AppConfig):
    name = "prpclinic.visits"
    label = "visits"
    verbose_name = "Visits"
