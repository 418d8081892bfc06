from django.urls import path

from prpclinic.consents import views

urlpatterns = [
    path("patients/<int:patient_id>/", views.patient_consents, name="consent_patient"),
    path("patients/<int:patient_id>/sign/<str:kind>/", views.consent_sign, name="consent_sign"),
    path("<int:consent_id>/", views.consent_detail, name="consent_detail"),
    path("<int:consent_id>/pdf/", views.consent_pdf, name="consent_pdf"),
    path("<int:consent_id>/revoke/", views.consent_revoke, name="consent_revoke"),
    path("templates/", views.template_list, name="consent_templates"),
    path("templates/<int:template_id>/", views.template_detail, name="consent_template_detail"),
    path("templates/<str:kind>/edit/", views.template_edit, name="consent_template_edit"),
    path("settings/", views.settings_edit, name="consent_settings"),
]
