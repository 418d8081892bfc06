from django.urls import path

from prpclinic.planning import views

urlpatterns = [
    path("", views.planner, name="planner"),
]
