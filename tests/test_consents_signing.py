"""Signing a consent on the tablet: the record, its frozen PDF and fingerprint, refused input, the witness."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from prpclinic.audit.models import AuditEvent
from prpclinic.consents import document
from prpclinic.consents.models import ConsentSettings, SignedConsent
from prpclinic.consents.selectors import current_template
from prpclinic.consents.services import consent_template_revise
from tests.conftest import Personas, clinic_request, make_patient
from tests.factories_consents import consent_signed, signature_data_url


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def stored_files(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file()]


def blank_png_data_url() -> str:
    buffer = io.BytesIO()
    Image.new("RGBA", (300, 100), (0, 0, 0, 0)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def sign_form(personas: Personas, **overrides: str) -> dict[str, Any]:
    template = current_template(clinic_id=personas.clinic_a.pk, kind="microneedling_prp")
    data = {
        "template_id": template.pk,
        "signer_relationship": "patient",
        "signer_name": "Anna Berger",
        "signature": signature_data_url(),
        "witness_name": "",
        "witness_signature": "",
    }
    data.update(overrides)
    return data


def test_signing_on_the_tablet_stores_the_record_and_shows_who_signed_what_and_when(
    personas: Personas, signed_in: Any, media: Path
) -> None:
    patient = make_patient(personas.clinic_a)
    client = signed_in("nurse")
    page = client.get(f"/consents/patients/{patient.pk}/sign/microneedling_prp/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "How PRP differs from mesotherapy" in text
    assert "I have read and understood this information about micro-needling with PRP" in text
    assert "signature.js" in text and "<script>" not in text  # no inline script under the CSP

    response = client.post(f"/consents/patients/{patient.pk}/sign/microneedling_prp/", sign_form(personas))

    consent = SignedConsent.objects.get()
    assert response.status_code == 302 and response.url == f"/consents/{consent.pk}/"
    record = client.get(response.url).content.decode()
    assert "Anna Berger — The patient" in record
    assert "Version 1" in record
    assert "I have read and understood this information about micro-needling with PRP" in record
    assert "Europe/Vienna" in record and "UTC" in record
    assert consent.recorded_by == personas.nurse
    assert consent.signed_timezone == "Europe/Vienna"
    assert AuditEvent.objects.filter(action="consent.sign", object_id=str(consent.pk)).count() == 1


def test_signing_stores_the_pdf_with_its_sha256_and_the_document_names_signer_meaning_and_version(
    personas: Personas, media: Path
) -> None:
    patient = make_patient(personas.clinic_a, given_name="Clara", family_name="Weber")

    consent = consent_signed(
        clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse, signer_name="Clara Weber"
    )

    with default_storage.open(consent.pdf_name, "rb") as handle:
        pdf = handle.read()
    assert pdf.startswith(b"%PDF-")
    assert hashlib.sha256(pdf).hexdigest() == consent.pdf_sha256
    assert consent.pdf_size == len(pdf)
    assert consent.template_version == 1
    assert "Weber" not in consent.pdf_name and patient.mrn not in consent.pdf_name  # no patient data in file names
    html = document.document_html(document.signing_of(consent))
    assert "Clara Weber" in html
    assert consent.meaning in html and "I consent to scalp injections of PRP" in html
    assert "Consent form version 1" in html
    assert patient.mrn in html and "1985-04-30" in html
    assert "data:image/png;base64," in html


def test_a_representative_signing_is_recorded_with_the_relationship_and_its_meaning(
    personas: Personas, signed_in: Any
) -> None:
    patient = make_patient(personas.clinic_a, given_name="Lena", family_name="Maier")
    client = signed_in("front_desk")

    client.post(
        f"/consents/patients/{patient.pk}/sign/microneedling_prp/",
        sign_form(personas, signer_relationship="guardian", signer_name="Georg Maier"),
    )

    consent = SignedConsent.objects.get()
    assert consent.signer_relationship == "guardian"
    assert "I, Georg Maier, sign as the patient's legal guardian on behalf of Lena Maier" in consent.meaning


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"signature": ""}, "signature", "the signature is missing"),
        ({"signature": "blank"}, "signature", "the signature is missing"),
        ({"signature": "data:image/png;base64,aGVsbG8="}, "signature", "not a readable PNG image"),
        ({"signature": "data:image/jpeg;base64,aGVsbG8="}, "signature", "must come from the signing box"),
        ({"signer_name": "   "}, "signer_name", "Type the signer&#x27;s full name."),
    ],
    ids=["missing signature", "blank canvas", "not a PNG", "not a PNG data URL", "no typed name"],
)
def test_missing_or_blank_signature_or_name_is_refused_with_a_message_and_nothing_is_stored(
    personas: Personas, signed_in: Any, media: Path, overrides: dict[str, str], field: str, message: str
) -> None:
    patient = make_patient(personas.clinic_a)
    if overrides.get("signature") == "blank":
        overrides = {"signature": blank_png_data_url()}

    response = signed_in("nurse").post(
        f"/consents/patients/{patient.pk}/sign/microneedling_prp/", sign_form(personas, **overrides)
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert f'id="id_{field}_error"' in page and message in page
    assert SignedConsent.objects.count() == 0
    assert stored_files(media) == []


def test_a_signature_image_over_the_size_bound_is_refused(personas: Personas) -> None:
    from django.core.exceptions import ValidationError

    from prpclinic.consents.services import consent_sign

    patient = make_patient(personas.clinic_a)
    huge = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 400_000).decode()

    with pytest.raises(ValidationError) as refused:
        consent_sign(
            request=clinic_request(personas.nurse, personas.clinic_a), patient_id=patient.pk, kind="mesotherapy",
            template_id=current_template(clinic_id=personas.clinic_a.pk, kind="mesotherapy").pk,
            signer_name="Anna Berger", signer_relationship="patient", signature=huge,
        )  # fmt: skip

    assert refused.value.message_dict["signature"] == [
        "The signature image is too large; clear the box and sign again."
    ]
    assert SignedConsent.objects.count() == 0


def test_a_witness_must_sign_when_the_clinic_requires_one(personas: Personas, signed_in: Any, media: Path) -> None:
    ConsentSettings.objects.create(clinic=personas.clinic_a, witness_required=True)
    patient = make_patient(personas.clinic_a)
    client = signed_in("nurse")
    url = f"/consents/patients/{patient.pk}/sign/microneedling_prp/"
    assert "This clinic requires a witness to co-sign." in client.get(url).content.decode()

    refused = client.post(url, sign_form(personas))
    half = client.post(url, sign_form(personas, witness_name="Walter Witness"))
    signed = client.post(
        url, sign_form(personas, witness_name="Walter Witness", witness_signature=signature_data_url())
    )

    assert refused.status_code == 400 and "Type the witness&#x27;s full name." in refused.content.decode()
    assert half.status_code == 400 and "The witness signs in the witness box too." in half.content.decode()
    assert signed.status_code == 302
    consent = SignedConsent.objects.get()
    assert consent.witness_name == "Walter Witness" and bytes(consent.witness_signature_png).startswith(b"\x89PNG")
    assert "Walter Witness" in document.document_html(document.signing_of(consent))


def test_no_witness_is_needed_when_the_clinic_does_not_require_one(personas: Personas) -> None:
    patient = make_patient(personas.clinic_a)

    consent = consent_signed(clinic=personas.clinic_a, patient=patient, treatment="mesotherapy", by=personas.nurse)

    assert consent.witness_name == ""


def test_a_form_changed_while_open_is_not_signed_until_the_new_version_is_read(
    personas: Personas, signed_in: Any, media: Path
) -> None:
    patient = make_patient(personas.clinic_a)
    read = sign_form(personas)
    consent_template_revise(
        request=clinic_request(personas.physician, personas.clinic_a),
        kind="microneedling_prp",
        data={"risks": "Updated risks.", "change_note": "clarified"},
    )

    response = signed_in("nurse").post(f"/consents/patients/{patient.pk}/sign/microneedling_prp/", read)

    assert response.status_code == 400
    assert "This consent form was changed while it was open." in response.content.decode()
    assert "Updated risks." in response.content.decode()  # the page now shows the new version
    assert SignedConsent.objects.count() == 0 and stored_files(media) == []


def test_the_signed_pdf_downloads_uncached_and_each_download_is_audited(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    consent = consent_signed(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse)
    client = signed_in("front_desk")

    first = client.get(f"/consents/{consent.pk}/pdf/")
    second = client.get(f"/consents/{consent.pk}/pdf/")

    assert first.status_code == 200 and first["Content-Type"] == "application/pdf"
    assert first["Cache-Control"] == "no-store"
    assert hashlib.sha256(first.content).hexdigest() == consent.pdf_sha256
    assert second.status_code == 200
    assert AuditEvent.objects.filter(action="consent.download", object_id=str(consent.pk)).count() == 2


def test_a_tampered_pdf_is_refused_on_download_and_the_mismatch_is_audited(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    consent = consent_signed(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse)
    default_storage.delete(consent.pdf_name)
    default_storage.save(consent.pdf_name, ContentFile(b"%PDF-1.7 a different document"))

    response = signed_in("physician").get(f"/consents/{consent.pk}/pdf/")

    assert response.status_code == 409
    assert response["Cache-Control"] == "no-store"
    assert "does not match the fingerprint" in response.content.decode()
    assert b"a different document" not in response.content
    assert AuditEvent.objects.filter(action="consent.pdf_mismatch", object_id=str(consent.pk)).count() == 1
    assert AuditEvent.objects.filter(action="consent.download").count() == 0


def test_a_missing_pdf_is_reported_not_served(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    consent = consent_signed(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse)
    default_storage.delete(consent.pdf_name)

    response = signed_in("physician").get(f"/consents/{consent.pk}/pdf/")

    assert response.status_code == 409
    assert AuditEvent.objects.get(action="consent.pdf_mismatch").changes["problem"] == "missing"


def test_another_clinics_consent_answers_404_on_every_page(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    consent = consent_signed(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse)
    client = signed_in("other_physician")

    assert client.get(f"/consents/{consent.pk}/pdf/").status_code == 404
    assert client.get(f"/consents/{consent.pk}/").status_code == 404
    assert client.get(f"/consents/patients/{patient.pk}/").status_code == 404
    assert client.get(f"/consents/patients/{patient.pk}/sign/prp_scalp/").status_code == 404
    assert client.post(f"/consents/{consent.pk}/revoke/", {"reason": "x"}).status_code == 404
    assert AuditEvent.objects.filter(action="consent.download").count() == 0
