"""Public, token-guarded pages under /r/ (no sign-in): a clinician's feed, a patient's link."""

from django.urls import path

from prpclinic.reminders import public_views

urlpatterns = [
    path("feed/<str:token>.ics", public_views.feed_ics, name="reminders_feed_ics"),
    path("<str:token>/", public_views.patient_link, name="reminders_link"),
]
