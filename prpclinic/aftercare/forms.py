"""Forms of the aftercare pages. They parse input; the services decide and write."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from prpclinic.aftercare.models import AdverseEventType, AftercareContact, Outcome, Severity
from prpclinic.aftercare.selectors import EventFilters

LOCAL_INPUT = ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M")


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class AdverseEventForm(forms.Form):
    type = forms.ChoiceField(choices=[("", "Choose…"), *AdverseEventType.choices])
    type_other = forms.CharField(label="If other: what", max_length=120, required=False)
    severity = forms.ChoiceField(choices=Severity.choices, widget=forms.RadioSelect)
    serious = forms.BooleanField(
        required=False,
        label="Serious",
        help_text="Led to hospitalisation, lasting harm or danger to life, or needed intervention to prevent it.",
    )
    onset_at = forms.DateTimeField(label="Onset", input_formats=LOCAL_INPUT, widget=LocalDateTimeInput())
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, required=False)
    action_taken = forms.CharField(label="Action taken", widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    outcome = forms.ChoiceField(choices=Outcome.choices, initial=Outcome.RESOLVING)
    outcome_note = forms.CharField(label="Outcome note", max_length=2000, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("type") == AdverseEventType.OTHER and not (data.get("type_other") or "").strip():
            self.add_error("type_other", "Say what the event was.")
        return data

    def clean_onset_at(self) -> dt.datetime:
        onset: dt.datetime = self.cleaned_data["onset_at"]
        if onset > timezone.now() + dt.timedelta(minutes=2):
            raise forms.ValidationError("The onset cannot be in the future.")
        return onset


class OutcomeForm(forms.Form):
    outcome = forms.ChoiceField(choices=Outcome.choices)
    note = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))


class EventFilterForm(forms.Form):
    type = forms.ChoiceField(choices=[("", "Any type"), *AdverseEventType.choices], required=False)
    severity = forms.ChoiceField(choices=[("", "Any severity"), *Severity.choices], required=False)
    outcome = forms.ChoiceField(
        choices=[("", "Any outcome"), *Outcome.choices], required=False, label="Current outcome"
    )
    serious = forms.BooleanField(required=False, label="Serious only")
    since = forms.DateField(required=False, label="Onset from", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="Onset to", widget=forms.DateInput(attrs={"type": "date"}))

    def filters(self) -> EventFilters:
        """The filters asked for; a field that did not parse is ignored (the form shows why)."""
        data = self.cleaned_data if self.is_valid() else {}

        def day_start(day: dt.date | None, plus: int = 0) -> dt.datetime | None:
            if day is None:
                return None
            return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=plus), dt.time.min))

        return EventFilters(
            type=data.get("type", ""),
            severity=data.get("severity", ""),
            serious=bool(data.get("serious")),
            outcome=data.get("outcome", ""),
            since=day_start(data.get("since")),
            until=day_start(data.get("until"), plus=1),
        )


class ContactForm(forms.ModelForm):
    class Meta:
        model = AftercareContact
        fields = ["phone", "hours", "out_of_hours", "watch_for"]
        widgets = {"out_of_hours": forms.Textarea(attrs={"rows": 2}), "watch_for": forms.Textarea(attrs={"rows": 4})}
