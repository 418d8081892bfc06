"""Relative centrifugal force and rotor speed, from the rotor radius.

RCF = 1.118e-5 x r_cm x RPM^2 (Rickwood 1978, *Centrifugation: a practical approach*; the same
as 1.118 x r_mm x (RPM/1000)^2). PRP_REFERENCE.md §1. Protocols are specified in x g, with the
radius and where it was measured (RCF-max at the tube bottom is the international convention).
"""

from __future__ import annotations

import math

RCF_CONSTANT = 1.118e-5
SOURCE = "Rickwood 1978, Centrifugation: a practical approach (RCF = 1.118e-5 x r_cm x RPM^2)"


def rcf_from_rpm(rpm: float, radius_cm: float) -> float:
    """g (x gravity) at ``radius_cm`` when the rotor turns at ``rpm``."""
    if rpm < 0 or radius_cm <= 0:
        raise ValueError("rpm must be >= 0 and the radius > 0")
    return RCF_CONSTANT * radius_cm * rpm * rpm


def rpm_from_rcf(rcf: float, radius_cm: float) -> float:
    """Rotor speed that gives ``rcf`` x g at ``radius_cm``."""
    if rcf < 0 or radius_cm <= 0:
        raise ValueError("g must be >= 0 and the radius > 0")
    return math.sqrt(rcf / (RCF_CONSTANT * radius_cm))
