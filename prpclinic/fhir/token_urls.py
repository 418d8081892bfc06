from django.urls import path

from prpclinic.fhir import token_views

# /interop/: API tokens (fhir.tokens), bulk exports (data.export), one patient's export (patient.export).
urlpatterns = [
    path("tokens/", token_views.token_list, name="fhir_tokens"),
    path("tokens/<int:token_id>/revoke/", token_views.token_revoke, name="fhir_token_revoke"),
    path("exports/", token_views.export_list, name="fhir_exports"),
    path("exports/<int:job_id>/files/<int:index>/", token_views.export_download, name="fhir_export_download"),
    path("patients/<int:patient_id>/export/", token_views.patient_export_download, name="fhir_patient_export"),
]
