from django.apps import AppConfig


class PrpConfig(AppConfig):
    name = "prpclinic.prp"
    label = "prp"
    verbose_name = "PRP chain of custody"
