"""Forms of the catalogue and plan pages. Checks that span fields live in the services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from prpclinic.treatments.models import Protocol, SessionKind, Treatment
from prpclinic.treatments.protocol_rules import field_name
from prpclinic.visits.models import TreatmentKind


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


def _number(label: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        max_digits=6,
        decimal_places=3,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
        error_messages={"invalid": "Enter a number such as 0.5, or leave it empty."},
    )


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


class ProtocolForm(forms.Form):
    """The values of a protocol; saving writes the next version. Fields are built from ``protocol``."""

    sessions = forms.IntegerField(label="Sessions in the series")
    interval_days = forms.IntegerField(label="Days between sessions")
    maintenance_interval_days = forms.IntegerField(
        label="Days between maintenance sessions", required=False, help_text="Leave empty if the clinic sets none."
    )
    aftercare = forms.CharField(
        label="Aftercare instructions", widget=forms.Textarea(attrs={"rows": 8}), required=False
    )
    change_note = forms.CharField(label="What changed and why", max_length=300)

    def __init__(self, data: Any = None, *, protocol: Protocol) -> None:
        initial: dict[str, Any] = {
            "sessions": protocol.sessions,
            "interval_days": protocol.interval_days,
            "maintenance_interval_days": protocol.maintenance_interval_days,
            "aftercare": protocol.aftercare,
        }
        super().__init__(data, initial=initial)
        self.protocol = protocol
        self.with_volumes = protocol.treatment.kind != TreatmentKind.MICRONEEDLING_PRP
        self.zone_rows: list[dict[str, Any]] = []
        for zone in protocol.zones:
            keys = ["depth_min_mm", "depth_max_mm"]
            if self.with_volumes:
                keys += ["volume_min_ml_cm2", "volume_max_ml_cm2"]
            names = []
            for key in keys:
                name = field_name("zone", zone["code"], key)
                self.fields[name] = _number(f"{zone['label']}: {key.replace('_', ' ')}")
                self.initial[name] = zone.get(key)
                names.append(name)
            self.zone_rows.append({"zone": zone, "names": names})
        self.device_rows: list[dict[str, Any]] = []
        for device in protocol.devices:
            names = []
            for key in ("min_depth_mm", "max_depth_mm", "passes"):
                name = field_name("device", device["code"], key)
                self.fields[name] = _number(f"{device['label']}: {key.replace('_', ' ')}")
                self.initial[name] = device.get(key)
                names.append(name)
            self.device_rows.append({"device": device, "names": names})

    def rows(self, kind: str) -> list[dict[str, Any]]:
        """Rows of bound fields for the template: each zone or device with its fields."""
        source = self.zone_rows if kind == "zone" else self.device_rows
        return [{**row, "fields": [self[name] for name in row["names"]]} for row in source]

    def zone_table(self) -> list[dict[str, Any]]:
        return self.rows("zone")

    def device_table(self) -> list[dict[str, Any]]:
        return self.rows("device")

    def values(self) -> dict[str, Any]:
        """The protocol values the service writes: zones and devices with the edited numbers."""
        data = self.cleaned_data
        zones = []
        for zone in self.protocol.zones:
            edited = dict(zone)
            for key in ("depth_min_mm", "depth_max_mm", "volume_min_ml_cm2", "volume_max_ml_cm2"):
                name = field_name("zone", zone["code"], key)
                if name in data:
                    edited[key] = _float(data[name])
            zones.append(edited)
        devices = []
        for device in self.protocol.devices:
            edited = dict(device)
            for key in ("min_depth_mm", "max_depth_mm", "passes"):
                value = data[field_name("device", device["code"], key)]
                edited[key] = int(value) if key == "passes" and value is not None else _float(value)
            devices.append(edited)
        return {
            "sessions": data["sessions"],
            "interval_days": data["interval_days"],
            "maintenance_interval_days": data["maintenance_interval_days"],
            "aftercare": data["aftercare"].strip(),
            "zones": zones,
            "devices": devices,
        }


class TreatmentTextForm(forms.ModelForm):
    class Meta:
        model = Treatment
        fields = ["name", "summary", "patient_text", "is_offered"]
        widgets = {"patient_text": forms.Textarea(attrs={"rows": 10})}
        help_texts = {
            "patient_text": "Shown on the clinic's public page for this treatment; a blank line starts a paragraph."
        }

    def _post_clean(self) -> None:
        pass  # the service validates and saves, inside its transaction


class CocktailForm(forms.Form):
    name = forms.CharField(max_length=120)
    ingredients = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), help_text="One ingredient per line, as the manufacturer lists them."
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000)

    def ingredient_list(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["ingredients"].replace(",", "\n").splitlines()]


class VialLotForm(forms.Form):
    cocktail = forms.TypedChoiceField(coerce=int, choices=())
    lot_number = forms.CharField(max_length=60)
    expiry_date = forms.DateField(
        widget=DateInput(), error_messages={"invalid": "Enter the expiry date (year, month, day)."}
    )

    def __init__(self, data: Any = None, *, cocktails: list[Any]) -> None:
        super().__init__(data)
        self.fields["cocktail"].choices = [("", "Choose…")] + [(c.pk, c.name) for c in cocktails if c.is_active]


class PlanForm(forms.Form):
    kind = forms.ChoiceField(label="Treatment", choices=TreatmentKind.choices)
    start_date = forms.DateField(label="First session", widget=DateInput())
    sessions = forms.IntegerField(
        label="Sessions", required=False, min_value=1, help_text="Empty: as many as the protocol says."
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        error_messages={"required": "Give the reason for this change; it is kept in the plan's history."},
    )


class AddSessionForm(ReasonForm):
    due_date = forms.DateField(widget=DateInput())
    kind = forms.ChoiceField(choices=SessionKind.choices, initial=SessionKind.SERIES)


class SessionChoiceForm(ReasonForm):
    session = forms.IntegerField(widget=forms.HiddenInput())


class MoveSessionForm(SessionChoiceForm):
    due_date = forms.DateField(label="New date", widget=DateInput())
    shift_following = forms.BooleanField(label="Move the later sessions by as many days", required=False)


class CountForm(ReasonForm):
    sessions = forms.IntegerField(label="Sessions in the series", min_value=1)


class MaintenanceForm(ReasonForm):
    count = forms.IntegerField(label="Maintenance sessions to add", min_value=1, initial=1)


class StopForm(ReasonForm):
    pass
