"""Placeholders of the outcomes rows in tests/permission_matrix_outcomes.csv: a photo and a score of clinic A."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from prpclinic.outcomes.models import Photo, Score

# One small file in the storage, shared by every matrix case (the matrix tests access, not upload).
MATRIX_PHOTO = "outcomes/matrix-test/photo.jpg"


def _stored_photo() -> str:
    if not default_storage.exists(MATRIX_PHOTO):
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), "#806050").save(buffer, "JPEG")
        default_storage.save(MATRIX_PHOTO, ContentFile(buffer.getvalue()))
    return MATRIX_PHOTO


def placeholders(personas: Any, patient: Any) -> dict[str, int]:
    name = _stored_photo()
    photo = Photo.objects.create(
        clinic=personas.clinic_a, patient=patient, area="scalp", view="scalp_vertex", file_name=name, thumb_name=name,
        content_type="image/jpeg", width=8, height=8, byte_size=1, source_format="jpeg",
        consent_uses=["clinical_record"], uploaded_by=personas.nurse,
    )  # fmt: skip
    score = Score.objects.create(
        clinic=personas.clinic_a, patient=patient, scale="hair_density", value=150, recorded_by=personas.nurse
    )
    return {"outcome_photo_a": photo.pk, "outcome_score_a": score.pk}
