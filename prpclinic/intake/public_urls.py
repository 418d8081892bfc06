from django.urls import path

from prpclinic.intake import public_views

urlpatterns = [
    path("<slug:slug>/<str:kind>/screening/", public_views.public_questionnaire, name="intake_public_questionnaire"),
    path("<slug:slug>/<str:kind>/screening/thanks/", public_views.public_thanks, name="intake_public_thanks"),
]
