"""Placeholders of the consents rows in tests/permission_matrix_consents.csv: clinic A's objects, made with the ORM."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from prpclinic.consents.defaults import TEMPLATES
from prpclinic.consents.models import ConsentTemplate, SignedConsent
from tests.factories_consents import signature_png

# One small file shared by every case (the matrix builds its rows for each cell): written once.
PDF_NAME = "consents/matrix/placeholder.pdf"
PDF = b"%PDF-1.7\n% permission matrix placeholder\n%%EOF\n"


def _stored_pdf() -> str:
    if default_storage.exists(PDF_NAME):
        with default_storage.open(PDF_NAME, "rb") as handle:
            if handle.read() == PDF:
                return PDF_NAME
        default_storage.delete(PDF_NAME)
    return default_storage.save(PDF_NAME, ContentFile(PDF))


def placeholders(personas: Any, patient: Any) -> dict[str, int]:
    clinic = personas.clinic_a
    template = ConsentTemplate.objects.create(clinic=clinic, kind="prp_scalp", version=1, **TEMPLATES["prp_scalp"])
    now = timezone.now()
    consent = SignedConsent.objects.create(
        clinic=clinic, patient=patient, kind="prp_scalp", template=template, template_version=1,
        signer_name="Anna Berger", signature_png=signature_png(), meaning=template.statement, signed_at=now,
        signed_timezone=clinic.timezone, expires_at=now + dt.timedelta(days=365), recorded_by=personas.nurse,
        pdf_name=_stored_pdf(), pdf_sha256=hashlib.sha256(PDF).hexdigest(), pdf_size=len(PDF),
    )  # fmt: skip
    return {"consents_consent_a": consent.pk, "consents_template_a": template.pk}
