"""A visit takes its place in the patient's series: started visits fill the plan's sessions in order."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prpclinic.treatments.models import PlanStatus, TreatmentPlan
from prpclinic.treatments.plans import plan_create
from prpclinic.visits.models import Visit
from tests.conftest import Personas, clinic_request, make_patient
from tests.ready import ready_for_visit

FACE = {"device": "pen", "depth_mm": "0.5", "passes": "3", "cartridge_lot": "CART-9", "prp_volume_ml": "0"}


def test_started_and_completed_visits_fill_the_series_until_the_plan_completes(
    personas: Personas, signed_in: Any
) -> None:
    clinic, nurse = personas.clinic_a, signed_in("nurse")
    patient = make_patient(clinic)
    ready_for_visit(clinic=clinic, patient=patient, treatment="microneedling_prp", by=personas.nurse)
    plan = plan_create(
        request=clinic_request(personas.nurse, clinic), patient_id=patient.pk, kind="microneedling_prp",
        start_date=dt.date.today(), sessions=2,
    )  # fmt: skip

    for number in (1, 2):
        assert nurse.post(f"/visits/start/{patient.pk}/", {"treatment": "microneedling_prp"}).status_code == 302
        visit = Visit.objects.filter(patient=patient).latest("started_at")
        assert plan.sessions.get(number=number).visit_id == visit.pk
        assert nurse.post(f"/visits/{visit.pk}/zones/forehead/", FACE).status_code in (200, 302)
        assert nurse.post(f"/visits/{visit.pk}/complete/").status_code == 302
        page = nurse.get(f"/treatments/plans/{plan.pk}/").content.decode()
        assert ("session 1 of 2" if number == 1 else "series complete (2 of 2)") in page

    assert TreatmentPlan.objects.get(pk=plan.pk).status == PlanStatus.COMPLETED


def test_a_visit_started_for_a_booked_session_takes_that_session_not_the_first_open_one(
    personas: Personas,
) -> None:
    from prpclinic.visits.services import visit_start

    clinic = personas.clinic_a
    nurse = clinic_request(personas.nurse, clinic)
    patient = make_patient(clinic)
    ready_for_visit(clinic=clinic, patient=patient, treatment="prp_scalp", by=personas.nurse)
    plan = plan_create(request=nurse, patient_id=patient.pk, kind="prp_scalp", start_date=dt.date.today(), sessions=3)
    second = plan.sessions.get(number=2)

    visit = visit_start(request=nurse, patient_id=patient.pk, treatment="prp_scalp", plan_session_id=second.pk)

    assert plan.sessions.get(number=2).visit_id == visit.pk
    assert plan.sessions.get(number=1).visit_id is None
