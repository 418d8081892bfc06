"""Checks on a protocol's values before a new version is written: pure Python, no Django import.

Errors are returned keyed by the edit form's field names (``field_name``), so the page shows each
message next to the value it is about.
"""

from __future__ import annotations

from typing import Any

ZONE_NUMBERS = ("depth_min_mm", "depth_max_mm", "volume_min_ml_cm2", "volume_max_ml_cm2")
DEVICE_NUMBERS = ("min_depth_mm", "max_depth_mm", "passes")


def field_name(group: str, code: str, key: str) -> str:
    """The edit form's name of one value: ``zone__forehead__depth_min_mm``."""
    return f"{group}__{code}__{key}"


def check_protocol(values: dict[str, Any]) -> dict[str, str]:
    """Every problem with ``values`` (sessions, intervals, zones, devices), by form field name.

    Numbers must be positive; a range's minimum may not exceed its maximum (both or neither
    set); no zone may be deeper than the deepest device of the protocol allows.
    """
    errors: dict[str, str] = {}
    for key, label in (("sessions", "sessions"), ("interval_days", "interval")):
        number = values.get(key)
        if number is None or number < 1:
            errors[key] = f"The {label} must be a positive whole number."
    maintenance = values.get("maintenance_interval_days")
    if maintenance is not None and maintenance < 1:
        errors["maintenance_interval_days"] = "The maintenance interval must be a positive number of days."

    deepest: float | None = None
    for device in values.get("devices", []):
        code = device["code"]
        for key in DEVICE_NUMBERS:
            number = device.get(key)
            if number is not None and number <= 0:
                errors[field_name("device", code, key)] = "Enter a positive number, or leave it empty."
        low, high = device.get("min_depth_mm"), device.get("max_depth_mm")
        if low is not None and high is not None and low > high:
            errors[field_name("device", code, "min_depth_mm")] = (
                f"The shortest needle ({low} mm) is longer than the longest ({high} mm)."
            )
        if high is not None and high > 0:
            deepest = high if deepest is None else max(deepest, high)

    for zone in values.get("zones", []):
        code, label = zone["code"], zone.get("label", zone["code"])
        for key in ZONE_NUMBERS:
            number = zone.get(key)
            if number is not None and number <= 0:
                errors[field_name("zone", code, key)] = "Enter a positive number, or leave it empty."
        for low_key, high_key, unit in (
            ("depth_min_mm", "depth_max_mm", "mm"),
            ("volume_min_ml_cm2", "volume_max_ml_cm2", "mL/cm²"),
        ):
            low, high = zone.get(low_key), zone.get(high_key)
            if (low is None) != (high is None):
                errors.setdefault(
                    field_name("zone", code, low_key), f"{label}: give both the minimum and the maximum, or neither."
                )
            elif low is not None and high is not None and low > high:
                errors.setdefault(
                    field_name("zone", code, low_key),
                    f"{label}: the minimum ({low} {unit}) is above the maximum ({high} {unit}).",
                )
        high = zone.get("depth_max_mm")
        if deepest is not None and high is not None and high > deepest:
            errors.setdefault(
                field_name("zone", code, "depth_max_mm"),
                f"{label}: {high} mm is deeper than any device of this protocol reaches ({deepest} mm).",
            )
    return errors
