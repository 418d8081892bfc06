from django.urls import path

from prpclinic.fhir import import_views

# /interop/import/: a FHIR transaction Bundle, or a CSV of patients with a column-mapping step.
urlpatterns = [
    path("", import_views.start, name="fhir_import_start"),
    path("fhir/", import_views.bundle_import, name="fhir_import_bundle"),
    path("csv/", import_views.csv_upload, name="fhir_import_csv"),
    path("csv/map/", import_views.csv_map, name="fhir_import_csv_map"),
    path("csv/cancel/", import_views.csv_cancel, name="fhir_import_csv_cancel"),
]
