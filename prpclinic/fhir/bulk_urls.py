from django.urls import path

from prpclinic.fhir import bulk

# FHIR Bulk Data: system-level $export, then the status URL (GET polls, DELETE cancels) and the NDJSON files.
urlpatterns = [
    path("$export", bulk.export_kickoff, name="fhir_export_kickoff"),
    path("$export-status/<int:job_id>", bulk.export_status, name="fhir_export_status"),
    path("$export-file/<int:job_id>/<int:index>", bulk.export_file, name="fhir_export_file"),
]
