"""An appointment's day: booked -> checked in -> in treatment (the visit opens, its gates apply) -> completed,
or no-show / cancelled with a reason; nothing else. The transition table is tested directly."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from prpclinic.audit.models import AuditEvent
from prpclinic.scheduling import services, transitions
from prpclinic.scheduling.models import Appointment, AppointmentStatus
from prpclinic.visits.models import Visit, VisitStatus
from tests.conftest import Personas, clinic_request, make_patient
from tests.matrix_scheduling import MONDAY, at, make_appointment, schedule_setup
from tests.ready import ready_for_visit

S = AppointmentStatus


def test_the_table_allows_only_the_days_order_and_the_two_endings() -> None:
    expected = {
        "booked": {"checked_in", "no_show", "cancelled"},
        "checked_in": {"in_treatment", "no_show", "cancelled"},
        "in_treatment": {"completed"},
        "completed": set(),
        "no_show": set(),
        "cancelled": set(),
    }
    assert dict(transitions.ALLOWED) == expected
    assert set(transitions.ALLOWED) == set(S.values)
    assert transitions.refusal("booked", "completed") == "An appointment that is booked cannot become completed."
    assert (
        transitions.refusal("cancelled", "booked") == "This appointment is cancelled: its status can no longer change."
    )
    assert transitions.next_actions("booked") == ["checked_in", "no_show", "cancelled"]


@pytest.fixture
def appt(personas: Personas) -> Appointment:
    setup = schedule_setup(personas)
    return make_appointment(personas, make_patient(personas.clinic_a), setup, starts_at=at(MONDAY, 10))


def request_of(personas: Personas, who: str) -> Any:
    return clinic_request(getattr(personas, who), personas.clinic_a)


def test_check_in_start_and_complete_follow_the_visit(personas: Personas, appt: Appointment) -> None:
    ready_for_visit(clinic=personas.clinic_a, patient=appt.patient, treatment="prp_scalp", by=personas.nurse)
    desk, nurse = request_of(personas, "front_desk"), request_of(personas, "nurse")
    assert services.appointment_check_in(request=desk, appointment_id=appt.pk).status == S.CHECKED_IN
    started = services.appointment_start_treatment(request=nurse, appointment_id=appt.pk)
    assert started.status == S.IN_TREATMENT
    visit = Visit.objects.get(pk=started.visit_id)
    assert (visit.patient_id, visit.treatment, visit.status) == (appt.patient_id, "prp_scalp", VisitStatus.OPEN)
    with pytest.raises(ValidationError) as exc:
        services.appointment_complete(request=desk, appointment_id=appt.pk)
    assert exc.value.messages == ["The visit is still open: chart and complete the visit first."]
    Visit.objects.filter(pk=visit.pk).update(status=VisitStatus.COMPLETED)
    assert services.appointment_complete(request=desk, appointment_id=appt.pk).status == S.COMPLETED
    actions = list(
        AuditEvent.objects.filter(object_type="scheduling.appointment", object_id=str(appt.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["appointment.checked_in", "appointment.in_treatment", "appointment.completed"]


def test_starting_without_screening_and_consent_gives_the_visits_refusal(personas: Personas, appt: Appointment) -> None:
    nurse = request_of(personas, "nurse")
    services.appointment_check_in(request=nurse, appointment_id=appt.pk)
    with pytest.raises(ValidationError) as exc:
        services.appointment_start_treatment(request=nurse, appointment_id=appt.pk)
    assert any("screen" in m.lower() for m in exc.value.messages)
    assert any("consent" in m.lower() for m in exc.value.messages)
    appt.refresh_from_db()
    assert (appt.status, appt.visit_id, Visit.objects.count()) == (S.CHECKED_IN, None, 0)


def test_the_front_desk_checks_in_but_does_not_start_a_treatment(personas: Personas, appt: Appointment) -> None:
    desk = request_of(personas, "front_desk")
    services.appointment_check_in(request=desk, appointment_id=appt.pk)
    with pytest.raises(PermissionDenied):
        services.appointment_start_treatment(request=desk, appointment_id=appt.pk)


def test_skipping_a_step_or_leaving_a_final_status_is_refused(personas: Personas, appt: Appointment) -> None:
    desk = request_of(personas, "front_desk")
    with pytest.raises(ValidationError) as exc:
        services.appointment_start_treatment(request=request_of(personas, "nurse"), appointment_id=appt.pk)
    assert exc.value.messages == ["An appointment that is booked cannot become in treatment."]
    with pytest.raises(ValidationError):
        services.appointment_complete(request=desk, appointment_id=appt.pk)
    services.appointment_no_show(request=desk, appointment_id=appt.pk, reason="Did not come, no answer by phone")
    with pytest.raises(ValidationError) as exc:
        services.appointment_check_in(request=desk, appointment_id=appt.pk)
    assert exc.value.messages == ["This appointment is a no-show: its status can no longer change."]
    with pytest.raises(ValidationError):
        services.appointment_move(request=desk, appointment_id=appt.pk, starts_at=at(MONDAY, 11))


def test_cancel_and_no_show_need_a_reason_which_is_kept(personas: Personas, appt: Appointment) -> None:
    desk = request_of(personas, "front_desk")
    with pytest.raises(ValidationError) as exc:
        services.appointment_cancel(request=desk, appointment_id=appt.pk, reason="  ")
    assert exc.value.message_dict == {"reason": ["Give the reason; it is kept with the appointment."]}
    cancelled = services.appointment_cancel(request=desk, appointment_id=appt.pk, reason="Patient has a cold")
    assert (cancelled.status, cancelled.status_reason) == (S.CANCELLED, "Patient has a cold")
    event = AuditEvent.objects.get(action="appointment.cancelled")
    assert event.changes == {"from": "booked", "to": "cancelled", "reason": "Patient has a cold"}
