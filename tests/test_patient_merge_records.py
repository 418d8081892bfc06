"""Merging a duplicate registration moves its clinical records to the record that stays.

The same person registered twice: what was screened, consented and booked under the duplicate must be on the
surviving chart afterwards, or the survivor would look unscreened and unconsented and the history would be split.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from prpclinic.audit.models import AuditEvent
from prpclinic.consents.models import SignedConsent
from prpclinic.intake.models import Screening
from prpclinic.visits.services import visit_start
from tests.conftest import Personas, clinic_request, make_patient
from tests.ready import ready_for_visit

pytestmark = pytest.mark.django_db
KIND = "microneedling_prp"


def test_merge_moves_screening_and_consent_so_the_survivor_can_be_treated(personas: Personas, signed_in: Any) -> None:
    survivor = make_patient(personas.clinic_a, family_name="Novak")
    duplicate = make_patient(personas.clinic_a, family_name="Nowak")
    ready_for_visit(clinic=personas.clinic_a, patient=duplicate, treatment=KIND, by=personas.physician)
    request = clinic_request(personas.physician, personas.clinic_a)
    with pytest.raises(ValidationError):  # before the merge the survivor has neither
        visit_start(request=request, patient_id=survivor.pk, treatment=KIND)

    response = signed_in("physician").post(
        f"/patients/{duplicate.pk}/merge/", {"survivor": survivor.pk, "reason": "registered twice"}
    )
    assert response.status_code == 302

    assert Screening.objects.filter(patient=duplicate).count() == 0
    assert SignedConsent.objects.filter(patient=duplicate).count() == 0
    assert Screening.objects.filter(patient=survivor).count() == 1
    assert SignedConsent.objects.filter(patient=survivor).count() == 1
    visit = visit_start(request=request, patient_id=survivor.pk, treatment=KIND)
    assert visit.patient_id == survivor.pk
    moved = AuditEvent.objects.get(action="patient.merge").changes["moved"]
    assert moved["intake.screening"] == 1 and moved["consents.signedconsent"] == 1
