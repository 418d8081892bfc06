from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: backups, restores and other commands for running prpclinic in production."""

    name = "prpclinic.ops"
    label = "ops"
    verbose_name = "Operations"
