from django.urls import path

from prpclinic.fhir import views
from prpclinic.fhir.codesystems import CODESYSTEM_ID

# /fhir/R4/: the CapabilityStatement, the local CodeSystem, then read and search of every registered type.
urlpatterns = [
    path("metadata", views.metadata, name="fhir_metadata"),
    path(f"CodeSystem/{CODESYSTEM_ID}", views.codesystem, name="fhir_codesystem"),
    path("<str:type_name>/<str:resource_id>", views.read, name="fhir_read"),
    path("<str:type_name>", views.search_type, name="fhir_search"),
]
