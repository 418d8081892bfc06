"""One patient's complete record for the patient (GDPR Art. 20, data portability): a zip of

- ``record.json``: a FHIR R4 ``collection`` Bundle of every registered resource type in the patient compartment
  (Patient, Appointment, Consent, Procedure, Observation, ...), each built by the same builder the API serves;
- ``photos/<id>.<ext>``: the original clinical photos (withdrawn ones too: the patient's own data);
- ``consents/<id>.pdf``: the signed consent documents as frozen at signing;
- ``README.txt``: what is inside.

The zip is written to a temporary file (photos can be large), never kept, and the export is audited.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from dataclasses import dataclass
from typing import IO, Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from prpclinic.audit.services import audit_record
from prpclinic.consents.models import SignedConsent
from prpclinic.fhir import registry
from prpclinic.outcomes.models import Photo
from prpclinic.patients.models import Patient

PHOTO_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/heic": "heic"}


@dataclass
class PatientExport:
    file: IO[bytes]
    filename: str
    resources: int
    photos: int
    consents: int


def patient_bundle(patient: Patient, ctx: registry.BuildContext) -> dict[str, Any]:
    """The collection Bundle (as JSON data), validated with the R4B Bundle model."""
    entries: list[dict[str, Any]] = []
    # Every source of every type: the whole-blood parents, spins and lab values are resources of their own
    # (ids like wb-12), not only the primary tables.
    for definition in registry.all_sources():
        if definition.patient_path is None:
            continue
        rows = definition.queryset(patient.clinic_id).filter(definition.patient_filter([patient.pk])).order_by("pk")
        for row in rows:
            resource = definition.build(row, ctx)
            entries.append(
                {
                    "fullUrl": ctx.url(definition.type_name, resource.id or definition.fhir_id(row.pk)),
                    "resource": resource.model_dump(mode="json", exclude_none=True),
                }
            )
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": timezone.now().isoformat(),
        "entry": entries,
    }
    Bundle.model_validate(bundle)  # raises on anything a builder got wrong
    return bundle


def _readme(patient: Patient, resources: int, photos: int, consents: int) -> str:
    return (
        f"Your record at {patient.clinic.name}, exported {timezone.now():%Y-%m-%d %H:%M} UTC.\n\n"
        f"record.json  - {resources} FHIR R4 resources in one Bundle (the standard format of health records;\n"
        "               other clinics' and hospitals' systems can read it).\n"
        f"photos/      - {photos} clinical photos as taken.\n"
        f"consents/    - {consents} signed consent documents (PDF), as signed.\n"
    )


def patient_export(*, request: HttpRequest, patient: Patient, base_url: str) -> PatientExport:
    """Build the zip for ``patient`` (of the request's clinic). Side effects: one audit event."""
    ctx = registry.BuildContext(base_url=base_url, clinic=patient.clinic)
    bundle = patient_bundle(patient, ctx)
    photos = list(Photo.objects.filter(clinic_id=patient.clinic_id, patient=patient).order_by("pk"))
    consents = list(SignedConsent.objects.filter(clinic_id=patient.clinic_id, patient=patient).order_by("pk"))
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (handed to the response, which closes it)
    written_photos = written_consents = 0
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("record.json", json.dumps(bundle, ensure_ascii=False, indent=1))
        for photo in photos:
            if default_storage.exists(photo.file_name):
                extension = PHOTO_EXTENSIONS.get(photo.content_type, "bin")
                with (
                    default_storage.open(photo.file_name, "rb") as source,
                    archive.open(
                        f"photos/{photo.pk}-{photo.view}-{photo.taken_at:%Y-%m-%d}.{extension}", "w"
                    ) as target,
                ):
                    for chunk in iter(lambda: source.read(1 << 16), b""):
                        target.write(chunk)
                written_photos += 1
        for consent in consents:
            if default_storage.exists(consent.pdf_name):
                with default_storage.open(consent.pdf_name, "rb") as source:
                    archive.writestr(
                        f"consents/{consent.pk}-{consent.kind}-{consent.signed_at:%Y-%m-%d}.pdf", source.read()
                    )
                written_consents += 1
        archive.writestr("README.txt", _readme(patient, len(bundle["entry"]), written_photos, written_consents))
    spool.seek(0)
    with transaction.atomic():
        audit_record(
            action="patient.export",
            request=request,
            obj=patient,
            changes={"resources": len(bundle["entry"]), "photos": written_photos, "consents": written_consents},
        )
    # The file name carries the record's id, never the patient's name.
    filename = f"patient-{patient.pk}-record-{timezone.now():%Y%m%d}.zip"
    return PatientExport(spool, filename, len(bundle["entry"]), written_photos, written_consents)
