from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "prpclinic.scheduling"
    label = "scheduling"
    verbose_name = "Scheduling"
