"""Data-entry plausibility limits: typo catchers, not clinical thresholds.

A value outside these is refused as a likely slip of the finger (a platelet count of 25,000
typed in 10^3/µL, a hematocrit of 450 %). They are deliberately far wider than any reference
range; the reference range shown beside the field is the one from PRP_REFERENCE.md §2
(normal whole-blood platelets 150-350 x10^3/µL, Marx 2001, Implant Dent 10:225).
"""

from __future__ import annotations

from decimal import Decimal

# field -> (lowest, highest, unit)
LIMITS: dict[str, tuple[Decimal, Decimal, str]] = {
    "wb_platelets_k_per_ul": (Decimal(5), Decimal(2000), "10³/µL"),
    "wb_hematocrit_pct": (Decimal(10), Decimal(75), "%"),
    "wb_wbc_k_per_ul": (Decimal("0.1"), Decimal(200), "10³/µL"),
    "prp_platelets_k_per_ul": (Decimal(1), Decimal(20000), "10³/µL"),
    "prp_wbc_k_per_ul": (Decimal(0), Decimal(500), "10³/µL"),
    "prp_rbc_m_per_ul": (Decimal(0), Decimal(8), "10⁶/µL"),
}
WB_PLATELET_REFERENCE = "normal 150–350 ×10³/µL (Marx 2001)"
# A clock a little ahead on a tablet must not refuse a draw typed "now".
CLOCK_SKEW_SECONDS = 120


def out_of_range(field: str, value: Decimal | None, label: str) -> str:
    """A message a nurse understands, or "" when the value is plausible."""
    if value is None:
        return ""
    low, high, unit = LIMITS[field]
    if value < low or value > high:
        return (
            f"{label} of {value} {unit} is not plausible (expected {low}–{high} {unit}); check the unit and the digits."
        )
    return ""
