"""Forms of the scheduling pages: booking, moving, reasons, series rows and the set-up of resources.

Times are entered as a local date and a local clock time of the clinic; ``local_instant`` turns
them into the UTC instant, refusing a clock time the change to summer time skips.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django import forms

from prpclinic.scheduling import slots
from prpclinic.scheduling.models import Weekday
from prpclinic.visits.models import TreatmentKind

DATE = {"input_formats": ["%Y-%m-%d"], "widget": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}
TIME = {"input_formats": ["%H:%M"], "widget": forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M")}


def local_instant(form: forms.Form, day: dt.date | None, clock: dt.time | None, zone: ZoneInfo) -> dt.datetime | None:
    """The UTC instant of a local date and time; None (with the error on ``time``) when it does not exist."""
    if day is None or clock is None:
        return None
    instant = slots.local_to_utc(day, clock, zone)
    if instant is None:
        form.add_error("time", f"{clock:%H:%M} does not exist on {day:%d %b %Y}: the clocks skip that hour.")
    return instant


def _choices(rows: Any, empty: str | None) -> list[tuple[Any, str]]:
    found = [(r.pk, getattr(r, "full_name", None) or r.name) for r in rows]
    return [("", empty), *found] if empty is not None else found


class BookForm(forms.Form):
    treatment = forms.ChoiceField(choices=TreatmentKind.choices)
    date = forms.DateField(**DATE)
    time = forms.TimeField(**TIME)
    clinician = forms.TypedChoiceField(coerce=int)
    room = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    centrifuge = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    tubes = forms.IntegerField(
        min_value=1, max_value=96, required=False, help_text="Leave empty for the treatment's usual number."
    )
    plan_session = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Session of a plan")
    note = forms.CharField(max_length=300, required=False)

    def __init__(
        self, *args: Any, clinicians: Any = (), rooms: Any = (), centrifuges: Any = (), sessions: Any = (),
        **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.fields["clinician"].choices = _choices(clinicians, "Choose…")
        self.fields["room"].choices = _choices(rooms, "Any free room")
        self.fields["centrifuge"].choices = _choices(centrifuges, "Any with free slots (PRP only)")
        self.fields["plan_session"].choices = [("", "None")] + [
            (s.pk, f"{s.plan.treatment.name}: session {s.number}, due {s.due_date:%Y-%m-%d}") for s in sessions
        ]


class MoveForm(forms.Form):
    date = forms.DateField(**DATE)
    time = forms.TimeField(**TIME)
    clinician = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    room = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    # Set by the asking page: "later" shifts the later sessions too, "this" moves this one only.
    shift = forms.ChoiceField(
        choices=[("", ""), ("later", "later"), ("this", "this")], required=False, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, clinicians: Any = (), rooms: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["clinician"].choices = _choices(clinicians, "Same clinician")
        self.fields["room"].choices = _choices(rooms, "Same room")


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=300, widget=forms.TextInput(attrs={"placeholder": "Reason"}))


class SeriesSearchForm(forms.Form):
    """Whom and where to propose the series with (the query string of the series page)."""

    clinician = forms.TypedChoiceField(coerce=int)
    room = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Preferred room")
    time = forms.TimeField(required=False, label="Preferred time", **TIME)

    def __init__(self, *args: Any, clinicians: Any = (), rooms: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["clinician"].choices = _choices(clinicians, "Choose…")
        self.fields["room"].choices = _choices(rooms, "Any")


class SeriesRowForm(forms.Form):
    """One session's row on the series page (prefixed ``s<session id>``)."""

    date = forms.DateField(**DATE)
    time = forms.TimeField(**TIME)
    room = forms.IntegerField(required=False)


class RoomForm(forms.Form):
    name = forms.CharField(max_length=60)
    is_active = forms.BooleanField(required=False, initial=True, label="In use")


class HoursForm(forms.Form):
    user = forms.TypedChoiceField(coerce=int, label="Clinician")
    weekday = forms.TypedChoiceField(coerce=int, choices=Weekday.choices)
    starts = forms.TimeField(**TIME)
    ends = forms.TimeField(**TIME)

    def __init__(self, *args: Any, clinicians: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = _choices(clinicians, "Choose…")


class AbsenceForm(forms.Form):
    user = forms.TypedChoiceField(coerce=int, label="Clinician")
    start_date = forms.DateField(label="From (date)", **DATE)
    start_time = forms.TimeField(label="From (time)", initial=dt.time(0), **TIME)
    end_date = forms.DateField(label="Until (date)", **DATE)
    end_time = forms.TimeField(label="Until (time)", initial=dt.time(0), **TIME)
    reason = forms.CharField(max_length=200, required=False)

    def __init__(self, *args: Any, clinicians: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = _choices(clinicians, "Choose…")


class TypeForm(forms.Form):
    prep_minutes = forms.IntegerField(min_value=0, max_value=480, label="Preparation (min)")
    spin_minutes = forms.IntegerField(min_value=0, max_value=240, label="Spin (min)")
    treatment_minutes = forms.IntegerField(min_value=1, max_value=480, label="Treatment (min)")
    tubes = forms.IntegerField(min_value=0, max_value=96, label="Tubes")
