"""Screening by staff: the questionnaire page, the result with its sources, the physician's review, the gate."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from prpclinic.audit.models import AuditEvent
from prpclinic.intake import rules
from prpclinic.intake.models import Screening, ScreeningSettings
from prpclinic.intake.selectors import screening_blocker, timeline_items
from prpclinic.intake.services import screening_record
from prpclinic.visits.models import Visit
from prpclinic.visits.services import visit_start
from tests.conftest import Personas, clinic_request, make_patient
from tests.factories_consents import consent_signed
from tests.factories_intake import eligible_answers, screened_eligible
from tests.intake_helpers import form_data


def _screen(personas: Personas, patient: Any, treatment: str = "prp_scalp", **answers: Any) -> Screening:
    request = clinic_request(personas.nurse, personas.clinic_a)
    return screening_record(
        request=request, patient_id=patient.pk, treatment=treatment, answers=eligible_answers(treatment) | answers
    )


def test_a_nurse_screens_a_patient_and_sees_each_fired_rule_with_its_source(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    nurse = signed_in("nurse")
    page = nurse.get(f"/screening/patient/{patient.pk}/new/prp_scalp/")
    assert page.status_code == 200
    assert "Do you take blood thinners" in page.text and "Platelet count" in page.text
    response = nurse.post(
        f"/screening/patient/{patient.pk}/new/prp_scalp/", form_data("prp_scalp", anticoagulants=True)
    )
    screening = Screening.objects.get(patient=patient)
    assert response.status_code == 302 and response["Location"] == f"/screening/{screening.pk}/"
    result = nurse.get(response["Location"]).text
    assert "Needs physician review — Awaiting physician review" in result
    assert "Anticoagulant or antiplatelet drugs" in result
    assert "one device IFU states PRP can be prepared from patients on anticoagulants" in result
    assert "Physician review" not in result  # the nurse gets no review form


def test_the_screening_stores_answers_result_fired_rules_rule_versions_and_numbers_used(personas: Personas) -> None:
    patient = make_patient(personas.clinic_a)
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    screening = _screen(personas, patient, nsaid_last=yesterday)
    screening.refresh_from_db()
    assert screening.result == "needs_review" and screening.review_status == "pending"
    assert [f["id"] for f in screening.fired] == ["prp.nsaid_48h"]
    assert screening.answers["nsaid_last"] == yesterday and screening.answers["septicemia"] is False
    assert screening.ruleset_version == rules.RULESET_VERSION
    assert screening.rule_versions == {rule.id: rule.version for rule in rules.rules_for("prp_scalp")}
    assert screening.parameters_used["prp.nsaid_48h"] == "2"
    assert AuditEvent.objects.filter(action="screening.record", object_id=str(screening.pk)).count() == 1


def test_a_visit_for_a_patient_on_anticoagulants_starts_only_after_a_physician_clears_it_with_a_reason(
    personas: Personas, signed_in: Any
) -> None:
    patient = make_patient(personas.clinic_a)
    consent_signed(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.physician)
    screening = _screen(personas, patient, anticoagulants=True)
    nurse_request = clinic_request(personas.nurse, personas.clinic_a)
    with pytest.raises(ValidationError) as refused:
        visit_start(request=nurse_request, patient_id=patient.pk, treatment="prp_scalp")
    assert refused.value.messages == [
        "The screening for PRP for hair loss awaits a physician's review (Anticoagulant or antiplatelet drugs "
        "(growth-factor release may be delayed with COX inhibitors))."
    ]
    clear = {"decision": "cleared", "reason": "INR stable; pressure on the sites for 5 min."}
    assert signed_in("nurse").post(f"/screening/{screening.pk}/review/", clear).status_code == 403
    assert screening_blocker(clinic_id=personas.clinic_a.pk, patient_id=patient.pk, treatment="prp_scalp")
    physician = signed_in("physician")
    assert "Physician review" in physician.get(f"/screening/{screening.pk}/").text
    response = physician.post(f"/screening/{screening.pk}/review/", clear)
    assert response.status_code == 302
    assert "Cleared by a physician by Phil Physician" in physician.get(response["Location"]).text
    visit = visit_start(request=nurse_request, patient_id=patient.pk, treatment="prp_scalp")
    assert Visit.objects.filter(pk=visit.pk, status="open").exists()
    event = AuditEvent.objects.get(action="screening.review", object_id=str(screening.pk))
    assert event.changes["reason"] == clear["reason"] and event.actor == personas.physician


def test_clearing_without_a_reason_is_refused_and_changes_nothing(personas: Personas, signed_in: Any) -> None:
    screening = _screen(personas, make_patient(personas.clinic_a), tobacco=True)
    response = signed_in("physician").post(f"/screening/{screening.pk}/review/", {"decision": "cleared", "reason": " "})
    assert response.status_code == 400
    assert "Write the reason for your decision." in response.text
    screening.refresh_from_db()
    assert screening.review_status == "pending" and screening.reviewed_by is None


def test_a_declined_screening_keeps_blocking_with_the_physicians_reason(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    screening = _screen(personas, patient, cancer=True)
    signed_in("physician").post(
        f"/screening/{screening.pk}/review/", {"decision": "declined", "reason": "Under chemotherapy."}
    )
    assert screening_blocker(clinic_id=personas.clinic_a.pk, patient_id=patient.pk, treatment="prp_scalp") == (
        "A physician declined PRP for hair loss for this patient: Under chemotherapy."
    )


def test_an_absolute_contraindication_blocks_and_offers_no_review(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    screening = _screen(personas, patient, local_infection=True)
    assert screening.result == "not_eligible" and screening.review_status == "none"
    assert screening_blocker(clinic_id=personas.clinic_a.pk, patient_id=patient.pk, treatment="prp_scalp") == (
        "Not eligible for PRP for hair loss: Local infection at the site."
    )
    response = signed_in("physician").post(f"/screening/{screening.pk}/review/", {"decision": "cleared", "reason": "x"})
    assert response.status_code == 400 and "This screening does not await a review." in response.text


def test_no_screening_and_an_expired_screening_block_the_visit(personas: Personas) -> None:
    patient = make_patient(personas.clinic_a)
    blocker = screening_blocker(clinic_id=personas.clinic_a.pk, patient_id=patient.pk, treatment="microneedling_prp")
    assert blocker == "No screening for Micro-needling with PRP on record: screen the patient first."
    screening = screened_eligible(
        clinic=personas.clinic_a, patient=patient, treatment="microneedling_prp", by=personas.nurse
    )
    assert (
        screening_blocker(clinic_id=personas.clinic_a.pk, patient_id=patient.pk, treatment="microneedling_prp") is None
    )
    assert screening.expires_at - screening.recorded_at == dt.timedelta(days=30)
    Screening.objects.filter(pk=screening.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    blocker = screening_blocker(clinic_id=personas.clinic_a.pk, patient_id=patient.pk, treatment="microneedling_prp")
    assert blocker is not None and blocker.startswith("The screening for Micro-needling with PRP expired on ")
    consent_signed(clinic=personas.clinic_a, patient=patient, treatment="microneedling_prp", by=personas.nurse)
    with pytest.raises(ValidationError):
        visit_start(
            request=clinic_request(personas.nurse, personas.clinic_a),
            patient_id=patient.pk,
            treatment="microneedling_prp",
        )


def test_a_screening_for_one_treatment_does_not_open_another(personas: Personas) -> None:
    patient = make_patient(personas.clinic_a)
    screened_eligible(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.physician)
    assert screening_blocker(clinic_id=personas.clinic_a.pk, patient_id=patient.pk, treatment="mesotherapy")


def test_a_new_eligible_screening_supersedes_an_older_one(personas: Personas) -> None:
    patient = make_patient(personas.clinic_a)
    _screen(personas, patient, recent_fever=True)
    screened_eligible(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse)
    assert screening_blocker(clinic_id=personas.clinic_a.pk, patient_id=patient.pk, treatment="prp_scalp") is None


def test_missing_answers_and_future_dates_are_refused_next_to_the_field_and_nothing_is_saved(
    personas: Personas, signed_in: Any
) -> None:
    patient = make_patient(personas.clinic_a)
    data = form_data("prp_scalp")
    del data["septicemia"]
    data["nsaid_last"] = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    data["platelets"] = "180"  # without the day it was taken
    response = signed_in("nurse").post(f"/screening/patient/{patient.pk}/new/prp_scalp/", data)
    assert response.status_code == 400
    assert '<ul class="errorlist" id="id_septicemia_error"><li>Answer yes or no.</li>' in response.text
    assert '<ul class="errorlist" id="id_nsaid_last_error"><li>This date is in the future.</li>' in response.text
    assert "Give the date the blood was taken." in response.text
    assert Screening.objects.count() == 0


def test_another_clinics_screening_and_patient_answer_404(personas: Personas, signed_in: Any) -> None:
    screening = _screen(personas, make_patient(personas.clinic_a))
    other = signed_in("other_physician")
    assert other.get(f"/screening/{screening.pk}/").status_code == 404
    assert other.post(f"/screening/{screening.pk}/review/", {"decision": "cleared", "reason": "x"}).status_code == 404
    assert other.get(f"/screening/patient/{screening.patient_id}/new/prp_scalp/").status_code == 404


def test_the_review_list_shows_pending_screenings_in_a_fixed_number_of_queries(
    personas: Personas, signed_in: Any, django_assert_num_queries: Any
) -> None:
    physician = signed_in("physician")
    _screen(personas, make_patient(personas.clinic_a, family_name="Adler"), tobacco=True)
    with CaptureQueriesContext(connection) as one:
        page = physician.get("/screening/review/")
    assert "Adler, Anna" in page.text and "Tobacco use" in page.text
    for name in ("Bauer", "Czerny"):
        _screen(personas, make_patient(personas.clinic_a, family_name=name), recent_fever=True)
    _screen(personas, make_patient(personas.clinic_a, family_name="Eligible"))
    with django_assert_num_queries(len(one.captured_queries)):
        page = physician.get("/screening/review/")
    assert page.text.count("/screening/") >= 3 and "Czerny, Anna" in page.text and "Eligible, Anna" not in page.text


def test_a_physician_sets_the_clinics_validity_and_windows_and_new_screenings_use_them(
    personas: Personas, signed_in: Any
) -> None:
    physician = signed_in("physician")
    assert "Isotretinoin" in physician.get("/screening/settings/").text
    response = physician.post("/screening/settings/", {"validity_days": "14", "rule__prp.nsaid_48h": "7"})
    assert response.status_code == 302
    settings_row = ScreeningSettings.objects.get(clinic=personas.clinic_a)
    assert (settings_row.validity_days, settings_row.overrides) == (14, {"prp.nsaid_48h": "7"})
    five_days_ago = (timezone.localdate() - dt.timedelta(days=5)).isoformat()
    screening = _screen(personas, make_patient(personas.clinic_a), nsaid_last=five_days_ago)
    assert [f["id"] for f in screening.fired] == ["prp.nsaid_48h"] and screening.parameters_used["prp.nsaid_48h"] == "7"
    assert screening.expires_at - screening.recorded_at == dt.timedelta(days=14)
    assert physician.post("/screening/settings/", {"validity_days": "0"}).status_code == 400
    assert signed_in("nurse").get("/screening/settings/").status_code == 403


def test_the_chart_panel_shows_the_latest_screening_per_treatment_in_one_query(
    personas: Personas, django_assert_num_queries: Any
) -> None:
    patient = make_patient(personas.clinic_a)
    _screen(personas, patient, tobacco=True)
    screened_eligible(clinic=personas.clinic_a, patient=patient, treatment="mesotherapy", by=personas.physician)
    request = clinic_request(personas.nurse, personas.clinic_a, method="get")
    template = Template("{% load intake_tags %}{% intake_chart_panel patient %}")
    with django_assert_num_queries(1):
        html = template.render(Context({"request": request, "patient": patient}))
    assert "Awaiting physician review" in html and "Eligible" in html
    assert f"/screening/patient/{patient.pk}/new/microneedling_prp/" in html and "Screen now" in html
    desk = template.render(
        Context({"request": clinic_request(personas.front_desk, personas.clinic_a), "patient": patient})
    )
    assert "Awaiting" not in desk and "Screen now" not in desk


def test_timeline_items_list_screenings_and_reviews(personas: Personas) -> None:
    patient = make_patient(personas.clinic_a)
    screening = _screen(personas, patient, tobacco=True)
    from prpclinic.intake.services import screening_review

    screening_review(
        request=clinic_request(personas.physician, personas.clinic_a),
        screening_id=screening.pk,
        decision="cleared",
        reason="Stopped smoking for a week.",
    )
    items = timeline_items(clinic_id=personas.clinic_a.pk, patient_id=patient.pk)
    assert [(i["kind"], i["title"]) for i in items] == [
        ("review", "Cleared by a physician (PRP for hair loss)"),
        ("screening", "Screening for PRP for hair loss: Needs physician review"),
    ]
    assert items[0]["detail"] == "Stopped smoking for a week." and items[1]["url"] == f"/screening/{screening.pk}/"
    assert all(timezone.is_aware(i["at"]) for i in items)
