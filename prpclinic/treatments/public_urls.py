"""The clinic's public information pages under /info/ (no sign-in). The intake app's
questionnaire at /info/<slug>/<kind>/screening/ follows these patterns."""

from django.urls import path, re_path

from prpclinic.treatments import public_views

urlpatterns = [
    path("<slug:slug>/", public_views.clinic_info, name="info_clinic"),
    # Only the three kinds, so this pattern never shadows another app's page under /info/<slug>/.
    re_path(
        r"^(?P<slug>[-a-zA-Z0-9_]+)/(?P<kind>microneedling_prp|prp_scalp|mesotherapy)/$",
        public_views.treatment_info,
        name="info_treatment",
    ),
]
