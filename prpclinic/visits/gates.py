"""What must hold before a visit may start, asked of the apps that know.

A visit of a treatment starts only for a patient whose screening for that treatment finds them
eligible (or a physician cleared a relative contraindication) and who holds a valid consent for
it. Each app answers with a sentence saying what is missing, or None.
"""

from __future__ import annotations

from prpclinic.consents.selectors import consent_blocker
from prpclinic.intake.selectors import screening_blocker


def start_blockers(*, clinic_id: int, patient_id: int, treatment: str) -> list[str]:
    """Every reason this patient may not start ``treatment`` now; empty when the visit may start."""
    reasons = [
        screening_blocker(clinic_id=clinic_id, patient_id=patient_id, treatment=treatment),
        consent_blocker(clinic_id=clinic_id, patient_id=patient_id, treatment=treatment),
    ]
    return [reason for reason in reasons if reason]
