from django.urls import path, re_path

from prpclinic.outcomes import views

urlpatterns = [
    path("analytics/", views.outcome_analytics, name="outcome_analytics"),
    path("analytics.csv", views.outcome_analytics_csv, name="outcome_analytics_csv"),
    path("patients/<int:patient_id>/", views.outcome_patient, name="outcome_patient"),
    path("patients/<int:patient_id>/photos/", views.outcome_photos, name="outcome_photos"),
    path("patients/<int:patient_id>/photos/new/", views.outcome_photo_upload, name="outcome_photo_upload"),
    path("patients/<int:patient_id>/compare/", views.outcome_compare, name="outcome_compare"),
    path("patients/<int:patient_id>/progress/", views.outcome_progress, name="outcome_progress"),
    path("patients/<int:patient_id>/report.pdf", views.outcome_report, name="outcome_report"),
    path(
        "patients/<int:patient_id>/scores/<slug:scale_code>/", views.outcome_score_record, name="outcome_score_record"
    ),
    re_path(
        r"^photos/(?P<photo_id>[0-9]+)/(?P<size>full|thumb|outline)/$",
        views.outcome_photo_file,
        name="outcome_photo_file",
    ),
    path("photos/<int:photo_id>/withdraw/", views.outcome_photo_withdraw, name="outcome_photo_withdraw"),
    path("scores/<int:score_id>/correct/", views.outcome_score_correct, name="outcome_score_correct"),
]
