from django.urls import include, path

# /interop/: staff pages for FHIR tokens, exports and imports.
urlpatterns = [
    path("", include("prpclinic.fhir.token_urls")),
    path("import/", include("prpclinic.fhir.import_urls")),
]
