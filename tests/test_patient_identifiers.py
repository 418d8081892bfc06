"""A patient's numbers in other systems: staff add one, the chart shows it, bad input changes nothing."""

from __future__ import annotations

import html
from typing import Any

import pytest

from prpclinic.audit.models import AuditEvent
from prpclinic.patients.models import ExternalIdentifier, Patient
from tests.conftest import Personas, make_patient
from tests.test_fhir_import import bundle, hospital_patient, upload

HOSPITAL = "https://hospital.example/mrn"


def test_a_nurse_adds_a_hospital_number_and_the_chart_shows_it(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    client = signed_in("nurse")
    response = client.post(f"/patients/{patient.pk}/identifiers/", {"system": f" {HOSPITAL} ", "value": " H-20931 "})
    assert response.status_code == 302 and response["Location"] == f"/patients/{patient.pk}/"
    chart = client.get(response["Location"]).content.decode()
    shown = chart.split('data-testid="external-identifiers">')[1].split("</dd>")[0]
    assert "H-20931" in shown and HOSPITAL in shown and "Entered by staff" in shown
    assert "Number H-20931 added to the record." in chart
    saved = ExternalIdentifier.objects.get(patient=patient)
    assert (saved.system, saved.value, saved.source, saved.created_by) == (HOSPITAL, "H-20931", "staff", personas.nurse)
    event = AuditEvent.objects.get(action="patient.identifier_add")
    assert event.object_id == str(patient.pk) and event.actor == personas.nurse
    assert event.changes == {"external_identifiers": [None, [f"{HOSPITAL}|H-20931"]]}
    page = client.get(f"/patients/{patient.pk}/identifiers/").content.decode()
    assert "H-20931" in page and "by Nina Nurse" in page


def test_a_chart_without_other_numbers_says_so(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    chart = signed_in("front_desk").get(f"/patients/{patient.pk}/").content.decode()
    shown = chart.split('data-testid="external-identifiers">')[1].split("</dd>")[0]
    assert "—" in shown and f"/patients/{patient.pk}/identifiers/" in shown


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"system": "hospital", "value": "H-1"}, "system", "is not an identifier system"),
        ({"system": "https://hospital.example/my mrn", "value": "H-1"}, "system", "may not contain spaces"),
        ({"system": HOSPITAL, "value": "9" * 101}, "value", "at most 100 characters (it has 101)"),
        ({"system": HOSPITAL, "value": ""}, "value", "This field is required."),
    ],
)
def test_bad_input_is_refused_next_to_its_field_and_nothing_is_saved(
    personas: Personas, signed_in: Any, data: dict[str, str], field: str, message: str
) -> None:
    patient = make_patient(personas.clinic_a)
    response = signed_in("nurse").post(f"/patients/{patient.pk}/identifiers/", data)
    assert response.status_code == 400
    page = response.content.decode()
    errors = page.split(f'id="id_{field}_error"')[1].split("</ul>")[0]
    assert message in html.unescape(errors)
    assert not ExternalIdentifier.objects.exists()
    assert not AuditEvent.objects.filter(action="patient.identifier_add").exists()


def test_a_number_already_held_names_the_record_that_holds_it(personas: Personas, signed_in: Any) -> None:
    holder = make_patient(personas.clinic_a, family_name="Holder")
    other = make_patient(personas.clinic_a, family_name="Other")
    client = signed_in("nurse")
    assert client.post(f"/patients/{holder.pk}/identifiers/", {"system": HOSPITAL, "value": "H-7"}).status_code == 302
    response = client.post(f"/patients/{other.pk}/identifiers/", {"system": HOSPITAL, "value": "H-7"})
    assert response.status_code == 400
    assert f"already belongs to the record {holder.mrn}" in response.content.decode()
    again = client.post(f"/patients/{holder.pk}/identifiers/", {"system": HOSPITAL, "value": "H-7"})
    assert "already belongs to this record" in again.content.decode()
    assert list(ExternalIdentifier.objects.values_list("patient_id", flat=True)) == [holder.pk]


def test_another_clinic_may_hold_the_same_number_for_its_own_record(personas: Personas, signed_in: Any) -> None:
    ours = make_patient(personas.clinic_a)
    theirs = make_patient(personas.clinic_b)
    for value in ("H-7", "H-B"):  # H-B: only clinic B's record has it
        ExternalIdentifier.objects.create(
            clinic=personas.clinic_b, patient=theirs, system=HOSPITAL, value=value, source="fhir-import"
        )
    assert (
        signed_in("nurse").post(f"/patients/{ours.pk}/identifiers/", {"system": HOSPITAL, "value": "H-7"}).status_code
        == 302
    )
    chart = signed_in("nurse").get(f"/patients/{ours.pk}/").content.decode()
    assert "H-7" in chart and "H-B" not in chart
    # ...and clinic B's physician sees only clinic B's record, never ours.
    assert signed_in("other_physician").get(f"/patients/{ours.pk}/identifiers/").status_code == 404


def test_a_deactivated_record_takes_no_new_number(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a, is_active=False)
    response = signed_in("nurse").post(f"/patients/{patient.pk}/identifiers/", {"system": HOSPITAL, "value": "H-1"})
    assert response.status_code == 400
    refused = response.content.decode().split('class="errorlist nonfield">')[1].split("</ul>")[0]
    assert "reactivate it before adding a number" in refused
    assert not ExternalIdentifier.objects.exists()
    page = signed_in("nurse").get(f"/patients/{patient.pk}/identifiers/").content.decode()
    assert "Add the number" not in page


def test_a_script_in_a_number_is_shown_as_text(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    client = signed_in("nurse")
    client.post(f"/patients/{patient.pk}/identifiers/", {"system": HOSPITAL, "value": "<script>alert(1)</script>"})
    for url in (f"/patients/{patient.pk}/", f"/patients/{patient.pk}/identifiers/"):
        page = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_clinics_own_record_number_system_is_not_another_system(personas: Personas, signed_in: Any) -> None:
    """Exports name the MRN with the clinic's own system; stored as "other", it would clash on re-import."""
    patient = make_patient(personas.clinic_a)
    own = f"urn:prpclinic:clinic:{personas.clinic_a.slug}:mrn"
    response = signed_in("nurse").post(f"/patients/{patient.pk}/identifiers/", {"system": own, "value": "A000999"})
    assert response.status_code == 400
    errors = response.content.decode().split('id="id_system_error"')[1].split("</ul>")[0]
    assert "this clinic&#x27;s own record number" in errors
    assert not ExternalIdentifier.objects.exists()


def test_a_merged_away_record_sends_the_number_to_the_kept_one(personas: Personas, signed_in: Any) -> None:
    kept = make_patient(personas.clinic_a, family_name="Kept")
    duplicate = make_patient(personas.clinic_a, family_name="Duplicate")
    client = signed_in("physician")
    merged = client.post(f"/patients/{duplicate.pk}/merge/", {"survivor": kept.pk, "reason": "Registered twice"})
    assert merged.status_code == 302
    response = client.post(f"/patients/{duplicate.pk}/identifiers/", {"system": HOSPITAL, "value": "H-1"})
    assert response.status_code == 400
    assert "merged into another; add the number to that one" in html.unescape(response.content.decode())
    assert not ExternalIdentifier.objects.exists()


def test_a_bad_field_on_a_deactivated_record_is_still_explained(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a, is_active=False)
    response = signed_in("nurse").post(f"/patients/{patient.pk}/identifiers/", {"system": "hospital", "value": "H-1"})
    assert response.status_code == 400
    refused = html.unescape(response.content.decode().split('class="errorlist nonfield">')[1].split("</ul>")[0])
    assert "System: “hospital” is not an identifier system" in refused


def test_an_import_of_that_system_then_finds_the_record(personas: Personas, signed_in: Any) -> None:
    """The point of the number: the hospital's export updates the patient instead of registering a twin."""
    patient = make_patient(personas.clinic_a, given_name="Lena", family_name="Huber")
    added = signed_in("nurse").post(f"/patients/{patient.pk}/identifiers/", {"system": HOSPITAL, "value": "H-100"})
    assert added.status_code == 302
    report = upload(
        signed_in("admin"), bundle(("urn:uuid:a", hospital_patient((HOSPITAL, "H-100"), address=[{"text": "Gasse 2"}])))
    )
    assert "Imported: 0 created, 1 updated, 0 unchanged." in report.content.decode()
    assert list(Patient.objects.filter(clinic=personas.clinic_a)) == [patient]
