"""Forms of the reminders pages: they parse input; the services decide and write."""

from __future__ import annotations

from django import forms

from prpclinic.reminders.models import LinkOutcome, ReminderSettings
from prpclinic.reminders.services import SETTINGS_FIELDS


class ReminderSettingsForm(forms.ModelForm):
    class Meta:
        model = ReminderSettings
        fields = SETTINGS_FIELDS


class LinkAnswerForm(forms.Form):
    action = forms.ChoiceField(choices=[(LinkOutcome.CONFIRMED, "Confirm"), (LinkOutcome.CANCELLED, "Cancel")])
