"""Treatment plans (series): creation from the protocol, changes with a reason, progress, panel."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.template import Context, Template

from prpclinic.audit.models import AuditEvent
from prpclinic.treatments.models import PlanChange, PlannedSession, PlanStatus, TreatmentPlan
from prpclinic.treatments.plans import plan_create, plan_session_for_visit
from prpclinic.treatments.selectors import timeline_items
from prpclinic.visits.models import Visit
from tests.conftest import Personas, clinic_request, make_patient

START = dt.date(2026, 3, 2)
# Session, user with memberships; plan, its sessions with their visits, changes; the audit event (one INSERT).
PLAN_PAGE_QUERIES = 6


def _plan(personas: Personas, kind: str = "microneedling_prp", **kwargs: Any) -> TreatmentPlan:
    patient = kwargs.pop("patient", None) or make_patient(personas.clinic_a)
    return plan_create(
        request=clinic_request(personas.nurse, personas.clinic_a), patient_id=patient.pk, kind=kind,
        start_date=START, **kwargs,
    )  # fmt: skip


def _due(plan: TreatmentPlan) -> list[tuple[int, str, str, str]]:
    return [
        (s.number, str(s.due_date), s.kind, s.status)
        for s in PlannedSession.objects.filter(plan=plan).order_by("number")
    ]


def _visit(personas: Personas, plan: TreatmentPlan, status: str = "completed") -> Visit:
    visit = Visit.objects.create(
        clinic=personas.clinic_a, patient=plan.patient, treatment=plan.kind, clinician=personas.nurse, status=status
    )
    plan_session_for_visit(visit=visit)
    return visit


def test_a_plan_made_from_the_chart_follows_the_protocols_count_and_interval(
    personas: Personas, signed_in: Any
) -> None:
    patient = make_patient(personas.clinic_a)
    response = signed_in("nurse").post(
        f"/treatments/plans/new/{patient.pk}/", {"kind": "prp_scalp", "start_date": "2026-03-02"}
    )
    plan = TreatmentPlan.objects.get(patient=patient)
    assert response.status_code == 302 and response["Location"] == f"/treatments/plans/{plan.pk}/"
    assert _due(plan) == [
        (1, "2026-03-02", "series", "planned"),
        (2, "2026-04-01", "series", "planned"),
        (3, "2026-05-01", "series", "planned"),
    ]
    assert plan.protocol.version == 1
    assert AuditEvent.objects.filter(action="plan.create", object_id=str(plan.pk)).count() == 1


def test_a_second_active_plan_of_the_same_treatment_is_refused(personas: Personas, signed_in: Any) -> None:
    plan = _plan(personas)
    response = signed_in("nurse").post(
        f"/treatments/plans/new/{plan.patient_id}/", {"kind": "microneedling_prp", "start_date": "2026-05-01"}
    )
    assert response.status_code == 400
    assert "already has an active Micro-needling with PRP plan" in response.content.decode()
    assert TreatmentPlan.objects.filter(patient=plan.patient).count() == 1


def test_every_change_needs_a_reason_and_nothing_changes_without_one(personas: Personas, signed_in: Any) -> None:
    plan = _plan(personas)
    client = signed_in("physician")
    session = PlannedSession.objects.get(plan=plan, number=2)

    stop = client.post(f"/treatments/plans/{plan.pk}/stop/", {"reason": ""})
    move = client.post(
        f"/treatments/plans/{plan.pk}/move/", {"session": session.pk, "due_date": "2026-04-10", "reason": " "}
    )

    assert stop.status_code == 400 and move.status_code == 400
    assert "Give the reason for this change; it is kept in the plan&#x27;s history." in stop.content.decode()
    plan.refresh_from_db()
    session.refresh_from_db()
    assert (plan.status, str(session.due_date)) == (PlanStatus.ACTIVE, "2026-04-01")
    assert PlanChange.objects.filter(plan=plan).count() == 0


def test_moving_a_session_with_the_later_ones_records_the_reason(personas: Personas, signed_in: Any) -> None:
    plan = _plan(personas)
    client = signed_in("nurse")
    session = PlannedSession.objects.get(plan=plan, number=2)
    response = client.post(
        f"/treatments/plans/{plan.pk}/move/",
        {"session": session.pk, "due_date": "2026-04-08", "shift_following": "on", "reason": "Patient on holiday"},
    )
    assert response.status_code == 302
    assert [d for _, d, _, _ in _due(plan)] == ["2026-03-02", "2026-04-08", "2026-05-08"]
    change = PlanChange.objects.get(plan=plan)
    assert (change.kind, change.reason, change.by) == ("move", "Patient on holiday", personas.nurse)
    assert "Patient on holiday" in client.get(f"/treatments/plans/{plan.pk}/").content.decode()
    assert AuditEvent.objects.filter(action="plan.move", object_id=str(plan.pk)).count() == 1


def test_removing_adding_and_recounting_sessions_keep_every_row(personas: Personas, signed_in: Any) -> None:
    plan = _plan(personas)
    client = signed_in("nurse")
    third = PlannedSession.objects.get(plan=plan, number=3)
    client.post(f"/treatments/plans/{plan.pk}/remove/", {"session": third.pk, "reason": "Good result after two"})
    client.post(f"/treatments/plans/{plan.pk}/count/", {"sessions": "4", "reason": "Physician's advice"})
    client.post(
        f"/treatments/plans/{plan.pk}/add/", {"due_date": "2026-09-01", "kind": "series", "reason": "Extra touch-up"}
    )
    assert _due(plan) == [
        (1, "2026-03-02", "series", "planned"),
        (2, "2026-04-01", "series", "planned"),
        (3, "2026-05-01", "series", "removed"),
        (4, "2026-05-01", "series", "planned"),
        (5, "2026-05-31", "series", "planned"),
        (6, "2026-09-01", "series", "planned"),
    ]
    assert list(PlanChange.objects.filter(plan=plan).order_by("at").values_list("kind", flat=True)) == [
        "remove",
        "count",
        "add",
    ]


def test_maintenance_sessions_follow_the_series_at_the_protocols_maintenance_interval(
    personas: Personas, signed_in: Any
) -> None:
    plan = _plan(personas)  # micro-needling: 3 sessions 30 days apart, maintenance every 180 days
    response = signed_in("nurse").post(
        f"/treatments/plans/{plan.pk}/maintenance/", {"count": "1", "reason": "Series finished well"}
    )
    assert response.status_code == 302
    assert _due(plan)[-1] == (4, "2026-10-28", "maintenance", "planned")


def test_progress_counts_sessions_whose_visit_is_completed(personas: Personas, signed_in: Any) -> None:
    plan = _plan(personas, sessions=4)
    _visit(personas, plan)
    _visit(personas, plan)
    _visit(personas, plan, status="open")
    page = signed_in("front_desk").get(f"/treatments/plans/{plan.pk}/").content.decode()
    assert '<dd data-testid="progress">session 2 of 4</dd>' in page
    assert [s.visit_id is not None for s in PlannedSession.objects.filter(plan=plan)] == [True, True, True, False]


def test_a_plan_completes_when_every_session_was_carried_out(personas: Personas) -> None:
    plan = _plan(personas, sessions=2)
    _visit(personas, plan)
    last = _visit(personas, plan)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.COMPLETED
    assert plan_session_for_visit(visit=last).number == 2  # linking again changes nothing


def test_a_cancelled_visit_or_a_stopped_plan_takes_no_session(personas: Personas, signed_in: Any) -> None:
    plan = _plan(personas)
    _visit(personas, plan, status="cancelled")
    signed_in("nurse").post(f"/treatments/plans/{plan.pk}/stop/", {"reason": "Patient moved away"})
    _visit(personas, plan)
    assert PlannedSession.objects.filter(plan=plan, visit__isnull=False).count() == 0
    plan.refresh_from_db()
    assert plan.status == PlanStatus.STOPPED


def test_the_plan_page_runs_the_same_queries_for_one_or_many_sessions_and_visits(
    personas: Personas, signed_in: Any, django_assert_num_queries: Any
) -> None:
    small = _plan(personas, sessions=1)
    big = _plan(personas, sessions=6)
    for _ in range(3):
        _visit(personas, big)
    client = signed_in("nurse")
    client.post(f"/treatments/plans/{big.pk}/count/", {"sessions": "5", "reason": "Shorter course"})
    client.get(f"/treatments/plans/{small.pk}/")  # warm the session
    with django_assert_num_queries(PLAN_PAGE_QUERIES):
        client.get(f"/treatments/plans/{small.pk}/")
    with django_assert_num_queries(PLAN_PAGE_QUERIES):
        client.get(f"/treatments/plans/{big.pk}/")


def test_another_clinics_plan_answers_404(personas: Personas, signed_in: Any) -> None:
    plan = _plan(personas)
    assert signed_in("other_physician").get(f"/treatments/plans/{plan.pk}/").status_code == 404


def test_the_chart_panel_shows_each_plan_with_its_progress_and_the_new_plan_form(personas: Personas) -> None:
    plan = _plan(personas)
    _visit(personas, plan)
    template = Template("{% load treatments_tags %}{% treatments_chart_panel patient %}")
    nurse_view = template.render(
        Context({"request": clinic_request(personas.nurse, personas.clinic_a, "get"), "patient": plan.patient})
    )
    desk_view = template.render(
        Context({"request": clinic_request(personas.front_desk, personas.clinic_a, "get"), "patient": plan.patient})
    )
    assert '<span data-testid="plan-progress">session 1 of 3</span>' in nurse_view
    assert f'action="/treatments/plans/new/{plan.patient_id}/"' in nurse_view
    assert "session 1 of 3" in desk_view and "New plan" not in desk_view


def test_timeline_items_list_the_plan_and_its_changes_newest_first(personas: Personas, signed_in: Any) -> None:
    plan = _plan(personas)
    signed_in("nurse").post(f"/treatments/plans/{plan.pk}/stop/", {"reason": "Patient's wish"})
    items = timeline_items(clinic_id=personas.clinic_a.pk, patient_id=plan.patient_id)
    assert [(i["kind"], i["title"], i["url"]) for i in items] == [
        ("plan", "Micro-needling with PRP plan: plan stopped", f"/treatments/plans/{plan.pk}/"),
        ("plan", "Micro-needling with PRP plan made", f"/treatments/plans/{plan.pk}/"),
    ]
    assert items[0]["detail"] == "Patient's wish (Nina Nurse)"
    assert timeline_items(clinic_id=personas.clinic_b.pk, patient_id=plan.patient_id) == []
