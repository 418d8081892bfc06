"""Bearer tokens for tests of the FHIR API (shared by every FHIR test file)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prpclinic.clinics.models import Clinic
from prpclinic.fhir.auth import create_token


def issue_token(
    clinic: Clinic, *, scopes: Iterable[str] = ("system/*.read",), by: Any, label: str = "Test client"
) -> str:
    """A fresh system token of ``clinic``; returns the raw secret (use as ``Authorization: Bearer <it>``)."""
    _token, raw = create_token(clinic=clinic, label=label, scopes=scopes, created_by=by)
    return raw


def bearer(raw: str) -> dict[str, str]:
    """Headers for Django's test client: ``client.get(url, headers=bearer(raw))``."""
    return {"Authorization": f"Bearer {raw}"}
