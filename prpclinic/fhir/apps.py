from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "prpclinic.fhir"
    label = "fhir"
    verbose_name = "FHIR R4 interface"
