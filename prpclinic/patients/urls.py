from django.urls import path

from prpclinic.patients import views

urlpatterns = [
    path("", views.patient_list, name="patient_list"),
    path("search/", views.patient_search, name="patient_search"),
    path("new/", views.patient_create, name="patient_create"),
    path("<int:patient_id>/", views.patient_chart, name="patient_chart"),
    path("<int:patient_id>/edit/", views.patient_edit, name="patient_edit"),
    path("<int:patient_id>/deactivate/", views.patient_deactivate, name="patient_deactivate"),
    path("<int:patient_id>/reactivate/", views.patient_reactivate, name="patient_reactivate"),
    path("<int:patient_id>/merge/", views.patient_merge, name="patient_merge"),
    path("<int:patient_id>/identifiers/", views.patient_identifiers, name="patient_identifiers"),
]
