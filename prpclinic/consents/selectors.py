"""Reads of the consents app, scoped to the clinic."""

from __future__ import annotations


def consent_blocker(*, clinic_id: int, patient_id: int, treatment: str) -> str | None:
    """Why this patient may not start ``treatment`` now, as a sentence for staff; None when nothing blocks."""
    return None
