from __future__ import annotations

from typing import Any

from django import forms

from prpclinic.patients.models import ExternalIdentifier, Patient, validate_identifier_system
from prpclinic.patients.services import DEMOGRAPHIC_FIELDS


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class PatientForm(forms.ModelForm):
    """Every writable field named; clinical fields only for roles that may edit them."""

    class Meta:
        model = Patient
        fields = [*DEMOGRAPHIC_FIELDS, *Patient.CLINICAL_FIELDS]
        widgets = {
            "date_of_birth": DateInput(),
            "address": forms.Textarea(attrs={"rows": 2}),
            "allergies": forms.Textarea(attrs={"rows": 2}),
            "current_medications": forms.Textarea(attrs={"rows": 2}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {"mrn": "Leave empty to generate the next number."}
        error_messages = {
            "date_of_birth": {"invalid": "Enter a real date of birth (year, month and day)."},
        }

    def __init__(self, *args: Any, clinical: bool = True, creating: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["mrn"].required = not creating
        self.fields["date_of_birth"].input_formats = ["%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y"]
        if not clinical:
            for name in Patient.CLINICAL_FIELDS:
                del self.fields[name]
        for field in self.fields.values():
            if isinstance(field, forms.CharField) and field.max_length:
                field.error_messages["max_length"] = (
                    "This is too long: at most %(limit_value)d characters (it has %(show_value)d)."
                )

    def _post_clean(self) -> None:
        # Model validation (and the MRN check) happens in the service, inside its transaction.
        pass

    def writable_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.fields}


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=300, widget=forms.TextInput(attrs={"placeholder": "Reason"}))


class MergeForm(forms.Form):
    survivor = forms.IntegerField(widget=forms.HiddenInput, error_messages={"required": "Choose the record to keep."})
    reason = forms.CharField(max_length=300)


class IdentifierForm(forms.Form):
    """A number the patient has in another system, and which system that is (a URI)."""

    system = forms.CharField(
        label="System",
        max_length=ExternalIdentifier._meta.get_field("system").max_length,
        validators=[validate_identifier_system],
        help_text="The issuer's URI, e.g. https://hospital.example/mrn or urn:oid:1.2.36.146.595.217.0.1.",
    )
    value = forms.CharField(label="Number", max_length=ExternalIdentifier._meta.get_field("value").max_length)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.error_messages["max_length"] = (
                "This is too long: at most %(limit_value)d characters (it has %(show_value)d)."
            )
