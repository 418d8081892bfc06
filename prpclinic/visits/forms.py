"""The zone entry form: its fields depend on the visit's treatment and come from its protocol.

The form only parses (numbers, choices); what is refused or warned clinically is decided by
``services.zone_chart`` so that the page and any other caller get the same answer.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from prpclinic.treatments.models import Cocktail, VialLot
from prpclinic.visits.models import TreatmentKind, ZoneEntry

DEPTH_HELP = "Needle depth in mm, e.g. 0.5"


def _decimal(label: str, *, required: bool, help_text: str = "") -> forms.DecimalField:
    # Bounds here only keep the number in the column; the service gives the clinical messages.
    return forms.DecimalField(
        label=label,
        required=required,
        max_digits=6,
        decimal_places=2,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": "0.05", "inputmode": "decimal"}),
    )


def _count(label: str) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=False,
        min_value=0,
        max_value=32000,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


def _choices(options: list[dict[str, Any]], placeholder: str) -> list[tuple[str, str]]:
    return [("", placeholder)] + [(str(o["code"]), str(o.get("label") or o["code"])) for o in options]


class ZoneEntryForm(forms.Form):
    """Built for one visit's treatment and protocol; ``previous`` is the zone's current entry, if any."""

    def __init__(
        self,
        data: Any = None,
        *,
        treatment: str,
        protocol: Any,
        clinic_id: int,
        zone: dict[str, Any],
        previous: ZoneEntry | None = None,
        warnings: list[str] | None = None,
        applications: list[Any] | None = None,
    ) -> None:
        super().__init__(data, auto_id=f"id_zone_{zone['code']}_%s", initial=self._initial(previous))
        self.treatment, self.zone, self.previous = treatment, zone, previous
        self.warnings = warnings or []
        fields = self.fields
        if treatment == TreatmentKind.MICRONEEDLING_PRP:
            fields["device"] = forms.ChoiceField(
                label="Device", required=False, choices=_choices(protocol.devices, "Choose…")
            )
            fields["depth_mm"] = _decimal("Depth (mm)", required=False, help_text=DEPTH_HELP)
            fields["passes"] = _count("Passes")
            fields["cartridge_lot"] = forms.CharField(label="Needle cartridge lot", required=False, max_length=60)
            fields["technique"] = forms.ChoiceField(
                label="Technique", required=False, choices=_choices(protocol.techniques, "—")
            )
            fields["prp_volume_ml"] = _decimal("PRP applied on this zone (mL)", required=False)
        elif treatment == TreatmentKind.PRP_SCALP:
            fields["injections"] = _count("Injections")
            fields["depth_mm"] = _decimal("Depth (mm)", required=False, help_text=DEPTH_HELP)
            fields["technique"] = forms.ChoiceField(
                label="Technique", required=False, choices=_choices(protocol.techniques, "Choose…")
            )
            fields["prp_volume_ml"] = _decimal("PRP injected in this zone (mL)", required=False)
        else:
            today = timezone.localdate()
            fields["cocktail"] = forms.ModelChoiceField(
                label="Cocktail",
                queryset=Cocktail.objects.filter(clinic_id=clinic_id, is_active=True),
                empty_label="Choose…",
                required=False,
            )
            # Any of the clinic's lots is accepted by the field so that the service can say why an
            # expired one is refused; the list offered shows only usable lots.
            lots = VialLot.objects.filter(clinic_id=clinic_id).select_related("cocktail")
            fields["vial_lot"] = forms.ModelChoiceField(
                label="Vial lot", queryset=lots, empty_label="Choose…", required=False
            )
            fields["vial_lot"].widget.choices = [("", "Choose…")] + [
                (lot.pk, f"{lot.cocktail.name}: lot {lot.lot_number} (exp. {lot.expiry_date:%Y-%m-%d})")
                for lot in lots.filter(expiry_date__gte=today, cocktail__is_active=True).order_by("expiry_date")[:50]
            ]
            fields["depth_mm"] = _decimal("Depth (mm)", required=False, help_text="Mid-dermis only")
            fields["technique"] = forms.ChoiceField(
                label="Technique", required=False, choices=_choices(protocol.techniques, "Choose…")
            )
            fields["volume_ml"] = _decimal("Cocktail injected in this zone (mL)", required=False)
        if treatment != TreatmentKind.MESOTHERAPY and applications:
            # Which product's PRP went into this zone (traceability to the chain of custody).
            fields["application"] = forms.TypedChoiceField(
                label="PRP product used",
                required=False,
                coerce=int,
                empty_value=None,
                choices=[("", "Choose…" if len(applications) > 1 else "—")]
                + [(a.pk, f"{a.product.barcode}: {a.volume_applied_ml} mL applied") for a in applications],
                initial=applications[0].pk if len(applications) == 1 else None,
            )
        fields["note"] = forms.CharField(label="Note", required=False, max_length=300)
        if previous is not None:
            fields["correction_reason"] = forms.CharField(
                label="Why correct it", max_length=300, required=False, help_text="The previous entry is kept."
            )
        if self.warnings or (data is not None and data.get("acknowledge_warnings")):
            fields["acknowledge_warnings"] = forms.BooleanField(
                label="I have checked: record it anyway", required=False
            )

    @staticmethod
    def _initial(previous: ZoneEntry | None) -> dict[str, Any]:
        if previous is None:
            return {}
        return {
            "device": previous.device,
            "depth_mm": previous.depth_mm,
            "passes": previous.passes,
            "cartridge_lot": previous.cartridge_lot,
            "technique": previous.technique,
            "prp_volume_ml": previous.prp_volume_ml,
            "injections": previous.injections,
            "cocktail": previous.cocktail_id,
            "vial_lot": previous.vial_lot_id,
            "volume_ml": previous.volume_ml,
            "application": previous.application_id,
        }

    def service_kwargs(self) -> dict[str, Any]:
        """The cleaned values as ``services.zone_chart`` keyword arguments (named, no mass assignment)."""
        data = self.cleaned_data
        cocktail = data.get("cocktail")
        vial_lot = data.get("vial_lot")
        decimal_or_none = lambda v: v if isinstance(v, Decimal) else None  # noqa: E731
        return {
            "depth_mm": decimal_or_none(data.get("depth_mm")),
            "passes": data.get("passes"),
            "injections": data.get("injections"),
            "device": data.get("device") or "",
            "cartridge_lot": data.get("cartridge_lot") or "",
            "technique": data.get("technique") or "",
            "cocktail_id": cocktail.pk if cocktail else None,
            "vial_lot_id": vial_lot.pk if vial_lot else None,
            "volume_ml": decimal_or_none(data.get("volume_ml")),
            "prp_volume_ml": decimal_or_none(data.get("prp_volume_ml")),
            "application_id": data.get("application"),
            "note": data.get("note") or "",
            "acknowledge_warnings": bool(data.get("acknowledge_warnings")),
            "correction_reason": data.get("correction_reason") or "",
        }


class CompleteForm(forms.Form):
    """Completing has no fields; the form carries the refusal message to the page."""
