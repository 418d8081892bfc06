from django.urls import path

from prpclinic.fhir import bulk

# FHIR Bulk Data: system-level $export and patient-level Patient/$export, then the status URL (GET polls, DELETE
# cancels) and the NDJSON files. fhir/urls.py includes these before the generic read route <type>/<id>, which
# would otherwise take Patient/$export for a read of a Patient whose id is "$export".
urlpatterns = [
    path("$export", bulk.export_kickoff, name="fhir_export_kickoff"),
    path("Patient/$export", bulk.patient_export_kickoff, name="fhir_patient_level_export_kickoff"),
    path("$export-status/<int:job_id>", bulk.export_status, name="fhir_export_status"),
    path("$export-file/<int:job_id>/<int:index>", bulk.export_file, name="fhir_export_file"),
]
