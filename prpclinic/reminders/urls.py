"""Staff pages under /reminders/: the clinic's reminder settings and log, one's own calendar feed."""

from django.urls import path

from prpclinic.reminders import views

urlpatterns = [
    path("", views.reminder_settings, name="reminders_settings"),
    path("log/", views.reminder_log, name="reminders_log"),
    path("feed/", views.calendar_feed, name="reminders_feed"),
    path("feed/revoke/", views.calendar_feed_revoke, name="reminders_feed_revoke"),
]
