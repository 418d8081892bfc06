"""Product measures and classifications: pure functions, each figure only from real inputs.

Definitions (PRP_REFERENCE.md §2, consistent with Perez 2014 and DEPA):
  recovery R = (C_PRP x V_PRP) / (C_WB x V_WB)
  concentration factor CF = C_PRP / C_WB
  dose N = C_PRP x V_PRP (platelets delivered)
PAW (DeLong 2012, Arthroscopy 28:998) and PLRA (Mautner 2015, PM&R 7:S53) per §3.
C_WB is the count of the whole blood as drawn into anticoagulant (after dilution); the draw
form says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

SOURCES = {
    "formulas": "PRP_REFERENCE.md §2 (Perez 2014 recovery efficiency; DEPA, Magalon 2016)",
    "paw": "DeLong JM et al. 2012, Arthroscopy 28(7):998-1009",
    "plra": "Mautner K et al. 2015, PM&R 7(4 Suppl):S53-S59",
}

# PAW platelet bands, 10^3/µL (DeLong 2012): P1 <= baseline; P2 > baseline to 750;
# P3 > 750 to 1250; P4 > 1250.
PAW_P2_MAX = Decimal(750)
PAW_P3_MAX = Decimal(1250)


@dataclass(frozen=True)
class Measures:
    recovery: Decimal | None  # fraction 0..1
    concentration_factor: Decimal | None
    dose_billion: Decimal | None  # 10^9 platelets
    paw: str | None
    plra: str | None


def recovery(
    *, c_wb: Decimal | None, v_wb: Decimal | None, c_prp: Decimal | None, v_prp: Decimal | None
) -> Decimal | None:
    if None in (c_wb, v_wb, c_prp, v_prp) or not c_wb or not v_wb:
        return None
    return (c_prp * v_prp) / (c_wb * v_wb)  # type: ignore[operator]


def concentration_factor(*, c_wb: Decimal | None, c_prp: Decimal | None) -> Decimal | None:
    if c_wb is None or c_prp is None or not c_wb:
        return None
    return c_prp / c_wb


def dose_billion(*, c_prp: Decimal | None, v_prp: Decimal | None) -> Decimal | None:
    """Platelets delivered, in 10^9: (10^3/µL x 10^3 µL/mL x mL) / 10^9 = c x v / 1000."""
    if c_prp is None or v_prp is None:
        return None
    return c_prp * v_prp / Decimal(1000)


def paw(
    *,
    c_wb: Decimal | None,
    c_prp: Decimal | None,
    activated: bool,
    wbc_wb: Decimal | None,
    wbc_prp: Decimal | None,
) -> str | None:
    """PAW code, e.g. "P3-x-A". Needs both platelet counts; the W part needs both WBC counts.

    The neutrophil sub-class (alpha/beta) needs a differential count we do not record, so it
    is left out rather than guessed.
    """
    if c_wb is None or c_prp is None:
        return None
    if c_prp <= c_wb:
        p = "P1"
    elif c_prp <= PAW_P2_MAX:
        p = "P2"
    elif c_prp <= PAW_P3_MAX:
        p = "P3"
    else:
        p = "P4"
    parts = [p]
    if activated:
        parts.append("x")
    if wbc_wb is not None and wbc_prp is not None:
        parts.append("A" if wbc_prp > wbc_wb else "B")
    return "-".join(parts)


def plra(*, c_prp: Decimal | None, volume: Decimal | None, activated: bool) -> str | None:
    """PLRA with what we measure: P (platelets/µL) and A; L and R need percentages of
    neutrophils and red cells in the product, which need a differential count: only shown as
    "?" when unknown, never guessed."""
    if c_prp is None:
        return None
    platelets = int(c_prp * 1000)
    vol = f", {volume} mL" if volume is not None else ""
    return f"P {platelets:,}/µL, L ?, R ?, A {'+' if activated else '−'}{vol}"


def product_measures(
    *,
    c_wb: Decimal | None,
    v_wb: Decimal | None,
    c_prp: Decimal | None,
    v_prp: Decimal | None,
    wbc_wb: Decimal | None,
    wbc_prp: Decimal | None,
    activated: bool,
) -> Measures:
    return Measures(
        recovery=recovery(c_wb=c_wb, v_wb=v_wb, c_prp=c_prp, v_prp=v_prp),
        concentration_factor=concentration_factor(c_wb=c_wb, c_prp=c_prp),
        dose_billion=dose_billion(c_prp=c_prp, v_prp=v_prp),
        paw=paw(c_wb=c_wb, c_prp=c_prp, activated=activated, wbc_wb=wbc_wb, wbc_prp=wbc_prp),
        plra=plra(c_prp=c_prp, volume=v_prp, activated=activated),
    )
