"""Scheduling pages under /schedule/ (the calendar is under /calendar/, in calendar_urls.py)."""

from django.urls import path

from prpclinic.scheduling import setup_views, views

urlpatterns = [
    path("book/", views.book_pick_patient, name="scheduling_book_pick"),
    path("book/<int:patient_id>/", views.book, name="scheduling_book"),
    path("appointments/<int:appointment_id>/", views.appointment_detail, name="scheduling_appointment"),
    path("appointments/<int:appointment_id>/move/", views.appointment_move, name="scheduling_move"),
    path("appointments/<int:appointment_id>/<slug:action>/", views.appointment_action, name="scheduling_action"),
    path("series/<int:plan_id>/", views.series_book, name="scheduling_series"),
    path("setup/", setup_views.setup, name="scheduling_setup"),
    path("setup/rooms/", setup_views.room_add, name="scheduling_room_add"),
    path("setup/rooms/<int:room_id>/", setup_views.room_edit, name="scheduling_room_edit"),
    path("setup/hours/", setup_views.hours_add, name="scheduling_hours_add"),
    path("setup/hours/<int:hours_id>/remove/", setup_views.hours_remove, name="scheduling_hours_remove"),
    path("setup/absences/", setup_views.absence_add, name="scheduling_absence_add"),
    path("setup/absences/<int:absence_id>/withdraw/", setup_views.absence_withdraw, name="scheduling_absence_withdraw"),
    path("setup/types/<int:type_id>/", setup_views.type_edit, name="scheduling_type_edit"),
]
