"""Which consents count: template versions, validity, revocation, the visit-start gate, photo uses; the pages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from prpclinic.audit.models import AuditEvent
from prpclinic.consents.models import ConsentKind, ConsentRevocation, ConsentSettings, ConsentTemplate, SignedConsent
from prpclinic.consents.selectors import consent_blocker, current_template, photo_consent, timeline_items
from prpclinic.consents.services import consent_revoke, consent_template_revise, seed_templates
from prpclinic.visits.models import Visit
from prpclinic.visits.services import visit_start
from tests.conftest import Personas, clinic_request, make_patient
from tests.factories_consents import consent_signed
from tests.factories_intake import screened_eligible


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_every_clinic_gets_a_template_per_treatment_and_for_photography_once(personas: Personas) -> None:
    seed_templates(clinic=personas.clinic_a)
    seed_templates(clinic=personas.clinic_a)

    templates = ConsentTemplate.objects.filter(clinic=personas.clinic_a)
    assert sorted(templates.values_list("kind", flat=True)) == sorted(ConsentKind.values)
    assert set(templates.values_list("version", flat=True)) == {1}
    mesotherapy = templates.get(kind="mesotherapy")
    assert "No blood is drawn" in mesotherapy.procedure
    assert "middle layer of the skin" in mesotherapy.procedure
    assert "How PRP differs from mesotherapy" in templates.get(kind="prp_scalp").procedure
    assert ConsentTemplate.objects.filter(clinic=personas.clinic_b).count() == 0  # seeded on first use only


def test_a_template_edit_makes_version_2_and_an_older_signature_still_shows_version_1(
    personas: Personas, signed_in: Any
) -> None:
    patient = make_patient(personas.clinic_a)
    old = consent_signed(clinic=personas.clinic_a, patient=patient, treatment="microneedling_prp", by=personas.nurse)
    client = signed_in("physician")
    edit = client.get("/consents/templates/microneedling_prp/edit/")
    assert edit.status_code == 200

    response = client.post(
        "/consents/templates/microneedling_prp/edit/",
        {
            **{name: getattr(old.template, name) for name in ("title", *ConsentTemplate.SECTIONS, "statement")},
            "risks": "Version two risks text.",
            "validity_days": "",
            "change_note": "Risks rewritten",
        },
    )

    new = ConsentTemplate.objects.get(clinic=personas.clinic_a, kind="microneedling_prp", is_current=True)
    assert response.status_code == 302 and new.version == 2
    old.refresh_from_db()
    assert old.template_version == 1 and old.template.version == 1 and not old.template.is_current
    record = client.get(f"/consents/{old.pk}/").content.decode()
    assert "Version 1" in record
    as_signed = client.get(f"/consents/templates/{old.template_id}/").content.decode()
    assert "Version 1 (superseded)" in as_signed and "Version two risks text." not in as_signed
    sign_page = client.get(f"/consents/patients/{patient.pk}/sign/microneedling_prp/").content.decode()
    assert "Version 2" in sign_page and "Version two risks text." in sign_page
    assert AuditEvent.objects.filter(action="consent.template_revise").count() == 1


def test_saving_an_unchanged_template_writes_no_new_version(personas: Personas) -> None:
    request = clinic_request(personas.physician, personas.clinic_a)
    current = current_template(clinic_id=personas.clinic_a.pk, kind="prp_scalp")

    same = consent_template_revise(request=request, kind="prp_scalp", data={"title": current.title})

    assert same.pk == current.pk and same.version == 1


def test_a_refused_template_edit_keeps_the_current_version(personas: Personas, signed_in: Any) -> None:
    response = signed_in("physician").post(
        "/consents/templates/prp_scalp/edit/", {"title": "", "change_note": "oops", "validity_days": "0"}
    )

    assert response.status_code == 400
    assert ConsentTemplate.objects.filter(clinic=personas.clinic_a, kind="prp_scalp").count() == 1


def test_a_nurse_may_not_edit_templates(personas: Personas, signed_in: Any) -> None:
    assert signed_in("nurse").get("/consents/templates/prp_scalp/edit/").status_code == 403


def test_validity_comes_from_the_clinic_setting_or_the_template(personas: Personas) -> None:
    ConsentSettings.objects.create(clinic=personas.clinic_a, validity_days=30)
    consent_template_revise(
        request=clinic_request(personas.physician, personas.clinic_a),
        kind="mesotherapy",
        data={"validity_days": 90, "change_note": "three months"},
    )
    patient = make_patient(personas.clinic_a)

    by_clinic = consent_signed(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse)
    by_template = consent_signed(clinic=personas.clinic_a, patient=patient, treatment="mesotherapy", by=personas.nurse)

    assert by_clinic.expires_at - by_clinic.signed_at == dt.timedelta(days=30)
    assert by_template.expires_at - by_template.signed_at == dt.timedelta(days=90)


def test_the_default_validity_is_365_days(personas: Personas) -> None:
    patient = make_patient(personas.clinic_a)

    consent = consent_signed(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse)

    assert consent.expires_at - consent.signed_at == dt.timedelta(days=365)


def test_the_clinic_changes_its_consent_settings_on_a_page(personas: Personas, signed_in: Any) -> None:
    response = signed_in("admin").post("/consents/settings/", {"witness_required": "on", "validity_days": "180"})

    rules = ConsentSettings.objects.get(clinic=personas.clinic_a)
    assert response.status_code == 302
    assert rules.witness_required and rules.validity_days == 180
    assert AuditEvent.objects.filter(action="consent.settings").count() == 1


def test_no_consent_blocks_a_visit_start_with_a_clear_sentence(personas: Personas) -> None:
    patient = make_patient(personas.clinic_a)

    assert consent_blocker(clinic_id=personas.clinic_a.pk, patient_id=patient.pk, treatment="microneedling_prp") == (
        "No valid consent for micro-needling with PRP: no signed consent on record."
    )


def test_an_expired_consent_blocks_a_visit_start_with_a_clear_sentence(personas: Personas) -> None:
    patient = make_patient(personas.clinic_a)
    screened_eligible(clinic=personas.clinic_a, patient=patient, treatment="microneedling_prp", by=personas.nurse)
    consent = consent_signed(
        clinic=personas.clinic_a, patient=patient, treatment="microneedling_prp", by=personas.nurse
    )
    expired = dt.datetime(2026, 1, 2, 23, 30, tzinfo=dt.UTC)  # already 3 January in Vienna
    SignedConsent.objects.filter(pk=consent.pk).update(expires_at=expired)  # time passing, not an edit

    with pytest.raises(ValidationError) as refused:
        visit_start(
            request=clinic_request(personas.nurse, personas.clinic_a),
            patient_id=patient.pk,
            treatment="microneedling_prp",
        )

    assert refused.value.messages == [
        "No valid consent for micro-needling with PRP: signed consent expired on 2026-01-03."
    ]
    assert Visit.objects.count() == 0


def test_a_revoked_consent_blocks_a_visit_start_and_the_record_stays(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    screened_eligible(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse)
    consent = consent_signed(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse)
    client = signed_in("front_desk")

    response = client.post(f"/consents/{consent.pk}/revoke/", {"reason": "Patient changed her mind"})
    refused = signed_in("nurse").post(f"/visits/start/{patient.pk}/", {"treatment": "prp_scalp"}, follow=True)

    assert response.status_code == 302
    revocation = ConsentRevocation.objects.get(consent=consent)
    assert revocation.revoked_by == personas.front_desk and revocation.reason == "Patient changed her mind"
    assert "No valid consent for PRP for hair loss: signed consent revoked on" in refused.content.decode()
    assert Visit.objects.count() == 0
    assert SignedConsent.objects.filter(pk=consent.pk).exists()
    record = client.get(f"/consents/{consent.pk}/").content.decode()
    assert "Revoked on" in record and "Patient changed her mind" in record and "Fred Desk" in record
    assert AuditEvent.objects.filter(action="consent.revoke", object_id=str(consent.pk)).count() == 1


def test_a_revocation_needs_a_reason_and_happens_once(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    consent = consent_signed(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse)
    request = clinic_request(personas.nurse, personas.clinic_a)

    without_reason = signed_in("nurse").post(f"/consents/{consent.pk}/revoke/", {"reason": ""})
    consent_revoke(request=request, consent_id=consent.pk, reason="withdrawn")
    with pytest.raises(ValidationError, match="already revoked"):
        consent_revoke(request=request, consent_id=consent.pk, reason="again")

    assert without_reason.status_code == 400 and "This field is required." in without_reason.content.decode()
    assert ConsentRevocation.objects.count() == 1


def test_a_valid_consent_lets_the_visit_start(personas: Personas) -> None:
    patient = make_patient(personas.clinic_a)
    screened_eligible(clinic=personas.clinic_a, patient=patient, treatment="mesotherapy", by=personas.physician)
    consent_signed(clinic=personas.clinic_a, patient=patient, treatment="mesotherapy", by=personas.physician)

    visit = visit_start(
        request=clinic_request(personas.physician, personas.clinic_a), patient_id=patient.pk, treatment="mesotherapy"
    )

    assert visit.treatment == "mesotherapy"
    assert consent_blocker(clinic_id=personas.clinic_a.pk, patient_id=patient.pk, treatment="mesotherapy") is None


def test_a_consent_for_one_treatment_does_not_cover_another(personas: Personas) -> None:
    patient = make_patient(personas.clinic_a)
    consent_signed(clinic=personas.clinic_a, patient=patient, treatment="mesotherapy", by=personas.nurse)

    assert consent_blocker(clinic_id=personas.clinic_a.pk, patient_id=patient.pk, treatment="prp_scalp") == (
        "No valid consent for PRP for hair loss: no signed consent on record."
    )


def test_a_new_consent_after_an_expired_one_counts(personas: Personas) -> None:
    patient = make_patient(personas.clinic_a)
    old = consent_signed(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse)
    SignedConsent.objects.filter(pk=old.pk).update(expires_at=timezone.now() - dt.timedelta(days=1))
    consent_signed(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse)

    assert consent_blocker(clinic_id=personas.clinic_a.pk, patient_id=patient.pk, treatment="prp_scalp") is None


def test_photo_consent_returns_the_allowed_uses_of_the_valid_photo_consent(personas: Personas) -> None:
    patient = make_patient(personas.clinic_a)
    ids = {"clinic_id": personas.clinic_a.pk, "patient_id": patient.pk}
    assert photo_consent(**ids) is None

    first = consent_signed(
        clinic=personas.clinic_a, patient=patient, treatment="photography", by=personas.nurse,
        photo_uses=("clinical_record", "teaching"),
    )  # fmt: skip
    assert photo_consent(**ids) == frozenset({"clinical_record", "teaching"})

    consent_signed(
        clinic=personas.clinic_a, patient=patient, treatment="photography", by=personas.nurse,
        photo_uses=("clinical_record", "share_with_patient", "marketing"),
    )  # fmt: skip
    assert photo_consent(**ids) == frozenset({"clinical_record", "share_with_patient", "marketing"})

    latest = SignedConsent.objects.exclude(pk=first.pk).get(kind="photography")
    consent_revoke(request=clinic_request(personas.nurse, personas.clinic_a), consent_id=latest.pk, reason="no more")
    assert photo_consent(**ids) == frozenset({"clinical_record", "teaching"})  # the earlier one is still valid

    consent_revoke(request=clinic_request(personas.nurse, personas.clinic_a), consent_id=first.pk, reason="none")
    assert photo_consent(**ids) is None
    assert photo_consent(clinic_id=personas.clinic_b.pk, patient_id=patient.pk) is None


def test_a_photo_consent_needs_at_least_one_use_ticked(personas: Personas, signed_in: Any) -> None:
    from tests.factories_consents import signature_data_url

    patient = make_patient(personas.clinic_a)
    template = current_template(clinic_id=personas.clinic_a.pk, kind="photography")
    url = f"/consents/patients/{patient.pk}/sign/photography/"
    form = {
        "template_id": template.pk, "signer_relationship": "patient", "signer_name": "Anna Berger",
        "signature": signature_data_url(),
    }  # fmt: skip
    client = signed_in("nurse")

    refused = client.post(url, form)
    signed = client.post(url, {**form, "photo_uses": ["clinical_record", "teaching"]})

    assert refused.status_code == 400 and "Tick at least one use" in refused.content.decode()
    assert signed.status_code == 302
    record = client.get(signed.url).content.decode()
    assert "Teaching and publication, anonymised" in record and "marketing" not in record.split("Photos may")[1][:200]


def test_the_consent_list_runs_the_same_queries_for_one_or_three_consents(
    personas: Personas, signed_in: Any, django_assert_num_queries: Any
) -> None:
    one, three = make_patient(personas.clinic_a), make_patient(personas.clinic_a)
    consent_signed(clinic=personas.clinic_a, patient=one, treatment="prp_scalp", by=personas.nurse)
    for kind in ("prp_scalp", "mesotherapy", "photography"):
        consent_signed(clinic=personas.clinic_a, patient=three, treatment=kind, by=personas.nurse)
    consent_revoke(
        request=clinic_request(personas.nurse, personas.clinic_a),
        consent_id=SignedConsent.objects.filter(patient=three).first().pk,
        reason="withdrawn",
    )
    client = signed_in("nurse")
    client.get(f"/consents/patients/{one.pk}/")  # warm the session and the clinic's caches
    counts = []
    for patient in (one, three):
        with CaptureQueriesContext(connection) as queries:
            page = client.get(f"/consents/patients/{patient.pk}/")
        assert page.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    with django_assert_num_queries(counts[1]):
        page = client.get(f"/consents/patients/{three.pk}/")
    assert "revoked" in page.content.decode()


def test_the_chart_panel_shows_each_forms_status_with_links_in_one_query(
    personas: Personas, django_assert_num_queries: Any
) -> None:
    patient = make_patient(personas.clinic_a)
    valid = consent_signed(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse)
    expired = consent_signed(clinic=personas.clinic_a, patient=patient, treatment="mesotherapy", by=personas.nurse)
    SignedConsent.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(days=1))
    request = clinic_request(personas.nurse, personas.clinic_a, method="get")
    tag = Template("{% load consents_tags %}{% consents_chart_panel patient %}")
    context = Context({"request": request, "allowed": frozenset({"consent.view", "consent.sign"}), "patient": patient})

    with django_assert_num_queries(1):
        html = tag.render(context)

    assert 'data-consent-kind="prp_scalp"' in html
    assert f"/consents/{valid.pk}/pdf/" in html and f"/consents/{expired.pk}/" in html
    assert html.count("not signed") == 2  # micro-needling and photography
    assert "expired" in html and "valid" in html
    assert f"/consents/patients/{patient.pk}/sign/microneedling_prp/" in html


def test_timeline_items_list_signings_and_revocations_newest_first(personas: Personas) -> None:
    patient = make_patient(personas.clinic_a)
    first = consent_signed(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse)
    consent_signed(clinic=personas.clinic_a, patient=patient, treatment="photography", by=personas.nurse)
    consent_revoke(request=clinic_request(personas.nurse, personas.clinic_a), consent_id=first.pk, reason="moved")

    items = timeline_items(clinic_id=personas.clinic_a.pk, patient_id=patient.pk)

    assert [item["title"] for item in items] == [
        "Consent revoked: PRP for hair loss",
        "Consent signed: Photography and use of photos",
        "Consent signed: PRP for hair loss",
    ]
    assert set(items[0]) == {"at", "kind", "title", "detail", "url"}
    assert items[0]["url"] == f"/consents/{first.pk}/" and items[0]["detail"] == "moved"
    assert items[2]["detail"] == "Version 1, signed by Anna Berger"
    assert timeline_items(clinic_id=personas.clinic_b.pk, patient_id=patient.pk) == []


def test_the_templates_page_lists_every_form_and_the_clinic_settings(personas: Personas, signed_in: Any) -> None:
    page = signed_in("front_desk").get("/consents/templates/").content.decode()

    for title in ("Consent to micro-needling with PRP", "Consent to PRP treatment for hair loss",
                  "Consent to mesotherapy", "Consent to photography and to the use of photographs"):  # fmt: skip
        assert title in page
    assert "365 days" in page and "Edit (new version)" not in page


def test_a_signed_consent_and_a_written_template_version_cannot_be_changed_through_the_app(
    personas: Personas,
) -> None:
    patient = make_patient(personas.clinic_a)
    consent = consent_signed(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse)
    consent.signer_name = "Someone Else"
    template = consent.template
    template.risks = "Rewritten in place"

    with pytest.raises(ValueError, match="never changes"):
        consent.save()
    with pytest.raises(ValueError, match="never changes"):
        template.save()

    consent.refresh_from_db()
    template.refresh_from_db()
    assert consent.signer_name == "Anna Berger" and template.risks != "Rewritten in place"
