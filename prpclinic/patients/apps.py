from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "prpclinic.patients"
    label = "patients"
    verbose_name = "Patients"
