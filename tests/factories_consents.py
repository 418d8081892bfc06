"""Test factory of the consents app (filled in with the app)."""

from __future__ import annotations

from typing import Any


def consent_signed(*, clinic: Any, patient: Any, treatment: str, by: Any) -> None:
    return None
