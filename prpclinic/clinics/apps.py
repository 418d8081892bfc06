from django.apps import AppConfig


class ClinicsConfig(AppConfig):
    name = "prpclinic.clinics"
    label = "clinics"
    verbose_name = "Clinics and staff"

    def ready(self) -> None:
        from prpclinic import checks  # noqa: F401  (registers the system checks)
        from prpclinic.clinics import signals  # noqa: F401  (login/logout audit)
