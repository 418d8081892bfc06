from django.urls import path

from prpclinic.visits import views

urlpatterns = [
    path("start/<int:patient_id>/", views.visit_start, name="visit_start"),
    path("<int:visit_id>/", views.visit_detail, name="visit_detail"),
    path("<int:visit_id>/zones/<slug:zone>/", views.zone_entry, name="visit_zone_entry"),
    path("<int:visit_id>/complete/", views.visit_complete, name="visit_complete"),
]
