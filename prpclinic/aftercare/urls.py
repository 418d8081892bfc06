from django.urls import path

from prpclinic.aftercare import views

urlpatterns = [
    path("adverse-events/", views.event_list, name="aftercare_events"),
    path("adverse-events/<int:event_id>/", views.event_detail, name="aftercare_event"),
    path("adverse-events/<int:event_id>/outcome/", views.event_outcome, name="aftercare_event_outcome"),
    path("visits/<int:visit_id>/adverse-events/new/", views.event_new, name="aftercare_event_new"),
    path("visits/<int:visit_id>/print/", views.handout_print, name="aftercare_print"),
    path("visits/<int:visit_id>/email/", views.handout_email, name="aftercare_email"),
    path("visits/<int:visit_id>/summary/", views.visit_summary, name="aftercare_summary"),
    path("patients/<int:patient_id>/timeline/", views.patient_timeline_all, name="aftercare_timeline"),
    path("contact/", views.contact_edit, name="aftercare_contact"),
]
