"""Import from another system: a FHIR transaction Bundle (Patients, Appointments) and a CSV of patients.

Both are all-or-nothing with a report per entry; patients are matched by MRN or by another system's identifier
(kept as ExternalIdentifier); writes are audited.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from prpclinic.audit.models import AuditEvent
from prpclinic.fhir import importing
from prpclinic.patients.models import ExternalIdentifier, Patient
from prpclinic.patients.services import patient_merge
from prpclinic.scheduling.models import Appointment
from tests.conftest import Personas, clinic_request, make_patient
from tests.matrix_scheduling import MONDAY, at, schedule_setup

MRN_A = "urn:prpclinic:clinic:clinic-a:mrn"
LOCAL = "https://prpclinic.org/fhir/CodeSystem/prpclinic"


def fhir_patient(*, mrn: str | None = None, family: str = "Huber", given: str = "Lena", **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "name": [{"use": "official", "family": family, "given": [given]}],
        "birthDate": "1990-02-14",
        "gender": "female",
        "telecom": [{"system": "phone", "value": "+43 1 234 5678"}, {"system": "email", "value": "lena@example.org"}],
    }
    if mrn:
        resource["identifier"] = [{"system": MRN_A, "value": mrn}]
    resource.update(extra)
    return resource


def fhir_appointment(patient_ref: str, *, start: str = "2027-03-01T10:00:00+01:00", code: str = "mesotherapy") -> dict:
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "serviceType": [{"coding": [{"system": LOCAL, "code": f"treatment-{code}"}]}],
        "start": start,
        "end": "2027-03-01T11:00:00+01:00",
        "participant": [{"actor": {"reference": patient_ref}, "status": "accepted"}],
    }


def bundle(*resources: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": url, "resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}
            for url, resource in resources
        ],
    }


def upload(client: Client, data: dict[str, Any] | bytes, *, clinician: Any = None) -> Any:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    fields = {"file": SimpleUploadedFile("bundle.json", raw, "application/fhir+json")}
    return client.post("/interop/import/fhir/", fields | ({"clinician": clinician.pk} if clinician else {}))


@pytest.fixture
def admin(signed_in: Any) -> Client:
    return signed_in("admin")


def test_a_bundle_of_patients_and_an_appointment_is_imported_and_reported(personas: Personas, admin: Client) -> None:
    schedule_setup(personas)
    response = upload(
        admin,
        bundle(
            ("urn:uuid:11111111-1111-4111-8111-111111111111", fhir_patient(mrn="X-7")),
            ("urn:uuid:22222222-2222-4222-8222-222222222222", fhir_patient(family="Maier", given="Jonas")),
            (
                "urn:uuid:33333333-3333-4333-8333-333333333333",
                fhir_appointment("urn:uuid:11111111-1111-4111-8111-111111111111"),
            ),
        ),
        clinician=personas.nurse,
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Imported: 3 created, 0 updated, 0 unchanged." in page
    lena = Patient.objects.get(clinic=personas.clinic_a, mrn="X-7")
    assert (lena.given_name, lena.family_name, lena.sex, lena.phone) == ("Lena", "Huber", "female", "+43 1 234 5678")
    jonas = Patient.objects.get(clinic=personas.clinic_a, family_name="Maier")
    assert jonas.mrn.startswith("A")  # no identifier given: the clinic's next record number
    appointment = Appointment.objects.get(clinic=personas.clinic_a)
    assert (appointment.patient_id, appointment.treatment, appointment.starts_at) == (
        lena.pk, "mesotherapy", at(MONDAY, 10)
    )  # fmt: skip
    assert f"Patient X-7 (record {lena.pk})" in page
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions.count("patient.create") == 2
    assert "appointment.book" in actions and "data.import" in actions


def test_importing_the_same_bundle_again_updates_by_mrn_and_creates_no_duplicate(
    personas: Personas, admin: Client
) -> None:
    schedule_setup(personas)
    existing = make_patient(personas.clinic_a, mrn="X-7", given_name="Lena", family_name="Hubner")
    data = bundle(
        ("urn:uuid:11111111-1111-4111-8111-111111111111", fhir_patient(mrn="X-7")),
        ("urn:uuid:33333333-3333-4333-8333-333333333333",
         fhir_appointment("urn:uuid:11111111-1111-4111-8111-111111111111")),
    )  # fmt: skip
    first = upload(admin, data, clinician=personas.nurse)
    assert "Imported: 1 created, 1 updated, 0 unchanged." in first.content.decode()
    existing.refresh_from_db()
    assert existing.family_name == "Huber"
    again = upload(admin, data, clinician=personas.nurse)
    assert "Imported: 0 created, 0 updated, 2 unchanged." in again.content.decode()
    assert Patient.objects.filter(clinic=personas.clinic_a).count() == 1
    assert Appointment.objects.filter(clinic=personas.clinic_a).count() == 1


def test_one_refused_entry_saves_nothing_and_the_report_says_which_and_why(personas: Personas, admin: Client) -> None:
    response = upload(
        admin,
        bundle(
            ("urn:uuid:11111111-1111-4111-8111-111111111111", fhir_patient(mrn="X-7")),
            ("urn:uuid:22222222-2222-4222-8222-222222222222", fhir_patient(birthDate="14.02.1990")),
            ("urn:uuid:44444444-4444-4444-8444-444444444444", fhir_patient(gender="woman")),
            ("urn:uuid:55555555-5555-4555-8555-555555555555", {"resourceType": "Observation", "status": "final"}),
        ),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was imported: 3 of 4 entries refused." in page
    assert "Would be created" in page  # the good entry
    assert "Not valid FHIR R4B: birthDate" in page
    assert "gender" in page
    assert "Only Patient and Appointment resources are imported." in page
    assert not Patient.objects.filter(clinic=personas.clinic_a).exists()
    assert not AuditEvent.objects.filter(action__in=["patient.create", "data.import"]).exists()


def test_a_delete_entry_is_refused_records_are_never_deleted_by_an_import(personas: Personas, admin: Client) -> None:
    patient = make_patient(personas.clinic_a, mrn="X-7")
    data = bundle(("urn:uuid:a", fhir_patient(mrn="X-7")))
    data["entry"][0]["request"] = {"method": "DELETE", "url": f"Patient/{patient.pk}"}
    response = upload(admin, data)
    assert response.status_code == 400
    assert "Only POST and PUT entries are imported, not DELETE." in response.content.decode()
    assert Patient.objects.filter(pk=patient.pk, is_active=True).exists()


def test_an_appointment_that_conflicts_refuses_the_whole_bundle(personas: Personas, admin: Client) -> None:
    schedule_setup(personas)
    ref = "urn:uuid:11111111-1111-4111-8111-111111111111"
    response = upload(
        admin,
        bundle(
            (ref, fhir_patient(mrn="X-7")),
            ("urn:uuid:33333333-3333-4333-8333-333333333333", fhir_appointment(ref)),
            ("urn:uuid:66666666-6666-4666-8666-666666666666", fhir_appointment(ref, code="microneedling_prp")),
        ),
        clinician=personas.nurse,
    )
    assert response.status_code == 400
    assert "Nothing was imported: 1 of 3 entries refused." in response.content.decode()
    assert not Patient.objects.filter(clinic=personas.clinic_a).exists()
    assert not Appointment.objects.exists()


def test_an_appointment_may_not_point_at_another_clinics_patient(personas: Personas, admin: Client) -> None:
    schedule_setup(personas)
    theirs = make_patient(personas.clinic_b)
    response = upload(admin, bundle(("urn:uuid:a", fhir_appointment(f"Patient/{theirs.pk}"))), clinician=personas.nurse)
    assert response.status_code == 400
    assert f"Patient/{theirs.pk} is not a patient of this clinic." in response.content.decode()
    assert not Appointment.objects.exists()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "could not be read as JSON"),
        (json.dumps({"resourceType": "Patient"}).encode(), "not a FHIR Bundle"),
        (json.dumps({"resourceType": "Bundle", "type": "collection"}).encode(), "Only a Bundle of type transaction"),
    ],
)
def test_a_file_that_is_not_a_transaction_bundle_is_refused_next_to_the_file_field(
    personas: Personas, admin: Client, raw: bytes, message: str
) -> None:
    response = upload(admin, raw)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_appointments_need_a_clinician_of_this_clinic(personas: Personas, admin: Client) -> None:
    schedule_setup(personas)
    ref = "urn:uuid:11111111-1111-4111-8111-111111111111"
    data = bundle((ref, fhir_patient(mrn="X-7")), ("urn:uuid:b", fhir_appointment(ref)))
    response = upload(admin, data)
    assert response.status_code == 400
    assert "Choose a physician or nurse of this clinic." in response.content.decode()
    other_clinic = upload(admin, data, clinician=personas.other_physician)
    assert other_clinic.status_code == 400
    assert "Select a valid choice." in other_clinic.content.decode()
    assert not Patient.objects.exists()


def test_a_file_over_the_size_limit_is_refused(
    personas: Personas, admin: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing, "MAX_BUNDLE_BYTES", 100)
    response = upload(admin, bundle(("urn:uuid:a", fhir_patient())))
    assert response.status_code == 400
    assert "is larger than" in response.content.decode()


def test_the_import_page_is_for_clinic_admins_only(signed_in: Any, personas: Personas) -> None:
    assert signed_in("admin").get("/interop/import/").status_code == 200
    for name in ("physician", "nurse", "front_desk"):
        assert upload(signed_in(name), bundle(("urn:uuid:a", fhir_patient()))).status_code == 403
    assert not Patient.objects.exists()


# --- CSV -------------------------------------------------------------------------------------

GOOD_CSV = (
    "Patient ID;Vorname;Nachname;Geburtsdatum;Geschlecht;E-Mail\n"
    "X-1;Lena;Huber;14.02.1990;w;lena@example.org\n"
    "X-2;Jonas;Maier;01.12.1978;m;\n"
)


def csv_upload(client: Client, text: str) -> Any:
    return client.post("/interop/import/csv/", {"file": SimpleUploadedFile("p.csv", text.encode(), "text/csv")})


def mapping(**overrides: str) -> dict[str, str]:
    data = {
        "mrn": "0", "given_name": "1", "family_name": "2", "date_of_birth": "3", "sex": "4", "email": "5",
        "phone": "", "address": "", "date_format": "%d.%m.%Y",
    }  # fmt: skip
    data.update(overrides)
    return data


def test_a_csv_is_mapped_previewed_and_imported_and_its_file_removed(personas: Personas, admin: Client) -> None:
    response = csv_upload(admin, GOOD_CSV)
    assert response.status_code == 302 and response["Location"] == "/interop/import/csv/map/"
    stored = admin.session[importing_key()]["name"]
    assert default_storage.exists(stored) and "Huber" not in stored  # a random name
    page = admin.get("/interop/import/csv/map/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "Geburtsdatum" in text and "2 patient rows" in text
    # The headings are guessed: "Vorname" for the given name is already selected.
    assert page.context["form"].initial["given_name"] == "1"
    assert page.context["form"].initial["date_of_birth"] == "3"
    preview = admin.post("/interop/import/csv/map/", {**mapping(), "action": "preview"})
    assert preview.status_code == 200
    assert "The previewed rows are accepted" in preview.content.decode()
    assert not Patient.objects.exists()  # the preview saves nothing
    done = admin.post("/interop/import/csv/map/", {**mapping(), "action": "import"})
    assert done.status_code == 200
    assert "Imported: 2 created, 0 updated, 0 unchanged." in done.content.decode()
    lena = Patient.objects.get(clinic=personas.clinic_a, mrn="X-1")
    assert (lena.given_name, lena.sex, lena.email) == ("Lena", "female", "lena@example.org")
    assert str(lena.date_of_birth) == "1990-02-14"
    assert not default_storage.exists(stored)
    assert importing_key() not in admin.session


def importing_key() -> str:
    from prpclinic.fhir.import_views import SESSION_KEY

    return SESSION_KEY


def test_a_csv_with_a_bad_row_shows_the_message_in_the_preview_and_imports_nothing(
    personas: Personas, admin: Client
) -> None:
    csv_upload(admin, GOOD_CSV + "X-3;Eva;Gruber;1985-31-12;f;\n")
    preview = admin.post("/interop/import/csv/map/", {**mapping(), "action": "preview"})
    assert preview.status_code == 400
    text = preview.content.decode()
    assert "1 row refused" in text
    assert "“1985-31-12” is not a date as DD.MM.YYYY (31.03.2026)." in text
    refused = admin.post("/interop/import/csv/map/", {**mapping(), "action": "import"})
    assert refused.status_code == 400
    assert "Nothing was imported" in refused.content.decode()
    assert not Patient.objects.exists()
    assert importing_key() in admin.session  # the file stays for a corrected mapping or a cancel


def test_the_mapping_needs_the_required_fields_and_one_column_per_field(personas: Personas, admin: Client) -> None:
    csv_upload(admin, GOOD_CSV)
    response = admin.post("/interop/import/csv/map/", {**mapping(given_name="", family_name="1"), "action": "preview"})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    twice = admin.post("/interop/import/csv/map/", {**mapping(family_name="1"), "action": "preview"})
    assert twice.status_code == 400
    assert "This column is already chosen for Given name." in twice.content.decode()


def test_a_csv_row_with_a_known_mrn_updates_that_patient(personas: Personas, admin: Client) -> None:
    existing = make_patient(personas.clinic_a, mrn="X-1", given_name="Lena", family_name="Hubner")
    csv_upload(admin, GOOD_CSV)
    done = admin.post("/interop/import/csv/map/", {**mapping(), "action": "import"})
    assert "Imported: 1 created, 1 updated, 0 unchanged." in done.content.decode()
    existing.refresh_from_db()
    assert existing.family_name == "Huber"


def test_cancelling_a_csv_import_removes_its_file(personas: Personas, admin: Client) -> None:
    csv_upload(admin, GOOD_CSV)
    stored = admin.session[importing_key()]["name"]
    assert admin.post("/interop/import/csv/cancel/").status_code == 302
    assert not default_storage.exists(stored)
    assert admin.get("/interop/import/csv/map/").status_code == 404


def test_a_csv_without_patient_rows_is_refused(personas: Personas, admin: Client) -> None:
    response = csv_upload(admin, "Vorname;Nachname\n")
    assert response.status_code == 400
    assert "at least one patient row" in response.content.decode()


# --- de-duplication by any identifier ----------------------------------------------------------

HOSPITAL = "https://hospital.example/fhir/mrn"
NATIONAL = "urn:oid:1.2.40.0.10.1.4.3.1"


def hospital_patient(*identifiers: tuple[str | None, str], **extra: Any) -> dict[str, Any]:
    """A Patient as a hospital exports it: its own numbers, not ours."""
    resource = fhir_patient(**extra)
    resource["identifier"] = [
        {"value": value} | ({"system": system} if system is not None else {}) for system, value in identifiers
    ]
    return resource


def identifiers_of(patient: Patient) -> list[tuple[str, str]]:
    return sorted(ExternalIdentifier.objects.filter(patient=patient).values_list("system", "value"))


def test_the_same_hospital_bundle_imported_twice_creates_then_updates_and_keeps_its_identifiers(
    personas: Personas, admin: Client
) -> None:
    data = bundle(("urn:uuid:a", hospital_patient((HOSPITAL, "H-100"), (NATIONAL, "1234 010190"))))
    first = upload(admin, data)
    assert "Imported: 1 created, 0 updated, 0 unchanged." in first.content.decode()
    lena = Patient.objects.get(clinic=personas.clinic_a)
    assert lena.mrn.startswith("A")  # the hospital's number is not ours: the clinic's next MRN
    assert identifiers_of(lena) == [(HOSPITAL, "H-100"), (NATIONAL, "1234 010190")]
    row = ExternalIdentifier.objects.get(system=HOSPITAL)
    assert (row.clinic_id, row.source, row.created_by_id) == (personas.clinic_a.pk, "fhir-import", personas.admin.pk)
    again = upload(admin, data)
    assert "Imported: 0 created, 0 updated, 1 unchanged." in again.content.decode()
    moved = upload(admin, bundle(("urn:uuid:a", hospital_patient((HOSPITAL, "H-100"), address=[{"text": "Gasse 2"}]))))
    assert "Imported: 0 created, 1 updated, 0 unchanged." in moved.content.decode()
    assert Patient.objects.filter(clinic=personas.clinic_a).count() == 1
    lena.refresh_from_db()
    assert lena.address == "Gasse 2"
    assert ExternalIdentifier.objects.count() == 2
    added = AuditEvent.objects.filter(action="patient.identifier_add").get()
    assert added.object_id == str(lena.pk)
    assert added.changes["external_identifiers"] == [None, [f"{HOSPITAL}|H-100", f"{NATIONAL}|1234 010190"]]


def test_a_known_identifier_updates_its_patient_who_also_takes_the_entrys_new_identifiers(
    personas: Personas, admin: Client
) -> None:
    known = make_patient(personas.clinic_a, given_name="Lena", family_name="Huber")
    ExternalIdentifier.objects.create(
        clinic=personas.clinic_a, patient=known, system=HOSPITAL, value="H-100", source="staff"
    )
    response = upload(admin, bundle(("urn:uuid:a", hospital_patient((HOSPITAL, "H-100"), (NATIONAL, "N-7")))))
    assert response.status_code == 200
    assert "Imported: 0 created, 1 updated, 0 unchanged." in response.content.decode()
    assert identifiers_of(known) == [(HOSPITAL, "H-100"), (NATIONAL, "N-7")]
    assert Patient.objects.filter(clinic=personas.clinic_a).count() == 1


def test_identifiers_that_name_two_different_patients_refuse_the_bundle_and_change_nothing(
    personas: Personas, admin: Client
) -> None:
    anna = make_patient(personas.clinic_a, mrn="X-1")
    otto = make_patient(personas.clinic_a, mrn="X-2", given_name="Otto", sex="male")
    ExternalIdentifier.objects.create(
        clinic=personas.clinic_a, patient=otto, system=HOSPITAL, value="H-2", source="staff"
    )
    resource = hospital_patient((HOSPITAL, "H-2"), (NATIONAL, "N-9"))
    resource["identifier"].append({"system": MRN_A, "value": "X-1"})
    response = upload(admin, bundle(("urn:uuid:b", fhir_patient(family="Maier")), ("urn:uuid:a", resource)))
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was imported: 1 of 2 entries refused." in page
    assert (
        f"These identifiers name different patients: record number X-1 belongs to MRN X-1, "
        f"identifier {HOSPITAL}|H-2 to MRN X-2."
    ) in page
    assert Patient.objects.filter(clinic=personas.clinic_a).count() == 2  # Maier was not created either
    anna.refresh_from_db()
    otto.refresh_from_db()
    assert (anna.family_name, otto.given_name) == ("Berger", "Otto")
    assert identifiers_of(otto) == [(HOSPITAL, "H-2")] and identifiers_of(anna) == []
    assert not AuditEvent.objects.filter(
        action__in=["patient.update", "patient.identifier_add", "data.import"]
    ).exists()


def test_an_identifier_without_a_system_is_refused_it_cannot_be_matched(personas: Personas, admin: Client) -> None:
    response = upload(admin, bundle(("urn:uuid:a", hospital_patient((None, "4711"), (HOSPITAL, "H-100")))))
    assert response.status_code == 400
    assert "Identifier 4711 has no system: it cannot be matched to a patient, so it is refused." in (
        response.content.decode()
    )
    assert not Patient.objects.exists() and not ExternalIdentifier.objects.exists()


def test_an_identifier_system_that_is_not_a_uri_is_refused(personas: Personas, admin: Client) -> None:
    response = upload(admin, bundle(("urn:uuid:a", hospital_patient(("hospital", "H-100")))))
    assert response.status_code == 400
    assert "“hospital” is not an identifier system" in response.content.decode()
    assert not Patient.objects.exists()


def test_the_same_identifier_in_two_entries_of_one_bundle_is_refused(personas: Personas, admin: Client) -> None:
    response = upload(
        admin,
        bundle(
            ("urn:uuid:a", hospital_patient((HOSPITAL, "H-100"))),
            ("urn:uuid:b", hospital_patient((NATIONAL, "N-1"), (HOSPITAL, " H-100 "), family="Hubner")),
        ),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert f"Identifier {HOSPITAL}|H-100 appears twice in this file (also entry 1): the same patient twice." in page
    assert not Patient.objects.exists() and not ExternalIdentifier.objects.exists()


def test_an_identifier_of_a_merged_away_record_updates_the_survivor_never_the_merged_one(
    personas: Personas, admin: Client
) -> None:
    survivor = make_patient(personas.clinic_a, mrn="X-1")
    duplicate = make_patient(personas.clinic_a, mrn="X-2", given_name="Ana")
    patient_merge(
        request=clinic_request(personas.admin, personas.clinic_a),
        duplicate_id=duplicate.pk,
        survivor_id=survivor.pk,
        reason="registered twice",
    )
    response = upload(admin, bundle(("urn:uuid:a", fhir_patient(mrn="X-2", given="Anna", family="Berger"))))
    assert response.status_code == 200, response.content.decode()
    page = response.content.decode()
    assert "Matched by record number X-2: record X-2 was merged into X-1, which is updated instead." in page
    assert f"Patient X-1 (record {survivor.pk})" in page
    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    assert survivor.phone == "+43 1 234 5678"  # from the file
    assert (duplicate.given_name, duplicate.phone, duplicate.merged_into_id) == ("Ana", "", survivor.pk)


def test_an_unknown_mrn_whose_foreign_identifier_names_another_record_is_refused(
    personas: Personas, admin: Client
) -> None:
    known = make_patient(personas.clinic_a, mrn="X-1")
    ExternalIdentifier.objects.create(
        clinic=personas.clinic_a, patient=known, system=HOSPITAL, value="H-1", source="staff"
    )
    resource = hospital_patient((HOSPITAL, "H-1"))
    resource["identifier"].append({"system": MRN_A, "value": "X-9"})
    response = upload(admin, bundle(("urn:uuid:a", resource)))
    assert response.status_code == 400
    assert f"Record number X-9 is not a patient of this clinic, but identifier {HOSPITAL}|H-1 belongs to MRN X-1." in (
        response.content.decode()
    )
    assert Patient.objects.count() == 1


def test_another_clinics_identical_foreign_identifier_does_not_match_our_patients(
    personas: Personas, admin: Client
) -> None:
    theirs = make_patient(personas.clinic_b)
    ExternalIdentifier.objects.create(
        clinic=personas.clinic_b, patient=theirs, system=HOSPITAL, value="H-1", source="staff"
    )
    response = upload(admin, bundle(("urn:uuid:a", hospital_patient((HOSPITAL, "H-1")))))
    assert "Imported: 1 created, 0 updated, 0 unchanged." in response.content.decode()
    ours = Patient.objects.get(clinic=personas.clinic_a)
    assert identifiers_of(ours) == [(HOSPITAL, "H-1")] and identifiers_of(theirs) == [(HOSPITAL, "H-1")]


HOSPITAL_CSV = (
    "KIS-Nr;Vorname;Nachname;Geburtsdatum;Geschlecht;E-Mail\n"
    "H-1;Lena;Huber;14.02.1990;w;lena@example.org\n"
    "H-2;Jonas;Maier;01.12.1978;m;\n"
)


def hospital_mapping(**overrides: str) -> dict[str, str]:
    return mapping(**({"mrn": "", "external_id": "0", "identifier_system": HOSPITAL} | overrides))


def test_a_csv_with_an_identifier_column_creates_then_updates_by_that_identifier(
    personas: Personas, admin: Client
) -> None:
    csv_upload(admin, HOSPITAL_CSV)
    page = admin.get("/interop/import/csv/map/").content.decode()
    assert "External identifier value" in page and "Identifier system" in page
    done = admin.post("/interop/import/csv/map/", {**hospital_mapping(), "action": "import"})
    assert "Imported: 2 created, 0 updated, 0 unchanged." in done.content.decode()
    lena = Patient.objects.get(clinic=personas.clinic_a, family_name="Huber")
    assert identifiers_of(lena) == [(HOSPITAL, "H-1")]
    assert ExternalIdentifier.objects.get(value="H-1").source == "csv-import"
    csv_upload(admin, HOSPITAL_CSV.replace("lena@example.org", "lena@new.example"))
    again = admin.post("/interop/import/csv/map/", {**hospital_mapping(), "action": "import"})
    assert "Imported: 0 created, 1 updated, 1 unchanged." in again.content.decode()
    assert Patient.objects.filter(clinic=personas.clinic_a).count() == 2
    lena.refresh_from_db()
    assert lena.email == "lena@new.example"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"identifier_system": ""}, "Type the system of the external identifiers"),
        ({"identifier_system": "KIS"}, "“KIS” is not an identifier system"),
        ({"identifier_system": MRN_A}, "That is this clinic&#x27;s own record number"),
        ({"external_id": ""}, "Choose the column that holds these identifiers (or clear the system)."),
    ],
)
def test_the_identifier_column_needs_a_uri_system_on_the_mapping_page(
    personas: Personas, admin: Client, fields: dict[str, str], message: str
) -> None:
    csv_upload(admin, HOSPITAL_CSV)
    response = admin.post("/interop/import/csv/map/", {**hospital_mapping(**fields), "action": "import"})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Patient.objects.exists()


def test_a_csv_row_whose_identifier_is_repeated_is_refused(personas: Personas, admin: Client) -> None:
    csv_upload(admin, HOSPITAL_CSV + "H-1;Eva;Gruber;03.03.1983;w;\n")
    preview = admin.post("/interop/import/csv/map/", {**hospital_mapping(), "action": "preview"})
    assert preview.status_code == 400
    assert f"Identifier {HOSPITAL}|H-1 appears twice in this file (also entry 1)" in preview.content.decode()


def test_an_identifier_value_longer_than_100_characters_is_refused(personas: Personas, admin: Client) -> None:
    response = upload(admin, bundle(("urn:uuid:a", hospital_patient((HOSPITAL, "9" * 101)))))
    assert response.status_code == 400
    assert "is longer than 100 characters." in response.content.decode()
    assert not Patient.objects.exists()
