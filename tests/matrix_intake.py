"""Placeholders of the screening rows in permission_matrix_intake.csv: clinic A's objects, made directly."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from prpclinic.intake.models import Screening, Submission


def placeholders(personas: Any, patient: Any) -> dict[str, int]:
    now = timezone.now()
    screening = Screening.objects.create(
        clinic=personas.clinic_a,
        patient=patient,
        treatment="prp_scalp",
        answers={"tobacco": True},
        result="needs_review",
        review_status="pending",
        fired=[{"id": "prp.tobacco", "kind": "relative", "message": "Tobacco use", "source": "x", "tag": "S"}],
        ruleset_version="test",
        recorded_by=personas.nurse,
        recorded_at=now,
        expires_at=now + dt.timedelta(days=30),
    )
    submission = Submission.objects.create(
        clinic=personas.clinic_a,
        treatment="prp_scalp",
        given_name="Lena",
        family_name="Huber",
        date_of_birth=dt.date(1979, 6, 2),
        answers={"tobacco": False},
    )
    return {"intake_screening_a": screening.pk, "intake_submission_a": submission.pk}
