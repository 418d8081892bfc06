from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "prpclinic.planning"
    label = "planning"
    verbose_name = "Centrifuge protocol planner"
