"""The visit page: the patient's identifiers at the top, then the PRP chain for this visit."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from prpclinic.clinics.access import can, clinic_view
from prpclinic.prp.forms import DrawForm, PrepareForm, ReasonForm, SpinForm
from prpclinic.prp.selectors import measures_of, products_with_chain
from prpclinic.visits import services
from prpclinic.visits.models import TreatmentKind, Visit


def visit_get(*, request: HttpRequest, visit_id: int) -> Visit:
    visit = Visit.objects.select_related("patient", "clinician").filter(pk=visit_id, clinic=request.clinic).first()
    if visit is None:
        raise Http404("No such visit in this clinic.")
    return visit


def render_visit(
    request: HttpRequest, visit: Visit, *, draw_form: DrawForm | None = None, errors_for: int | None = None,
    spin_form: SpinForm | None = None, prepare_form: PrepareForm | None = None, status: int = 200,
) -> HttpResponse:  # fmt: skip
    """The visit page; a form that failed comes back bound, with its errors, for its product."""
    clinic_id = request.clinic.pk
    products = list(products_with_chain().filter(visit_filter(visit)).order_by("created_at"))
    rows: list[dict[str, Any]] = []
    for product in products:
        rows.append(
            {
                "product": product,
                "measures": measures_of(product),
                "spin_form": spin_form
                if errors_for == product.pk and spin_form
                else SpinForm(clinic_id=clinic_id, auto_id=f"id_p{product.pk}_spin_%s"),
                "prepare_form": prepare_form
                if errors_for == product.pk and prepare_form
                else PrepareForm(auto_id=f"id_p{product.pk}_%s"),
                "reason_form": ReasonForm(),
            }
        )
    return render(
        request,
        "visits/visit.html",
        {
            "visit": visit,
            "patient": visit.patient,
            "rows": rows,
            "draw_form": draw_form or DrawForm(clinic_id=clinic_id, auto_id="id_draw_%s"),
            "handles": can(request, "prp.handle"),
        },
        status=status,
    )


def visit_filter(visit: Visit) -> Any:
    from django.db.models import Q

    return Q(clinic_id=visit.clinic_id, draw__visit=visit)


@clinic_view("visit.start")
@require_POST
def visit_start(request: HttpRequest, patient_id: int) -> HttpResponse:
    try:
        visit = services.visit_start(
            request=request, patient_id=patient_id, treatment=request.POST.get("treatment", "")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("patient_chart", patient_id=patient_id)
    return redirect("visit_detail", visit_id=visit.pk)


@clinic_view("prp.view")
@require_GET
def visit_detail(request: HttpRequest, visit_id: int) -> HttpResponse:
    return render_visit(request, visit_get(request=request, visit_id=visit_id))


TREATMENTS = TreatmentKind.choices
