"""Staff pages of the reminders app: the clinic's settings, the log, and one's own calendar feed."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from prpclinic.clinics.access import clinic_view
from prpclinic.reminders import dispatch, selectors, services
from prpclinic.reminders.forms import ReminderSettingsForm


@clinic_view("reminders.manage")
@require_http_methods(["GET", "POST"])
def reminder_settings(request: HttpRequest) -> HttpResponse:
    current = selectors.settings_for(clinic_id=request.clinic.pk)
    form = ReminderSettingsForm(request.POST if request.method == "POST" else None, instance=current)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in services.SETTINGS_FIELDS}
        try:
            services.reminder_settings_save(request=request, data=data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Reminder settings saved.")
            return redirect("reminders_settings")
    return render(request, "reminders/settings.html", {"form": form}, status=400 if form.errors else 200)


@clinic_view("reminders.manage")
@require_http_methods(["GET"])
def reminder_log(request: HttpRequest) -> HttpResponse:
    rows = selectors.reminder_log(clinic_id=request.clinic.pk)
    return render(request, "reminders/log.html", {"rows": rows, "limit": selectors.LOG_LIMIT})


@clinic_view("schedule.feed")
@require_http_methods(["GET", "POST"])
def calendar_feed(request: HttpRequest) -> HttpResponse:
    """One's own feed: its state; POST makes a new one (shown once) and stops the old one."""
    new_url = ""
    if request.method == "POST":
        token = services.feed_token_create(request=request)
        new_url = dispatch.absolute(reverse("reminders_feed_ics", args=[token]))
        messages.success(request, "Your new calendar feed is ready. Copy its address now: it is shown only once.")
    live = selectors.live_feed_token(clinic_id=request.clinic.pk, user_id=request.user.pk)
    return render(request, "reminders/feed.html", {"live": live, "new_url": new_url})


@clinic_view("schedule.feed")
@require_POST
def calendar_feed_revoke(request: HttpRequest) -> HttpResponse:
    if services.feed_token_revoke(request=request):
        messages.success(request, "Your calendar feed is stopped: its address no longer works.")
    else:
        messages.info(request, "You had no calendar feed.")
    return redirect("reminders_feed")
