"""Forms of the outcomes pages. They parse; the services decide (scale ranges, consent, image checks)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from prpclinic.outcomes import scales
from prpclinic.outcomes.models import PhotoView
from prpclinic.visits.models import Visit


def _visit_choices(visits: list[Visit]) -> list[tuple[str, str]]:
    return [("", "— none —")] + [
        (str(v.pk), f"{v.started_at:%Y-%m-%d} {v.get_treatment_display()}") for v in reversed(visits)
    ]


class PhotoForm(forms.Form):
    image = forms.FileField(
        label="Photo",
        help_text="JPEG, PNG or WebP. On a tablet this opens the camera. Location and device data are removed.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment", "data-photo-input": ""}),
    )
    view = forms.ChoiceField(label="View", choices=[("", "— choose —"), *PhotoView.choices])
    visit = forms.ChoiceField(label="Visit", required=False)
    session_number = forms.IntegerField(
        label="Session number",
        required=False,
        min_value=1,
        max_value=99,
        help_text="Left empty with a visit chosen: the visit's session in the treatment series.",
    )
    note = forms.CharField(label="Note", required=False, max_length=200)

    def __init__(self, *args: Any, visits: list[Visit], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["visit"].choices = _visit_choices(visits)
        self.fields["view"].widget.attrs["data-photo-view"] = ""


class ScoreForm(forms.Form):
    """The inputs of one scale; which fields appear depends on the scale's definition."""

    value = forms.CharField(label="Value", max_length=20)
    variant = forms.ChoiceField(label="Variant of the scale", required=False)
    rater = forms.ChoiceField(label="Rated by")
    area_cm2 = forms.DecimalField(
        label="Target area (cm²)", required=False, max_digits=6, decimal_places=2, min_value=0
    )
    site = forms.CharField(label="Site (where measured)", required=False, max_length=120)
    recorded_on = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    visit = forms.ChoiceField(label="Visit", required=False)
    session_number = forms.IntegerField(
        label="Session number",
        required=False,
        min_value=1,
        max_value=99,
        help_text="Left empty with a visit chosen: the visit's session in the treatment series.",
    )

    def __init__(self, *args: Any, scale: scales.Scale, visits: list[Visit], correcting: bool = False, **kwargs: Any):
        kwargs.setdefault("initial", {"recorded_on": timezone.localdate(), "rater": scale.raters[0]})
        super().__init__(*args, **kwargs)
        self.scale = scale
        value = self.fields["value"]
        value.label = f"{scale.name} ({scale.unit})" if scale.unit else scale.name
        if scale.kind == scales.ORDINAL:
            groups: list[Any] = []
            for variant in scale.variants:
                options = [(level.value, level.label) for level in variant.levels]
                groups.append((variant.label, options) if variant.label else options)
            flat = groups[0] if len(groups) == 1 and not scale.variants[0].label else groups
            value.widget = forms.Select(choices=[("", "— choose —"), *flat])
        else:
            value.widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
        if scale.variants and scale.variants[0].code:
            self.fields["variant"].choices = [(v.code, v.label) for v in scale.variants]
            self.fields["variant"].required = True
        else:
            del self.fields["variant"]
        self.fields["rater"].choices = [(r, scales.RATERS[r]) for r in scale.raters]
        if scale.needs_area:
            self.fields["area_cm2"].required = True
        elif scale.kind == scales.ORDINAL:
            del self.fields["area_cm2"]
        self.fields["visit"].choices = _visit_choices(visits)
        if correcting:
            for name in ("visit", "session_number"):
                del self.fields[name]
            self.fields["reason"] = forms.CharField(label="Why is it corrected?", max_length=300)


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=300)


class AnalyticsForm(forms.Form):
    scale = forms.ChoiceField(label="Measure", choices=[(s.code, s.name) for s in scales.SCALES.values()])
    treatment = forms.ChoiceField(label="Treatment")
    sessions = forms.IntegerField(label="After how many sessions", min_value=1, max_value=50, initial=3)
    rater = forms.ChoiceField(label="Rated by", choices=list(scales.RATERS.items()), required=False)
    variant = forms.ChoiceField(
        label="Variant (GAIS)",
        required=False,
        choices=[("", "—"), ("standard", "Standard 1–5"), ("reversed", "Reversed 0–4")],
    )

    dose_cutoffs = forms.CharField(
        label="PRP dose band cut-offs (×10⁹ platelets)",
        required=False,
        max_length=80,
        help_text="Default: DEPA's 1, 3, 5 (Magalon 2016), tagged [U] in the reference: not a validated "
        "threshold. Enter your clinic's own cut-offs, smallest first.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from prpclinic.outcomes.analytics import default_dose_cutoffs
        from prpclinic.visits.models import TreatmentKind

        super().__init__(*args, **kwargs)
        self.fields["treatment"].choices = TreatmentKind.choices
        self.fields["dose_cutoffs"].initial = ", ".join(f"{c.normalize():f}" for c in default_dose_cutoffs())

    def clean_dose_cutoffs(self) -> tuple[Decimal, ...]:
        from prpclinic.outcomes.analytics import default_dose_cutoffs, parse_cutoffs

        text = self.cleaned_data["dose_cutoffs"].strip()
        if not text:
            return default_dose_cutoffs()
        try:
            return parse_cutoffs(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
