"""Forms of the consents pages. They parse; the services validate and write."""

from __future__ import annotations

from typing import Any

from django import forms

from prpclinic.consents.models import (
    MAX_VALIDITY_DAYS,
    ConsentSettings,
    ConsentTemplate,
    PhotoUse,
    SignerRelationship,
)
from prpclinic.consents.signature import MAX_BYTES


class SignForm(forms.Form):
    """The tablet page. Signatures arrive as PNG data URLs from the canvas (signature.js)."""

    template_id = forms.IntegerField(widget=forms.HiddenInput)
    signer_relationship = forms.ChoiceField(
        label="Who signs",
        choices=SignerRelationship.choices,
        initial=SignerRelationship.PATIENT,
        widget=forms.RadioSelect,
    )
    signer_name = forms.CharField(
        label="Full name of the person signing",
        max_length=150,
        required=False,  # the service says what is missing, next to the field
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    signature = forms.CharField(required=False, max_length=MAX_BYTES * 2, widget=forms.HiddenInput)
    photo_uses = forms.MultipleChoiceField(
        label="The photographs may be used for",
        choices=PhotoUse.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    witness_name = forms.CharField(
        label="Full name of the witness",
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    witness_signature = forms.CharField(required=False, max_length=MAX_BYTES * 2, widget=forms.HiddenInput)

    def __init__(self, *args: Any, photography: bool = False, witness: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not photography:
            del self.fields["photo_uses"]
        self.witness_required = witness
        for field in ("signature", "witness_signature"):
            self.fields[field].error_messages["max_length"] = "The signature image is too large; sign again."


class RevokeForm(forms.Form):
    reason = forms.CharField(
        label="Why is the consent withdrawn?",
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": "Reason, e.g. the patient's words"}),
    )


class TemplateForm(forms.ModelForm):
    """Every editable field named; saving writes a new version (services.consent_template_revise)."""

    change_note = forms.CharField(
        label="What changed and why", max_length=300, help_text="Kept with the version history."
    )

    class Meta:
        model = ConsentTemplate
        fields = ["title", *ConsentTemplate.SECTIONS, "statement", "validity_days"]
        widgets = {name: forms.Textarea(attrs={"rows": 6}) for name in ConsentTemplate.SECTIONS} | {
            "statement": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, headings: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, heading in (headings or {}).items():
            self.fields[name].label = heading
        self.fields["validity_days"].max_value = MAX_VALIDITY_DAYS

    def _post_clean(self) -> None:
        # The model is validated by the service, inside its transaction, on the new version.
        pass

    def writable_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.fields}


class SettingsForm(forms.ModelForm):
    class Meta:
        model = ConsentSettings
        fields = ["witness_required", "validity_days"]
