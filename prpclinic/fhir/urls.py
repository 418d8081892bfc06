from django.urls import include, path

# /fhir/R4/: bulk export ($export and its status/files) first, then read, search and metadata.
urlpatterns = [
    path("", include("prpclinic.fhir.bulk_urls")),
    path("", include("prpclinic.fhir.server_urls")),
]
