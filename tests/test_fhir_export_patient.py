"""A patient's own export (GDPR Art. 20) and the staff bulk-export page."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from fhir.resources.R4B.bundle import Bundle

from prpclinic.audit.models import AuditEvent
from prpclinic.fhir.models import ExportJob
from prpclinic.outcomes.models import Photo
from tests.conftest import make_patient
from tests.fhir_export_support import ensure_patient_type
from tests.matrix_fhir_core import admin_records

JPEG = b"\xff\xd8\xff\xe0" + b"photo-bytes" * 10


def _photo(personas: Any, patient: Any) -> Photo:
    name = default_storage.save("photos/test-original.jpg", ContentFile(JPEG))
    return Photo.objects.create(
        clinic=personas.clinic_a, patient=patient, area="scalp", view="scalp_top", file_name=name,
        thumb_name=name, content_type="image/jpeg", width=10, height=10, byte_size=len(JPEG), source_format="jpeg",
        consent_uses=["clinical_record"], uploaded_by=personas.nurse,
    )  # fmt: skip


def _zip(response: Any) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_a_physician_exports_a_patients_record_bundle_photos_and_signed_consents_as_one_zip(
    personas: Any, signed_in: Any
) -> None:
    ensure_patient_type()
    records = admin_records(personas)
    patient = records.patient
    _photo(personas, patient)
    other = make_patient(personas.clinic_a, given_name="Someone", family_name="Else")

    response = signed_in("physician").post(f"/interop/patients/{patient.pk}/export/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip" and response["Cache-Control"] == "no-store"
    assert f"patient-{patient.pk}-record-" in response["Content-Disposition"]
    assert patient.family_name not in response["Content-Disposition"]
    archive = _zip(response)
    names = archive.namelist()
    assert "record.json" in names and "README.txt" in names

    bundle_data = json.loads(archive.read("record.json"))
    bundle = Bundle.model_validate(bundle_data)
    assert bundle.type == "collection"
    resources = [entry.resource for entry in bundle.entry]
    types = {r.get_resource_type() for r in resources}
    assert "Patient" in types
    patient_ids = {r.id for r in resources if r.get_resource_type() == "Patient"}
    assert str(patient.pk) in patient_ids and str(other.pk) not in patient_ids
    # Every entry's fullUrl names its own resource.
    assert all(e.fullUrl.endswith(f"/{e.resource.get_resource_type()}/{e.resource.id}") for e in bundle.entry)

    photos = [n for n in names if n.startswith("photos/")]
    assert len(photos) == 1 and archive.read(photos[0]) == JPEG
    consents = [n for n in names if n.startswith("consents/")]
    assert len(consents) == 2 and all(archive.read(n).startswith(b"%PDF") for n in consents)
    event = AuditEvent.objects.get(action="patient.export")
    assert event.object_id == str(patient.pk) and event.changes["photos"] == 1 and event.changes["consents"] == 2


def test_another_clinics_patient_cannot_be_exported_and_a_nurse_may_not_export(personas: Any, signed_in: Any) -> None:
    theirs = make_patient(personas.clinic_b)
    ours = make_patient(personas.clinic_a)
    assert signed_in("admin").post(f"/interop/patients/{theirs.pk}/export/").status_code == 404
    assert signed_in("nurse").post(f"/interop/patients/{ours.pk}/export/").status_code == 403
    assert not AuditEvent.objects.filter(action="patient.export").exists()


def test_an_admin_starts_a_bulk_export_from_the_staff_page_and_downloads_its_ndjson(
    personas: Any, signed_in: Any
) -> None:
    ensure_patient_type()
    make_patient(personas.clinic_a, given_name="Clara")
    admin = signed_in("admin")
    response = admin.post("/interop/exports/", {"types": ["Patient"]}, follow=True)
    assert response.status_code == 200
    job = ExportJob.objects.get()
    assert job.status == "done" and job.requested_by == personas.admin
    page = response.content.decode()
    assert "Done" in page and "Patient</a> (1)" in page
    download = admin.get(f"/interop/exports/{job.pk}/files/0/")
    assert download.status_code == 200 and download["Content-Type"] == "application/fhir+ndjson"
    lines = b"".join(download.streaming_content).decode().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["name"][0]["given"] == ["Clara"]
    assert signed_in("physician").get("/interop/exports/").status_code == 403


def test_the_chart_offers_the_export_to_admins_and_physicians_only(personas: Any, signed_in: Any) -> None:
    from tests.conftest import make_patient

    patient = make_patient(personas.clinic_a)
    for persona, shown in (("admin", True), ("physician", True), ("nurse", False), ("front_desk", False)):
        page = signed_in(persona).get(f"/patients/{patient.pk}/").content.decode()
        assert (f"/interop/patients/{patient.pk}/export/" in page) is shown, persona
