"""The planner form: tube, blood, spins and harvest rules, and an optional target."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms

from prpclinic.planner.geometry import EXAMPLE_TUBES
from prpclinic.planner.protocol import Harvest, KeepLowerFraction, KeepLowerVolume, PlasmaAboveBuffy, UpperPlasmaLayer
from prpclinic.planner.recommend import Target
from prpclinic.prp.models import Centrifuge, SpinProgram

TUBES = EXAMPLE_TUBES

# Harvest rules offered between and after spins. "Keep the lower third" is Perez 2014's rule
# (PRP_YIELD_DATA.md T1); "2 mm above the buffy coat" the issue's own example.
HARVESTS: dict[str, tuple[str, Callable[[dict[str, Any]], Harvest]]] = {
    "buffy2": ("take the plasma down to 2 mm above the buffy coat", lambda d: PlasmaAboveBuffy(2.0)),
    "plasma": ("take the plasma down to the red cells", lambda d: UpperPlasmaLayer()),
    "lower_third": ("keep the lower third (Perez 2014)", lambda d: KeepLowerFraction(1 / 3)),
    "lower_ml": ("keep the lower PRP volume given below", lambda d: KeepLowerVolume(float(d["prp_ml"]))),
}


class PlannerForm(forms.Form):
    centrifuge = forms.ModelChoiceField(queryset=Centrifuge.objects.none(), required=False, label="Centrifuge")
    program = forms.ModelChoiceField(
        queryset=SpinProgram.objects.none(), required=False, empty_label="Enter settings below", label="Program"
    )
    tube = forms.ChoiceField(choices=[(str(i), t.name) for i, t in enumerate(TUBES)], initial="0")
    volume_ml = forms.DecimalField(label="Blood per tube (mL)", min_value=0.5, max_value=60, initial=8)
    hematocrit_pct = forms.DecimalField(label="Hematocrit (%)", min_value=10, max_value=70, initial=42)
    platelets_k_per_ul = forms.DecimalField(label="Platelets (10³/µL)", min_value=5, max_value=2000, initial=250)
    g1 = forms.IntegerField(label="Spin 1 (x g)", required=False, min_value=1, max_value=5000)
    minutes1 = forms.IntegerField(label="Spin 1 (minutes)", required=False, min_value=1, max_value=60)
    harvest1 = forms.ChoiceField(
        choices=[(k, v[0]) for k, v in HARVESTS.items()], initial="buffy2", label="After spin 1"
    )
    g2 = forms.IntegerField(label="Spin 2 (x g)", required=False, min_value=1, max_value=5000)
    minutes2 = forms.IntegerField(label="Spin 2 (minutes)", required=False, min_value=1, max_value=60)
    harvest2 = forms.ChoiceField(
        choices=[(k, v[0]) for k, v in HARVESTS.items()], initial="lower_third", label="After spin 2"
    )
    prp_ml = forms.DecimalField(label="PRP volume kept (mL)", required=False, min_value=0.1, max_value=30)
    target_kind = forms.ChoiceField(
        choices=[
            ("", "No target"),
            ("cf", "Concentration factor"),
            ("conc", "Platelets (10³/µL)"),
            ("dose", "Dose (10⁹)"),
        ],
        required=False,
        label="Target",
    )
    target_value = forms.DecimalField(required=False, min_value=0, label="Target value")

    def __init__(self, *args: Any, clinic_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["centrifuge"].queryset = Centrifuge.objects.filter(clinic_id=clinic_id)
        self.fields["program"].queryset = SpinProgram.objects.filter(
            clinic_id=clinic_id, is_active=True
        ).select_related("centrifuge")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("program") and not (data.get("g1") and data.get("minutes1")):
            self.add_error("g1", "Choose a program, or give spin 1's g and minutes.")
        if bool(data.get("g2")) != bool(data.get("minutes2")):
            self.add_error("g2", "A second spin needs both g and minutes (or leave both empty).")
        uses_ml = "lower_ml" in (data.get("harvest1"), data.get("harvest2"))
        if uses_ml and not data.get("prp_ml"):
            self.add_error("prp_ml", "Give the PRP volume to keep.")
        if data.get("target_kind") and not data.get("target_value"):
            self.add_error("target_value", "Give the target's value.")
        return data

    def target(self) -> Target | None:
        kind, value = self.cleaned_data.get("target_kind"), self.cleaned_data.get("target_value")
        if not kind or not value:
            return None
        if kind == "cf":
            return Target(concentration_factor=float(value))
        if kind == "conc":
            return Target(platelets_per_ul=float(value) * 1000.0)
        return Target(dose=float(value) * 1e9)
