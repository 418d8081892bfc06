"""Test factory of the intake app (filled in with the app)."""

from __future__ import annotations

from typing import Any


def screened_eligible(*, clinic: Any, patient: Any, treatment: str, by: Any) -> None:
    return None
