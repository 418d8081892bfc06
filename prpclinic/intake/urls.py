from django.urls import path

from prpclinic.intake import views

urlpatterns = [
    path("patient/<int:patient_id>/new/<str:kind>/", views.screening_new, name="intake_new"),
    path("<int:screening_id>/", views.screening_detail, name="intake_detail"),
    path("<int:screening_id>/review/", views.screening_review, name="intake_review"),
    path("review/", views.review_list, name="intake_review_list"),
    path("settings/", views.screening_settings, name="intake_settings"),
    path("inbox/", views.inbox, name="intake_inbox"),
    path("inbox/<int:submission_id>/", views.submission_detail, name="intake_submission"),
    path("inbox/<int:submission_id>/file/", views.submission_file, name="intake_submission_file"),
    path("inbox/<int:submission_id>/discard/", views.submission_discard, name="intake_submission_discard"),
]
