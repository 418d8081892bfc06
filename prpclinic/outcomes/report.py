"""The outcome report PDF: first and latest photo of each view, and the progress charts (WeasyPrint)."""

from __future__ import annotations

import base64
import io
from typing import Any

from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.utils import timezone
from PIL import Image

from prpclinic.outcomes import scales, selectors
from prpclinic.outcomes.models import Photo
from prpclinic.patients.models import Patient
from prpclinic.prp.labels import html_to_pdf

REPORT_PHOTO_SIDE = 700


def _photo_uri(photo: Photo) -> str | None:
    """The photo reduced for print, as a data: URI (the PDF renderer fetches nothing else)."""
    try:
        with default_storage.open(photo.file_name, "rb") as handle, Image.open(handle) as image:
            image.draft("RGB", (REPORT_PHOTO_SIDE, REPORT_PHOTO_SIDE))  # JPEG: decode at print size, fast
            image = image.convert("RGB")
            image.thumbnail((REPORT_PHOTO_SIDE, REPORT_PHOTO_SIDE))
            out = io.BytesIO()
            image.save(out, "JPEG", quality=85)
    except (FileNotFoundError, OSError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


def _svg_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def report_context(*, clinic: Any, patient: Patient, plan: Any = None) -> dict[str, Any]:
    """What the report shows, read in a fixed number of queries (photos, scores, visits).

    With ``plan`` (one of the patient's treatment series) the report is that series': its sessions
    mark the charts, and only the photos of the treated area (scalp or face) and the scales measured
    there (and the general ones: GAIS, satisfaction) are shown.
    """
    area = selectors.TREATMENT_AREA.get(plan.kind) if plan is not None else None
    photos = selectors.patient_photos(clinic_id=clinic.pk, patient_id=patient.pk)
    if area is not None:
        photos = [p for p in photos if p.area == area]
    pairs = []
    for group in selectors.photos_by_view(photos):
        first, last = group.photos[0], group.photos[-1]
        pairs.append(
            {
                "label": group.label,
                "before": (first, _photo_uri(first)),
                "after": (last, _photo_uri(last)) if last.pk != first.pk else None,
            }
        )
    scores = selectors.patient_scores(clinic_id=clinic.pk, patient_id=patient.pk)
    if area is not None:
        scores = [s for s in scores if s.scale not in scales.SCALES or scales.SCALES[s.scale].map in ("", area)]
    if plan is not None:
        visits = selectors.plan_visits(clinic_id=clinic.pk, plan=plan)
    else:
        visits = selectors.patient_visits(clinic_id=clinic.pk, patient_id=patient.pk)
    series = selectors.progress_series(scores=scores, visits=visits, standalone=True)
    chart_items = [
        {"title": item.title, "uri": _svg_uri(item.svg), "rows": [(s, selectors.score_display(s)) for s in item.scores]}
        for item in series
    ]
    return {
        "clinic": clinic,
        "patient": patient,
        "plan": plan,
        "pairs": pairs,
        "charts": chart_items,
        "visits": visits,
        "made_at": timezone.localtime(),
    }


def outcome_report_pdf(*, clinic: Any, patient: Patient, plan: Any = None) -> bytes:
    html = render_to_string("outcomes/report_pdf.html", report_context(clinic=clinic, patient=patient, plan=plan))
    return html_to_pdf(html)
