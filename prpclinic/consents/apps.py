from django.apps import AppConfig


class ConsentsConfig(AppConfig):
    name = "prpclinic.consents"
    label = "consents"
    verbose_name = "Consents"
