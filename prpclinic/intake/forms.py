"""Forms of the screening pages: they parse input; the services and rules decide."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from prpclinic.intake import rules
from prpclinic.intake.models import ReviewStatus
from prpclinic.patients.models import Sex, validate_date_of_birth, validate_person_name

YES_NO = [("yes", "Yes"), ("no", "No")]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


def _not_future(value: dt.date | None) -> dt.date | None:
    if value is not None and value > timezone.localdate():
        raise forms.ValidationError("This date is in the future.")
    return value


class QuestionnaireForm(forms.Form):
    """The questions of one treatment, built from the rule set: yes/no, dates of last doses, labs."""

    def __init__(self, *args: Any, treatment: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.treatment = treatment
        self.questions = rules.questions_for(treatment)
        for q in self.questions:
            if q.kind == "yes_no":
                self.fields[q.key] = forms.ChoiceField(
                    label=q.text,
                    choices=YES_NO,
                    widget=forms.RadioSelect(attrs={"class": "yes-no"}),
                    error_messages={"required": "Answer yes or no."},
                )
            elif q.kind == "date":
                self.fields[q.key] = forms.DateField(label=q.text, required=False, widget=DateInput())
            else:
                self.fields[q.key] = forms.DecimalField(
                    label=f"{q.text} ({q.unit})",
                    required=False,
                    min_value=0,
                    max_digits=7,
                    decimal_places=2,
                    help_text=q.help,
                )
                self.fields[f"{q.key}_date"] = forms.DateField(
                    label=f"{q.text}: date taken", required=False, widget=DateInput()
                )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for q in self.questions:
            if q.kind == "date" and data.get(q.key):
                try:
                    _not_future(data[q.key])
                except forms.ValidationError as exc:
                    self.add_error(q.key, exc)
            if q.kind == "lab":
                taken = data.get(f"{q.key}_date")
                if data.get(q.key) is not None and taken is None:
                    self.add_error(f"{q.key}_date", "Give the date the blood was taken.")
                if taken is not None and taken > timezone.localdate():
                    self.add_error(f"{q.key}_date", "This date is in the future.")
        return data

    def groups(self) -> list[tuple[str, list[forms.BoundField]]]:
        """Bound fields by question group, in the questionnaire's order (labs with their dates)."""
        grouped: dict[str, list[forms.BoundField]] = {}
        for q in self.questions:
            names = [q.key, f"{q.key}_date"] if q.kind == "lab" else [q.key]
            grouped.setdefault(q.group, []).extend(self[name] for name in names)
        return list(grouped.items())

    def answers(self) -> dict[str, Any]:
        """The cleaned answers in the form ``services.clean_answers`` takes."""
        out: dict[str, Any] = {}
        for q in self.questions:
            value = self.cleaned_data.get(q.key)
            if q.kind == "yes_no":
                out[q.key] = value == "yes"
            elif q.kind == "date":
                out[q.key] = value
            else:
                out[q.key] = None if value is None else {"value": value, "date": self.cleaned_data.get(f"{q.key}_date")}
        return out


class PublicQuestionnaireForm(QuestionnaireForm):
    """The patient's own questionnaire: who they are, how to reach them, then the same questions."""

    given_name = forms.CharField(label="First name", max_length=80, validators=[validate_person_name])
    family_name = forms.CharField(label="Last name", max_length=80, validators=[validate_person_name])
    date_of_birth = forms.DateField(label="Date of birth", widget=DateInput(), validators=[validate_date_of_birth])
    sex = forms.ChoiceField(label="Sex", choices=Sex.choices, initial=Sex.UNKNOWN)
    phone = forms.CharField(label="Phone", max_length=32, required=False)
    email = forms.EmailField(label="E-mail", required=False)
    # Honeypot: hidden from people by CSS; a bot that fills every field gives itself away.
    website = forms.CharField(label="Leave this empty", required=False, max_length=200)

    PERSON_FIELDS = ("given_name", "family_name", "date_of_birth", "sex", "phone", "email")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("phone") and not data.get("email"):
            self.add_error("phone", "Give a phone number or an e-mail address so that we can reach you.")
        return data

    def person_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.PERSON_FIELDS]

    def is_bot(self) -> bool:
        return bool(self.data.get("website"))

    def person(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.PERSON_FIELDS}


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[(ReviewStatus.CLEARED, "Clear: the patient may be treated"), (ReviewStatus.DECLINED, "Decline")],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose clear or decline."},
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        label="Reason (written to the record)",
        error_messages={"required": "Write the reason for your decision."},
    )


class DiscardForm(forms.Form):
    reason = forms.CharField(max_length=1000, label="Why set it aside", error_messages={"required": "Say why."})


class FileForm(forms.Form):
    """File a questionnaire: ``patient`` is a patient id, or "new" to register the sender."""

    patient = forms.CharField(max_length=20, error_messages={"required": "Choose the patient, or register a new one."})

    def clean_patient(self) -> str:
        value = self.cleaned_data["patient"]
        if value != "new" and not value.isdigit():
            raise forms.ValidationError("Choose the patient, or register a new one.")
        return value


class SearchForm(forms.Form):
    q = forms.CharField(max_length=100, label="Find a patient (name, record number or date of birth)")


class SettingsForm(forms.Form):
    validity_days = forms.IntegerField(min_value=1, max_value=365, label="A screening is valid for (days)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.configurable = [rule for rule in rules.RULES if rule.configurable]
        for rule in self.configurable:
            default = "none (the clinic sets it)" if rule.parameter is None else f"{rule.parameter}"
            field: forms.Field
            if rule.kind == "drug_timing":
                field = forms.IntegerField(min_value=0, max_value=3650, required=False)
            else:
                field = forms.DecimalField(min_value=0, max_digits=7, decimal_places=2, required=False)
            field.label = f"{rule.message} ({rule.parameter_unit})"
            field.help_text = f"Default {default} [{rule.tag}]. Leave empty for the default. {rule.source}"
            self.fields[f"rule__{rule.id}"] = field

    def overrides(self) -> dict[str, Any]:
        return {
            rule.id: self.cleaned_data[f"rule__{rule.id}"]
            for rule in self.configurable
            if self.cleaned_data.get(f"rule__{rule.id}") is not None
        }
