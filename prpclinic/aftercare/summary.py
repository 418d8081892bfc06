"""The visit summary PDF: what was done at a visit, by whom and when, for the record or the patient.

Zones, depths and volumes come from the visit's charting (``visits.selectors.visit_charting``),
PRP products with their lots and application from the PRP chain, then the adverse events and
the aftercare given. Rendering only: the view checks and audits.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from prpclinic.aftercare import selectors
from prpclinic.prp.labels import html_to_pdf
from prpclinic.prp.models import Application, Product
from prpclinic.visits.models import Visit
from prpclinic.visits.selectors import Charting, visit_charting


def _charting(visit: Visit) -> Charting:
    return visit_charting(clinic_id=visit.clinic_id, visit_id=visit.pk, visit=visit)


def visit_summary_context(visit: Visit) -> dict[str, Any]:
    """Everything the summary shows, read in a fixed number of queries."""
    products = list(
        Product.objects.filter(clinic_id=visit.clinic_id, draw__visit_id=visit.pk)
        .select_related("draw", "draw__tube_lot", "draw__kit_lot", "draw__drawn_by", "prepared_by")
        .order_by("created_at", "id")
    )
    applications = {
        a.product_id: a
        for a in Application.objects.filter(clinic_id=visit.clinic_id, visit_id=visit.pk).select_related("applied_by")
    }
    rows = [{"product": p, "application": applications.get(p.pk)} for p in products]
    return {
        "visit": visit,
        "patient": visit.patient,
        "zone": zoneinfo.ZoneInfo(visit.clinic.timezone),
        "charting": _charting(visit),
        "products": rows,
        "events": selectors.visit_adverse_events(clinic_id=visit.clinic_id, visit_id=visit.pk),
        "handouts": selectors.visit_handouts(clinic_id=visit.clinic_id, visit_id=visit.pk),
        "printed_at": timezone.now(),
    }


def visit_summary_html(visit: Visit) -> str:
    context = visit_summary_context(visit)
    with timezone.override(context["zone"]):
        return render_to_string("aftercare/summary_pdf.html", context)


def visit_summary_pdf(visit: Visit) -> bytes:
    return html_to_pdf(visit_summary_html(visit))
