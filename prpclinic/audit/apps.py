from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "prpclinic.audit"
    label = "audit"
    verbose_name = "Audit trail"
