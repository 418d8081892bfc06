"""FHIR ``Binary``: the bytes behind Media (an outcome photo) and Consent (the signed PDF), read with a bearer token.

``GET /fhir/R4/Binary/photo-<Photo id>`` and ``GET /fhir/R4/Binary/consent-<SignedConsent id>``. Read by id only:
``GET /fhir/R4/Binary`` (search) answers 404 with an OperationOutcome saying so.

Who may read: a token with ``system/*.read`` or ``patient/*.read`` (``authenticate`` audits each use as
``fhir.access``), only its own clinic's rows (another clinic's id is simply not known: 404), and with a patient
context (``FhirAccess.patient_id``) only that patient's binaries.

What is served (the decisions docs/fhir-binary.md explains):

- a photo: the stored, EXIF-stripped image the staff view serves at full size (never the thumbnail), only while
  the photo is active (a withdrawn photo is hidden from every page, so here it is not known: 404) and while the
  patient's photography consent allows photos in the clinical record, both when it was taken (``consent_uses``)
  and now. A revoked, expired or narrowed photography consent answers 403: the photo stays in the record for the
  clinic, but it is no longer handed to another system.
- a consent: the frozen PDF, only after its SHA-256 still matches the one taken at signing; otherwise 409 and the
  ``consent.pdf_mismatch`` audit event, as on the staff download.

Representation (FHIR's rule for Binary): ``Accept: application/fhir+json`` or ``_format=json`` gives a Binary
resource (base64 ``data``, ``securityContext`` the patient), refused above ``JSON_MAX_BYTES`` because it is built
in memory; any other Accept gives the raw bytes with their own Content-Type, never cached, not sniffed, under a
neutral file name (``photo-12.jpg``, ``consent-7.pdf``: no patient name).
"""

from __future__ import annotations

import base64
import logging
import re
from pathlib import PurePosixPath

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse
from fhir.resources.R4B.binary import Binary

from prpclinic.consents.models import SignedConsent
from prpclinic.consents.services import DocumentMismatch, consent_document_verified
from prpclinic.fhir.auth import PATIENT_READ, SYSTEM_READ, FhirAccess, FhirAuthError, authenticate
from prpclinic.fhir.auth import operation_outcome as outcome_with_code
from prpclinic.fhir.bundle import fhir_response, operation_outcome
from prpclinic.fhir.search import as_id
from prpclinic.fhir.views import fhir_get
from prpclinic.outcomes.models import Photo, PhotoStatus
from prpclinic.outcomes.services import RECORD_USE, allowed_photo_uses

logger = logging.getLogger(__name__)

# The JSON form holds the whole file in memory about three times over (bytes, base64, the JSON text): bounded.
# 20 MiB is above the largest photo the clinic stores (outcomes.services.MAX_BYTES, 18 MiB) and any consent PDF.
JSON_MAX_BYTES = 20 * 1024 * 1024

# "<kind>-<database id>": the id forms Media.content.url and Consent.sourceAttachment.url point at.
BINARY_ID = re.compile(r"(?P<kind>photo|consent)-(?P<pk>[0-9]{1,19})")

FHIR_JSON_TYPES = frozenset({"application/fhir+json", "application/json+fhir"})
FHIR_XML_TYPES = frozenset({"application/fhir+xml", "application/xml+fhir"})
JSON_FORMATS = frozenset({"json", "application/json", *FHIR_JSON_TYPES})


class _Refused(Exception):
    """An answer other than the bytes: an OperationOutcome with this status and message."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def json_max_bytes() -> int:
    return int(getattr(settings, "FHIR_BINARY_JSON_MAX_BYTES", JSON_MAX_BYTES))


def wants_resource(request: HttpRequest) -> bool:
    """True for the Binary resource (FHIR JSON), False for the raw bytes; ``_Refused`` (406) for XML.

    ``_format`` wins over Accept, as FHIR says (a browser or a link cannot set Accept). A media range with
    ``q=0`` is one the client refuses, so it does not count.
    """
    fmt = request.GET.get("_format")
    if fmt is not None:
        if fmt.strip().lower() in JSON_FORMATS:
            return True
        raise _Refused(406, "This server serves FHIR as JSON only: use _format=json, or no _format for the raw bytes.")
    accepted: set[str] = set()
    for media_range in request.headers.get("Accept", "").split(","):
        kind, *params = (part.strip().lower() for part in media_range.split(";"))
        if any(re.fullmatch(r"q=0(\.0*)?", param.replace(" ", "")) for param in params):
            continue
        accepted.add(kind)
    if accepted & FHIR_JSON_TYPES:
        return True
    if accepted & FHIR_XML_TYPES:
        raise _Refused(
            406, "This server serves FHIR as JSON only: ask for application/fhir+json, or any other type for the bytes."
        )
    return False


def _not_known(resource_id: str) -> _Refused:
    # One message for an unknown id, another clinic's row, another patient's (patient context) and a withdrawn
    # photo: the answer must not tell them apart.
    return _Refused(404, f"Binary/{resource_id[:64]} is not known (or no longer served).")


def _neutral_headers(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Vary"] = "Accept"
    return response


def _binary_response(resource_id: str, content_type: str, patient_id: int, data: bytes) -> HttpResponse:
    if len(data) > json_max_bytes():
        raise _too_large(resource_id)
    binary = Binary(
        id=resource_id,
        contentType=content_type,
        securityContext={"reference": f"Patient/{patient_id}"},
        data=base64.b64encode(data),
    )
    response = fhir_response(binary)
    response["Vary"] = "Accept"
    return response


def _too_large(resource_id: str) -> _Refused:
    limit = json_max_bytes()
    shown = f"{limit / (1024 * 1024):g} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"
    return _Refused(
        406,
        f"Binary/{resource_id} is larger than {shown}, too large for the JSON form: ask for the raw bytes "
        "instead (Accept: */* or the file's own type, without _format).",
        code="too-costly",
    )


# --- photos -------------------------------------------------------------------------------------------------------


def _photo(access: FhirAccess, resource_id: str, pk: int) -> Photo:
    """The token's clinic's active photo ``pk`` that may leave the clinic now; ``_Refused`` otherwise."""
    photos = Photo.objects.filter(clinic_id=access.clinic.pk, pk=pk, status=PhotoStatus.ACTIVE)
    if access.patient_id is not None:
        photos = photos.filter(patient_id=access.patient_id)
    photo = photos.first()
    if photo is None:
        raise _not_known(resource_id)
    # The upload refuses a photo without this use (outcomes.services.photo_upload); a row that lacks it anyway
    # (imported, or made by hand) is not served.
    if RECORD_USE not in (photo.consent_uses or []):
        raise _Refused(403, "This photo was not taken under a consent to photos in the clinical record; not served.")
    uses = allowed_photo_uses(clinic_id=access.clinic.pk, patient_id=photo.patient_id)
    if uses is None or RECORD_USE not in uses:
        raise _Refused(
            403,
            "The patient's photography consent no longer allows photos in the clinical record (it was revoked, has "
            "expired or was replaced by one that does not): the photo is kept by the clinic but not shared.",
        )
    return photo


def _read_photo(request: HttpRequest, access: FhirAccess, resource_id: str, pk: int) -> HttpResponse:
    as_resource = wants_resource(request)
    photo = _photo(access, resource_id, pk)
    try:
        handle = default_storage.open(photo.file_name, "rb")
    except (FileNotFoundError, OSError):
        logger.error("fhir binary: the stored file of photo %s is missing", photo.pk)
        raise _Refused(404, f"The file of Binary/{resource_id} is missing from storage.") from None
    if as_resource:
        with handle:
            data = handle.read(json_max_bytes() + 1)  # never more than the bound into memory
        return _binary_response(resource_id, photo.content_type, photo.patient_id, data)
    # Streamed from storage in chunks; the storage name is random, the file name here is neutral.
    response = FileResponse(handle, content_type=photo.content_type)
    return _neutral_headers(response, f"photo-{photo.pk}{PurePosixPath(photo.file_name).suffix.lower()}")


# --- signed consents ----------------------------------------------------------------------------------------------


def _consent(access: FhirAccess, resource_id: str, pk: int) -> SignedConsent:
    consents = SignedConsent.objects.filter(clinic_id=access.clinic.pk, pk=pk)
    if access.patient_id is not None:
        consents = consents.filter(patient_id=access.patient_id)
    consent = consents.only("pk", "clinic_id", "patient_id", "pdf_name", "pdf_sha256").first()
    if consent is None:
        raise _not_known(resource_id)
    return consent


def _verified_pdf(request: HttpRequest, access: FhirAccess, consent: SignedConsent) -> bytes:
    """The PDF's bytes after the consents app's own SHA-256 check, audited as the token's read."""
    actor = get_user_model().objects.filter(pk=access.user_id).first() if access.user_id is not None else None
    return consent_document_verified(
        request=request,
        consent=consent,
        actor=actor,
        clinic=access.clinic,
        role="fhir-token",
        changes={"fhir_token": access.token_id},
    )


def _read_consent(request: HttpRequest, access: FhirAccess, resource_id: str, pk: int) -> HttpResponse:
    as_resource = wants_resource(request)
    consent = _consent(access, resource_id, pk)
    try:
        pdf = _verified_pdf(request, access, consent)
    except DocumentMismatch:
        raise _Refused(
            409,
            "This signed document does not match the fingerprint taken when it was signed (it is missing or was "
            "altered). It is not served. The event was recorded; tell the clinic's administrator.",
            code="conflict",
        ) from None
    if as_resource:
        return _binary_response(resource_id, "application/pdf", consent.patient_id, pdf)
    # The bytes whose SHA-256 was just checked, not the file read again: streaming it afresh would serve whatever
    # is on disk by then. A signed consent is a few hundred KiB.
    response = HttpResponse(pdf, content_type="application/pdf")
    return _neutral_headers(response, f"consent-{consent.pk}.pdf")


# --- the endpoints ------------------------------------------------------------------------------------------------


def _require_read(access: FhirAccess) -> None:
    if not (access.allows(SYSTEM_READ) or access.allows(PATIENT_READ)):
        raise FhirAuthError(403, "This token's scopes do not allow reading Binary.")


@fhir_get
def read_binary(request: HttpRequest, resource_id: str) -> HttpResponse:
    """``GET /fhir/R4/Binary/<photo-N|consent-N>``: the bytes, or the Binary resource (see the module docstring)."""
    access = authenticate(request)
    _require_read(access)
    try:
        match = BINARY_ID.fullmatch(resource_id)
        pk = as_id(match["pk"]) if match else None
        if match is None or pk is None:
            raise _not_known(resource_id)
        if match["kind"] == "photo":
            return _read_photo(request, access, resource_id, pk)
        return _read_consent(request, access, resource_id, pk)
    except _Refused as refused:
        if refused.code is not None:
            return outcome_with_code(refused.status, refused.message, refused.code)
        return operation_outcome(refused.status, refused.message)


@fhir_get
def search_binary(request: HttpRequest) -> HttpResponse:
    """``GET /fhir/R4/Binary``: not a search; the ids come from Media.content.url and Consent.sourceAttachment.url."""
    authenticate(request)
    return outcome_with_code(
        404,
        "Binary is read by id only: GET /fhir/R4/Binary/<id>, with the id found in Media.content.url "
        "(photo-<n>) or Consent.sourceAttachment.url (consent-<n>).",
        "not-supported",
    )
