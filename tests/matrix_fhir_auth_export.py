"""Placeholders of tests/permission_matrix_fhir_auth_export.csv: a token and a finished export of clinic A."""

from __future__ import annotations

from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from prpclinic.fhir.auth import create_token
from prpclinic.fhir.models import ExportJob, ExportStatus


def placeholders(personas: Any, patient: Any) -> dict[str, int]:
    token, _raw = create_token(
        clinic=personas.clinic_a, label="Matrix client", scopes=["system/*.read"], created_by=personas.admin
    )
    name = default_storage.save("fhir-exports/matrix/Patient.ndjson", ContentFile(b'{"resourceType":"Patient"}\n'))
    job = ExportJob.objects.create(
        clinic=personas.clinic_a,
        token=token,
        status=ExportStatus.DONE,
        request_url="http://testserver/fhir/R4/$export",
        output=[{"type": "Patient", "name": name, "count": 1}],
    )
    return {"fhir_auth_token_a": token.pk, "fhir_export_job_a": job.pk}
