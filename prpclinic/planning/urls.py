from django.urls import path

from prpclinic.planning import views

urlpatterns = [
    path("", views.planner, name="planner"),
    path("calibration/<int:centrifuge_id>/", views.calibration, name="planner_calibration"),
]
