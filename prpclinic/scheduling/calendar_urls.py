"""The calendar under /calendar/: day and week grids, today's list, moving and checking in."""

from django.urls import path

from prpclinic.scheduling import calendar_views

urlpatterns = [
    path("", calendar_views.calendar_day, name="calendar_day"),
    path("week/", calendar_views.calendar_week, name="calendar_week"),
    path("today/", calendar_views.calendar_today, name="calendar_today"),
    path("appointments/<int:appointment_id>/move/", calendar_views.calendar_move, name="calendar_move"),
    path("appointments/<int:appointment_id>/check-in/", calendar_views.calendar_check_in, name="calendar_check_in"),
]
