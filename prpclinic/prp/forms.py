"""Forms of the PRP pages: they parse input; the services decide."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from prpclinic.prp.limits import WB_PLATELET_REFERENCE
from prpclinic.prp.models import (
    Activation,
    Anticoagulant,
    Centrifuge,
    ConsumableLot,
    DrawSite,
    IdentityCheck,
    LotKind,
    SpinProgram,
)
from prpclinic.prp.selectors import usable_lots
from prpclinic.prp.services.inventory import CENTRIFUGE_FIELDS, LOT_FIELDS


class DateTimeLocal(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


def now_local() -> str:
    return timezone.localtime().strftime("%Y-%m-%dT%H:%M")


class DrawForm(forms.Form):
    identity_check = forms.ChoiceField(
        choices=IdentityCheck.choices, widget=forms.RadioSelect, label="Patient identity (two identifiers)"
    )
    scanned_code = forms.CharField(
        max_length=40, required=False, label="Wristband scan", widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    drawn_at = forms.DateTimeField(widget=DateTimeLocal(), label="Drawn at")
    site = forms.ChoiceField(choices=DrawSite.choices)
    volume_ml = forms.DecimalField(max_digits=5, decimal_places=1, label="Whole blood drawn (mL)")
    tube_count = forms.IntegerField(min_value=1, max_value=12, initial=1, label="Number of tubes")
    tube_lot = forms.ModelChoiceField(queryset=ConsumableLot.objects.none(), label="Tube lot")
    kit_lot = forms.ModelChoiceField(queryset=ConsumableLot.objects.none(), required=False, label="Kit lot")
    anticoagulant = forms.ChoiceField(choices=Anticoagulant.choices, initial=Anticoagulant.CITRATE)
    platelets_k_per_ul = forms.DecimalField(
        max_digits=6, decimal_places=1, required=False, label="Platelets (10³/µL)", help_text=WB_PLATELET_REFERENCE
    )
    hematocrit_pct = forms.DecimalField(max_digits=4, decimal_places=1, required=False, label="Hematocrit (%)")
    wbc_k_per_ul = forms.DecimalField(max_digits=5, decimal_places=2, required=False, label="WBC (10³/µL)")

    def __init__(self, *args: Any, clinic_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tube_lot"].queryset = usable_lots(clinic_id=clinic_id, kind=LotKind.TUBE)
        self.fields["kit_lot"].queryset = usable_lots(clinic_id=clinic_id, kind=LotKind.KIT)
        self.fields["drawn_at"].initial = now_local()
        self.fields[
            "scanned_code"
        ].help_text = "Scan the wristband, or choose confirmation and ask name and date of birth."

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["tube_lot_id"] = data.pop("tube_lot").pk
        kit = data.pop("kit_lot")
        data["kit_lot_id"] = kit.pk if kit else None
        return data


class SpinForm(forms.Form):
    centrifuge = forms.ModelChoiceField(queryset=Centrifuge.objects.none())
    program = forms.ModelChoiceField(queryset=SpinProgram.objects.none(), required=False, empty_label="Manual settings")
    rcf = forms.IntegerField(required=False, min_value=1, label="Speed (x g)")
    rpm = forms.IntegerField(required=False, min_value=1, label="or RPM")
    minutes = forms.IntegerField(required=False, min_value=1, max_value=60)
    temperature_c = forms.IntegerField(required=False, min_value=4, max_value=37, label="Temperature (°C)")
    started_at = forms.DateTimeField(widget=DateTimeLocal())

    def __init__(self, *args: Any, clinic_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["centrifuge"].queryset = Centrifuge.objects.filter(clinic_id=clinic_id, in_service=True)
        self.fields["program"].queryset = SpinProgram.objects.filter(
            clinic_id=clinic_id, is_active=True
        ).select_related("centrifuge")
        self.fields["started_at"].initial = now_local()

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["centrifuge_id"] = data.pop("centrifuge").pk
        program = data.pop("program")
        data["program_id"] = program.pk if program else None
        return data


class PrepareForm(forms.Form):
    prepared_at = forms.DateTimeField(widget=DateTimeLocal())
    volume_ml = forms.DecimalField(max_digits=5, decimal_places=2, label="PRP volume (mL)")
    activation = forms.ChoiceField(choices=Activation.choices, initial=Activation.NONE)
    platelets_k_per_ul = forms.DecimalField(
        max_digits=7, decimal_places=1, required=False, label="PRP platelets (10³/µL)"
    )
    wbc_k_per_ul = forms.DecimalField(max_digits=6, decimal_places=2, required=False, label="PRP WBC (10³/µL)")
    rbc_m_per_ul = forms.DecimalField(max_digits=5, decimal_places=3, required=False, label="PRP RBC (10⁶/µL)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["prepared_at"].initial = now_local()


class ApplyForm(forms.Form):
    """Up to six zones with their volumes; empty rows are ignored."""

    ROWS = 6

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for i in range(self.ROWS):
            self.fields[f"zone_{i}"] = forms.CharField(max_length=60, required=False, label=f"Zone {i + 1}")
            self.fields[f"volume_{i}"] = forms.DecimalField(
                max_digits=5, decimal_places=2, required=False, label="mL", min_value=Decimal("0.01")
            )

    def zones(self) -> list[dict[str, str]]:
        rows = []
        for i in range(self.ROWS):
            zone, volume = self.cleaned_data.get(f"zone_{i}"), self.cleaned_data.get(f"volume_{i}")
            if zone or volume is not None:
                rows.append({"zone": zone or "", "volume_ml": str(volume if volume is not None else "")})
        return rows

    def rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"zone_{i}"], self[f"volume_{i}"]) for i in range(self.ROWS)]


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=300)


class CentrifugeForm(forms.ModelForm):
    class Meta:
        model = Centrifuge
        fields = list(CENTRIFUGE_FIELDS)
        widgets = {"calibration_due": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def _post_clean(self) -> None:  # the service validates the model, in its transaction
        pass


class ProgramForm(forms.Form):
    name = forms.CharField(max_length=80)
    spin1_rcf = forms.IntegerField(required=False, min_value=1, label="Spin 1 (x g)")
    spin1_rpm = forms.IntegerField(required=False, min_value=1, label="Spin 1 (RPM)")
    spin1_minutes = forms.IntegerField(min_value=1, max_value=60, label="Spin 1 (minutes)")
    spin2_rcf = forms.IntegerField(required=False, min_value=1, label="Spin 2 (x g)")
    spin2_rpm = forms.IntegerField(required=False, min_value=1, label="Spin 2 (RPM)")
    spin2_minutes = forms.IntegerField(required=False, min_value=1, max_value=60, label="Spin 2 (minutes)")
    temperature_c = forms.IntegerField(min_value=4, max_value=37, initial=22, label="Temperature (°C)")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("spin1_rcf") is None and data.get("spin1_rpm") is None:
            self.add_error("spin1_rcf", "Give spin 1's speed as g or as RPM.")
        second = [data.get("spin2_rcf"), data.get("spin2_rpm"), data.get("spin2_minutes")]
        if any(v is not None for v in second) and (data.get("spin2_minutes") is None or second[:2] == [None, None]):
            self.add_error("spin2_minutes", "A second spin needs a speed and minutes (or leave it all empty).")
        return data

    def service_kwargs(self) -> dict[str, Any]:
        d = self.cleaned_data
        spin2 = None
        if d.get("spin2_minutes") is not None:
            spin2 = (d.get("spin2_rcf"), d.get("spin2_rpm"), d["spin2_minutes"])
        return {
            "name": d["name"],
            "spin1": (d.get("spin1_rcf"), d.get("spin1_rpm"), d["spin1_minutes"]),
            "spin2": spin2,
            "temperature_c": d["temperature_c"],
        }


class LotForm(forms.ModelForm):
    class Meta:
        model = ConsumableLot
        fields = list(LOT_FIELDS)
        widgets = {"expiry_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def _post_clean(self) -> None:
        pass


class VerifyForm(forms.Form):
    patient_code = forms.CharField(max_length=40, label="Patient wristband")
    product_code = forms.CharField(max_length=40, label="PRP syringe label")
