"""Forms of the calendar: which day and view to show, and moving an appointment (by drag or by click)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms


class DayForm(forms.Form):
    """The query string of a calendar page; anything unreadable falls back to today."""

    date = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    by = forms.ChoiceField(choices=[("clinician", "By clinician"), ("room", "By room")], required=False)
    clinician = forms.IntegerField(required=False, min_value=1)
    room = forms.IntegerField(required=False, min_value=1)

    def value(self, name: str, default: Any = None) -> Any:
        if not self.is_valid():
            return default
        found = self.cleaned_data.get(name)
        return default if found in (None, "") else found


class MoveForm(forms.Form):
    """A new local date and clock time, and optionally another clinician or room."""

    date = forms.DateField(input_formats=["%Y-%m-%d"], widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(input_formats=["%H:%M"], widget=forms.TimeInput(attrs={"type": "time", "step": 300}))
    clinician = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    room = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    shift_following = forms.BooleanField(
        required=False, label="Also move the later booked sessions of this series by the same amount"
    )

    def __init__(
        self, *args: Any, clinicians: list[Any] = (), rooms: list[Any] = (), has_following: bool = False, **kwargs: Any
    ) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.fields["clinician"].choices = [("", "Same clinician"), *((u.pk, u.full_name) for u in clinicians)]
        self.fields["room"].choices = [("", "Same room"), *((r.pk, r.name) for r in rooms)]
        if not has_following:
            del self.fields["shift_following"]

    def local_date_time(self) -> tuple[dt.date, dt.time]:
        return self.cleaned_data["date"], self.cleaned_data["time"]
