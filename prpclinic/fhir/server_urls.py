from django.urls import path

from prpclinic.fhir import binary, views
from prpclinic.fhir.codesystems import CODESYSTEM_ID

# /fhir/R4/: the CapabilityStatement, the local CodeSystem, Binary (read by id only), then read and search of every
# registered type. Binary comes before the generic routes, which would otherwise answer "not a type served here".
urlpatterns = [
    path("metadata", views.metadata, name="fhir_metadata"),
    path(f"CodeSystem/{CODESYSTEM_ID}", views.codesystem, name="fhir_codesystem"),
    path("Binary/<str:resource_id>", binary.read_binary, name="fhir_binary"),
    path("Binary", binary.search_binary, name="fhir_binary_search"),
    path("<str:type_name>/<str:resource_id>", views.read, name="fhir_read"),
    path("<str:type_name>", views.search_type, name="fhir_search"),
]
