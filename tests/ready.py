"""A patient made ready to start a visit: screened eligible and consented, as staff would do it.

Tests that start visits through the service call ``ready_for_visit`` first; the screening and
consent parts live with their apps' test factories.
"""

from __future__ import annotations

from typing import Any

from tests.factories_consents import consent_signed
from tests.factories_intake import screened_eligible


def ready_for_visit(*, clinic: Any, patient: Any, treatment: str, by: Any) -> None:
    screened_eligible(clinic=clinic, patient=patient, treatment=treatment, by=by)
    consent_signed(clinic=clinic, patient=patient, treatment=treatment, by=by)
