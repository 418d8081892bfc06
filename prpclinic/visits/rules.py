"""Charting checks on one zone entry: what is refused and what is only warned (pure, no Django import).

Refused: values no needle can reach (not clinical judgement, data entry errors), depths beyond
the chosen device, and for mesotherapy any depth outside the protocol's mid-dermis range
(reference §0 and §7: mesotherapy "goes only into the middle layer of the skin").
Warned: a micro-needling or scalp depth outside the protocol's range for that zone. Those ranges
come from a manufacturer chart or AI-only summaries ([S]/[U] in the reference, §5 and §6), so
they are defaults the clinician may override, with the warning recorded on the entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

# The longest needle the clinical reference names is the 13 mm mesotherapy needle (§7, "deep:
# 13 mm needle at 45°" [S]); a depth beyond it is a typing error (e.g. 15 for 1.5), not a choice.
LONGEST_NEEDLE_MM = Decimal("13")

# Volumes: the Application records volumes to 0.01 mL; a zone volume above a whole product's
# field maximum (999.99 mL) is a typing error. Kept as the model's own limit, not a clinical one.
MAX_VOLUME_ML = Decimal("999.99")


def mm(value: Decimal) -> str:
    """1.50 -> "1.5", 2.00 -> "2": as clinicians write depths."""
    text = f"{value.normalize():f}"
    return text


@dataclass(frozen=True)
class DepthRange:
    """A protocol's depth range for a zone; either end may be missing (the clinic has not set it)."""

    low: Decimal | None
    high: Decimal | None

    @property
    def is_set(self) -> bool:
        return self.low is not None or self.high is not None

    def contains(self, depth: Decimal) -> bool:
        return (self.low is None or depth >= self.low) and (self.high is None or depth <= self.high)

    def text(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{mm(self.low)}–{mm(self.high)} mm"
        if self.low is not None:
            return f"at least {mm(self.low)} mm"
        if self.high is not None:
            return f"at most {mm(self.high)} mm"
        return "not set"


@dataclass
class Findings:
    """Refusals keyed by form field, and warnings (each a code and the sentence shown)."""

    errors: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[dict[str, str]] = field(default_factory=list)

    def refuse(self, field_name: str, message: str) -> None:
        self.errors.setdefault(field_name, []).append(message)

    def warn(self, code: str, message: str) -> None:
        self.warnings.append({"code": code, "message": message})


def check_depth(
    findings: Findings,
    *,
    depth: Decimal | None,
    zone_label: str,
    zone_range: DepthRange,
    device_label: str = "",
    device_max: Decimal | None = None,
    mid_dermis: bool = False,
) -> None:
    """Refuse impossible depths; warn (or, for mesotherapy, refuse) outside the protocol's range."""
    if depth is None:
        findings.refuse("depth_mm", "Enter the needle depth in mm.")
        return
    if depth <= 0:
        findings.refuse("depth_mm", "The depth must be more than 0 mm.")
        return
    if depth > LONGEST_NEEDLE_MM:
        findings.refuse(
            "depth_mm", f"{mm(depth)} mm is not a possible needle depth. Check the value (e.g. 1.5, not 15)."
        )
        return
    if device_max is not None and depth > device_max:
        findings.refuse("depth_mm", f"{mm(depth)} mm is deeper than the {device_label} reaches ({mm(device_max)} mm).")
        return
    if mid_dermis:
        if not zone_range.is_set:
            findings.refuse(
                "depth_mm",
                f"The clinic has not set the mid-dermis depth range for {zone_label} in the mesotherapy "
                "protocol; a physician sets it in the catalogue first.",
            )
        elif not zone_range.contains(depth):
            findings.refuse(
                "depth_mm",
                f"Mesotherapy goes into the mid-dermis: {mm(depth)} mm is outside the protocol's "
                f"{zone_range.text()} for {zone_label}.",
            )
        return
    if zone_range.is_set and not zone_range.contains(depth):
        findings.warn(
            "depth_outside_range",
            f"{mm(depth)} mm is outside the protocol's range for {zone_label} ({zone_range.text()}).",
        )


def check_count(findings: Findings, *, field_name: str, value: int | None, what: str) -> None:
    if value is None:
        findings.refuse(field_name, f"Enter the number of {what}.")
    elif value < 1:
        findings.refuse(field_name, f"The number of {what} must be at least 1.")


def check_volume(findings: Findings, *, field_name: str, value: Decimal | None, required: bool) -> None:
    if value is None:
        if required:
            findings.refuse(field_name, "Enter the volume in mL.")
        return
    if value < 0:
        findings.refuse(field_name, "A volume cannot be negative.")
    elif required and value == 0:
        findings.refuse(field_name, "The volume must be more than 0 mL.")
    elif value > MAX_VOLUME_ML:
        findings.refuse(field_name, f"{value} mL is not a possible volume for one zone.")
