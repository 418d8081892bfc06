"""FHIR Binary: a token reads a photo's and a signed consent's bytes (raw, or as a Binary resource), only its own
clinic's, only while the photo may be shared, and never a consent PDF that no longer matches its SHA-256."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from fhir.resources.R4B.binary import Binary
from fhir.resources.R4B.operationoutcome import OperationOutcome
from PIL import Image

from prpclinic.audit.models import AuditEvent
from prpclinic.consents.models import SignedConsent
from prpclinic.consents.services import consent_revoke
from prpclinic.fhir.auth import create_token, revoke_token
from prpclinic.fhir.models import FhirToken
from prpclinic.outcomes.models import Photo
from prpclinic.outcomes.services import photo_upload, photo_withdraw
from tests.conftest import Personas, clinic_request, make_patient
from tests.factories_consents import consent_signed
from tests.fhir_tokens import bearer, issue_token

FHIR_JSON = "application/fhir+json"


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def token_a(personas: Personas) -> str:
    return issue_token(personas.clinic_a, by=personas.admin)


@pytest.fixture
def patient(personas: Personas) -> Any:
    return make_patient(personas.clinic_a, given_name="Zelda", family_name="Quixotewright")


def jpeg(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "#c08070").save(buffer, "JPEG")
    return buffer.getvalue()


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (40, 30), (10, 200, 30, 255)).save(buffer, "PNG")
    return buffer.getvalue()


def take_photo(personas: Personas, patient: Any, raw: bytes | None = None, *, consent: bool = True) -> Photo:
    """A photo taken as the clinic takes it (the outcomes service: checked, EXIF-stripped, consent recorded)."""
    if consent:
        consent_signed(clinic=personas.clinic_a, patient=patient, treatment="photography", by=personas.nurse)
    return photo_upload(
        request=clinic_request(personas.nurse, personas.clinic_a),
        patient_id=patient.pk,
        raw=raw or jpeg(),
        view="scalp_vertex",
    )


@pytest.fixture
def photo(personas: Personas, patient: Any) -> Photo:
    return take_photo(personas, patient)


@pytest.fixture
def consent(personas: Personas, patient: Any) -> Any:
    return consent_signed(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse)


def get(url: str, token: str | None, accept: str = "*/*", **params: Any) -> Any:
    headers = {**(bearer(token) if token else {}), "Accept": accept}
    return Client().get(url, params, headers=headers)


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def outcome(response: Any, status: int) -> str:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == FHIR_JSON
    OperationOutcome.model_validate(response.json())
    return response.json()["issue"][0]["diagnostics"]


# --- raw bytes ----------------------------------------------------------------------------------------------------


def test_a_token_reads_the_photos_stored_bytes_streamed_with_its_content_type(
    photo: Photo, token_a: str, media: Path, patient: Any
) -> None:
    response = get(f"/fhir/R4/Binary/photo-{photo.pk}", token_a, accept="image/jpeg")

    assert response.status_code == 200
    assert response.streaming  # a FileResponse from storage, not the file read into memory
    assert body(response) == (media / photo.file_name).read_bytes()
    assert body(response) != (media / photo.thumb_name).read_bytes()  # the photo, not its thumbnail
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == f'inline; filename="photo-{photo.pk}.jpg"'
    assert patient.family_name not in response["Content-Disposition"]


def test_a_png_photo_is_served_as_png(personas: Personas, patient: Any, token_a: str, media: Path) -> None:
    photo = take_photo(personas, patient, png())

    response = get(f"/fhir/R4/Binary/photo-{photo.pk}", token_a)

    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert body(response) == (media / photo.file_name).read_bytes()
    assert response["Content-Disposition"] == f'inline; filename="photo-{photo.pk}.png"'


def test_a_token_reads_the_signed_consent_pdf_matching_its_sha256(
    consent: Any, token_a: str, patient: Any, media: Path
) -> None:
    response = get(f"/fhir/R4/Binary/consent-{consent.pk}", token_a, accept="application/pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert body(response) == (media / consent.pdf_name).read_bytes()
    assert hashlib.sha256(body(response)).hexdigest() == consent.pdf_sha256
    assert body(response).startswith(b"%PDF")
    assert response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == f'inline; filename="consent-{consent.pk}.pdf"'
    assert patient.family_name not in response["Content-Disposition"]
    assert patient.given_name not in response["Content-Disposition"]


def test_a_consent_download_is_audited_as_on_the_staff_page_naming_the_token(
    personas: Personas, consent: Any, token_a: str
) -> None:
    get(f"/fhir/R4/Binary/consent-{consent.pk}", token_a)

    event = AuditEvent.objects.get(action="consent.download")
    token = FhirToken.objects.get()
    assert (event.object_type, event.object_id, event.clinic_id) == (
        "consents.signedconsent", str(consent.pk), personas.clinic_a.pk
    )  # fmt: skip
    assert event.role == "fhir-token"
    assert event.changes == {"patient": consent.patient_id, "fhir_token": token.pk}


# --- the Binary resource (JSON form) ------------------------------------------------------------------------------


@pytest.mark.parametrize("ask", [{"accept": FHIR_JSON}, {"_format": "json"}, {"accept": "application/json+fhir"}])
def test_the_json_form_is_an_r4b_binary_that_decodes_to_the_same_photo_bytes(
    photo: Photo, token_a: str, media: Path, ask: dict[str, str]
) -> None:
    response = get(f"/fhir/R4/Binary/photo-{photo.pk}", token_a, **ask)

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == FHIR_JSON and response["Cache-Control"] == "no-store"
    resource = Binary.model_validate(response.json())
    assert (resource.id, resource.contentType) == (f"photo-{photo.pk}", "image/jpeg")
    assert resource.securityContext is not None
    assert resource.securityContext.reference == f"Patient/{photo.patient_id}"
    assert base64.b64decode(response.json()["data"]) == (media / photo.file_name).read_bytes()


def test_the_json_form_of_a_consent_decodes_to_the_pdf_with_its_sha256(consent: Any, token_a: str) -> None:
    response = get(f"/fhir/R4/Binary/consent-{consent.pk}", token_a, accept=f"{FHIR_JSON}, */*;q=0.1")

    assert response.status_code == 200, response.content
    resource = Binary.model_validate(response.json())
    assert (resource.id, resource.contentType) == (f"consent-{consent.pk}", "application/pdf")
    assert resource.securityContext is not None
    assert resource.securityContext.reference == f"Patient/{consent.patient_id}"
    assert hashlib.sha256(base64.b64decode(response.json()["data"])).hexdigest() == consent.pdf_sha256


def test_fhir_json_refused_with_q0_gives_the_raw_bytes(photo: Photo, token_a: str) -> None:
    response = get(f"/fhir/R4/Binary/photo-{photo.pk}", token_a, accept=f"{FHIR_JSON};q=0, image/*")

    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"


def test_the_json_form_above_the_bound_is_refused_pointing_to_the_raw_form(
    settings: Any, photo: Photo, consent: Any, token_a: str
) -> None:
    settings.FHIR_BINARY_JSON_MAX_BYTES = 100  # both the photo and the PDF are larger

    for resource_id in (f"photo-{photo.pk}", f"consent-{consent.pk}"):
        message = outcome(get(f"/fhir/R4/Binary/{resource_id}", token_a, accept=FHIR_JSON), 406)
        assert "larger than 100 bytes, too large for the JSON form" in message and "raw bytes" in message
        assert get(f"/fhir/R4/Binary/{resource_id}", token_a).status_code == 200  # the raw form still works


def test_xml_is_refused_as_not_acceptable(photo: Photo, token_a: str) -> None:
    assert "JSON only" in outcome(get(f"/fhir/R4/Binary/photo-{photo.pk}", token_a, _format="xml"), 406)
    assert "JSON only" in outcome(get(f"/fhir/R4/Binary/photo-{photo.pk}", token_a, accept="application/fhir+xml"), 406)


# --- the signed PDF's fingerprint ---------------------------------------------------------------------------------


def test_a_changed_pdf_answers_409_with_the_mismatch_audit_event_and_is_not_served(consent: Any, token_a: str) -> None:
    default_storage.delete(consent.pdf_name)
    default_storage.save(consent.pdf_name, ContentFile(b"%PDF-1.7 a different document"))

    for accept in ("application/pdf", FHIR_JSON):
        response = get(f"/fhir/R4/Binary/consent-{consent.pk}", token_a, accept=accept)
        assert "does not match the fingerprint" in outcome(response, 409)
        assert b"a different document" not in response.content
        assert base64.b64encode(b"a different document") not in response.content
        assert response["Cache-Control"] == "no-store"

    events = AuditEvent.objects.filter(action="consent.pdf_mismatch", object_id=str(consent.pk))
    assert [e.changes["problem"] for e in events] == ["altered", "altered"]
    assert AuditEvent.objects.filter(action="consent.download").count() == 0


def test_a_missing_pdf_answers_409_and_is_audited_as_missing(consent: Any, token_a: str) -> None:
    default_storage.delete(consent.pdf_name)

    outcome(get(f"/fhir/R4/Binary/consent-{consent.pk}", token_a), 409)

    assert AuditEvent.objects.get(action="consent.pdf_mismatch").changes["problem"] == "missing"


# --- who may read what --------------------------------------------------------------------------------------------


def test_another_clinics_photo_and_consent_are_not_known(
    personas: Personas, photo: Photo, consent: Any, token_a: str
) -> None:
    token_b = issue_token(personas.clinic_b, by=personas.other_physician)
    unknown = outcome(get("/fhir/R4/Binary/photo-999999", token_b), 404)

    for resource_id in (f"photo-{photo.pk}", f"consent-{consent.pk}"):
        message = outcome(get(f"/fhir/R4/Binary/{resource_id}", token_b), 404)
        assert message == unknown.replace("photo-999999", resource_id)  # not told apart from an unknown id
    assert AuditEvent.objects.filter(action="consent.download").count() == 0


def test_without_a_token_401_and_with_a_revoked_token_401(personas: Personas, photo: Photo) -> None:
    response = get(f"/fhir/R4/Binary/photo-{photo.pk}", None)
    assert "bearer token is required" in outcome(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")

    raw = issue_token(personas.clinic_a, by=personas.admin)
    revoke_token(request=clinic_request(personas.admin, personas.clinic_a), token=FhirToken.objects.get())
    assert "revoked" in outcome(get(f"/fhir/R4/Binary/photo-{photo.pk}", raw), 401)


def test_a_staff_session_without_a_token_is_401(photo: Photo, signed_in: Any) -> None:
    response = signed_in("physician").get(f"/fhir/R4/Binary/photo-{photo.pk}")

    outcome(response, 401)


def test_a_patient_read_token_reads_binaries_too(personas: Personas, photo: Photo, consent: Any) -> None:
    raw = issue_token(personas.clinic_a, scopes=["patient/*.read"], by=personas.admin)

    assert get(f"/fhir/R4/Binary/photo-{photo.pk}", raw).status_code == 200
    assert get(f"/fhir/R4/Binary/consent-{consent.pk}", raw).status_code == 200


@pytest.mark.parametrize(
    "resource_id",
    ["photo-abc", "x-1", "photo-", "consent-", "photo-1.5", "Photo-1", "photo-99999999999999999999", "1", "photo--1"],
)
def test_bad_id_forms_are_not_known(photo: Photo, token_a: str, resource_id: str) -> None:
    assert "is not known" in outcome(get(f"/fhir/R4/Binary/{resource_id}", token_a), 404)


def test_a_withdrawn_photo_is_not_known(personas: Personas, photo: Photo, token_a: str) -> None:
    photo_withdraw(request=clinic_request(personas.nurse, personas.clinic_a), photo_id=photo.pk, reason="Blurred")

    assert "is not known" in outcome(get(f"/fhir/R4/Binary/photo-{photo.pk}", token_a), 404)
    assert "is not known" in outcome(get(f"/fhir/R4/Binary/photo-{photo.pk}", token_a, accept=FHIR_JSON), 404)


def test_after_the_photography_consent_is_revoked_the_photo_is_refused_with_the_reason(
    personas: Personas, patient: Any, photo: Photo, token_a: str
) -> None:
    photo_consent = SignedConsent.objects.get(patient=patient, kind="photography")
    consent_revoke(
        request=clinic_request(personas.nurse, personas.clinic_a), consent_id=photo_consent.pk, reason="Changed mind"
    )

    message = outcome(get(f"/fhir/R4/Binary/photo-{photo.pk}", token_a), 403)
    assert "photography consent no longer allows photos in the clinical record" in message
    assert "revoked" in message


def test_a_new_photography_consent_without_the_clinical_record_use_stops_the_sharing(
    personas: Personas, patient: Any, photo: Photo, token_a: str
) -> None:
    consent_signed(
        clinic=personas.clinic_a, patient=patient, treatment="photography", by=personas.nurse, photo_uses=("teaching",)
    )

    outcome(get(f"/fhir/R4/Binary/photo-{photo.pk}", token_a), 403)


def test_a_photo_whose_recorded_consent_lacked_the_clinical_record_use_is_refused(photo: Photo, token_a: str) -> None:
    Photo.objects.filter(pk=photo.pk).update(consent_uses=["teaching"])  # a row not made by the upload service

    assert "not taken under a consent" in outcome(get(f"/fhir/R4/Binary/photo-{photo.pk}", token_a), 403)


def test_a_token_limited_to_one_patient_reads_only_that_patients_binaries(
    personas: Personas, patient: Any, photo: Photo, consent: Any
) -> None:
    other = make_patient(personas.clinic_a)
    others_consent = consent_signed(clinic=personas.clinic_a, patient=other, treatment="prp_scalp", by=personas.nurse)
    others_photo = take_photo(personas, other)
    _, own = create_token(
        clinic=personas.clinic_a, label="App", scopes=["patient/*.read"], created_by=personas.admin, patient=patient
    )
    _, foreign = create_token(
        clinic=personas.clinic_a, label="App", scopes=["patient/*.read"], created_by=personas.admin, patient=other
    )

    assert get(f"/fhir/R4/Binary/photo-{photo.pk}", own).status_code == 200
    assert get(f"/fhir/R4/Binary/consent-{consent.pk}", own).status_code == 200
    assert get(f"/fhir/R4/Binary/photo-{others_photo.pk}", foreign).status_code == 200
    for resource_id in (f"photo-{photo.pk}", f"consent-{consent.pk}"):
        assert "is not known" in outcome(get(f"/fhir/R4/Binary/{resource_id}", foreign), 404)
    for resource_id in (f"photo-{others_photo.pk}", f"consent-{others_consent.pk}"):
        assert "is not known" in outcome(get(f"/fhir/R4/Binary/{resource_id}", own), 404)


# --- the endpoint around the reads --------------------------------------------------------------------------------


def test_each_request_writes_one_fhir_access_event_naming_the_binary(photo: Photo, consent: Any, token_a: str) -> None:
    ids = [f"photo-{photo.pk}", f"consent-{consent.pk}", "photo-abc", "consent-999999"]
    for resource_id in ids:
        get(f"/fhir/R4/Binary/{resource_id}", token_a)

    events = AuditEvent.objects.filter(action="fhir.access").order_by("pk")
    assert [(e.changes["resource_type"], e.changes["resource_id"]) for e in events] == [("Binary", i) for i in ids]


def test_binary_is_read_by_id_only_and_never_written(personas: Personas, photo: Photo, token_a: str) -> None:
    assert "read by id only" in outcome(get("/fhir/R4/Binary", token_a), 404)
    assert "read by id only" in outcome(get("/fhir/R4/Binary", token_a, _id=f"photo-{photo.pk}"), 404)
    assert outcome(get("/fhir/R4/Binary", None), 401)

    for url in ("/fhir/R4/Binary", f"/fhir/R4/Binary/photo-{photo.pk}"):
        response = Client().post(url, b"x", content_type="image/jpeg", headers=bearer(token_a))
        outcome(response, 405)
    assert Photo.objects.count() == 1


def test_head_answers_the_headers_of_the_bytes(photo: Photo, token_a: str) -> None:
    response = Client().head(f"/fhir/R4/Binary/photo-{photo.pk}", headers=bearer(token_a))

    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "no-store"


def queries(url: str, token: str, accept: str = "*/*") -> int:
    with CaptureQueriesContext(connection) as context:
        assert get(url, token, accept=accept).status_code == 200
    return len(context)


@pytest.mark.parametrize("accept", ["*/*", FHIR_JSON])
def test_a_read_costs_a_fixed_number_of_queries_beyond_the_tokens_check(
    personas: Personas, patient: Any, photo: Photo, consent: Any, token_a: str, accept: str
) -> None:
    second = take_photo(personas, patient, png(), consent=False)
    get("/fhir/R4/metadata", token_a)
    get("/fhir/R4/CodeSystem/prpclinic", token_a)  # last_used_at is written now, not in the counts below
    # The token's check and its fhir.access event, as on any FHIR read that touches no rows.
    baseline = queries("/fhir/R4/CodeSystem/prpclinic", token_a)
    # A photo: the photo, then the patient's photography consent.
    assert queries(f"/fhir/R4/Binary/photo-{photo.pk}", token_a, accept) == baseline + 2
    assert queries(f"/fhir/R4/Binary/photo-{second.pk}", token_a, accept) == baseline + 2
    # A consent: the consent, then its consent.download event (one INSERT; the database adds its marker).
    assert queries(f"/fhir/R4/Binary/consent-{consent.pk}", token_a, accept) == baseline + 1 + 1
