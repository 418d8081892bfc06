"""The visit page: the patient's identifiers at the top, the PRP chain, the body-map charting, completion."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from prpclinic.audit.services import audit_record
from prpclinic.clinics.access import can, clinic_view
from prpclinic.forms import add_service_errors
from prpclinic.prp.forms import DrawForm, PrepareForm, ReasonForm, SpinForm
from prpclinic.prp.selectors import measures_of, products_with_chain
from prpclinic.visits import selectors, services
from prpclinic.visits.forms import CompleteForm, ZoneEntryForm
from prpclinic.visits.models import TreatmentKind, Visit


def visit_get(*, request: HttpRequest, visit_id: int) -> Visit:
    return selectors.visit_get(clinic_id=request.clinic.pk, visit_id=visit_id)


def may_chart(request: HttpRequest, visit: Visit) -> bool:
    """Charting this visit's zones: ``visit.chart``, and ``visit.mesotherapy`` for mesotherapy."""
    if not can(request, "visit.chart"):
        return False
    return visit.treatment != TreatmentKind.MESOTHERAPY or can(request, "visit.mesotherapy")


def zone_form_for(
    request: HttpRequest, charting: selectors.Charting, code: str, data: Any = None, warnings: list[str] | None = None
) -> ZoneEntryForm:
    zone = next((z for z in charting.zones if z["code"] == code), None)
    if zone is None:
        raise Http404("This visit's protocol has no such zone.")
    return ZoneEntryForm(
        data,
        treatment=charting.visit.treatment,
        protocol=charting.protocol,
        clinic_id=request.clinic.pk,
        zone=zone,
        previous=zone["entry"],
        warnings=warnings,
        applications=charting.applications,
    )


def render_visit(
    request: HttpRequest, visit: Visit, *, draw_form: DrawForm | None = None, errors_for: int | None = None,
    spin_form: SpinForm | None = None, prepare_form: PrepareForm | None = None, status: int = 200,
    zone_form: ZoneEntryForm | None = None, complete_form: CompleteForm | None = None,
    charting: selectors.Charting | None = None,
) -> HttpResponse:  # fmt: skip
    """The visit page; a form that failed comes back bound, with its errors, for its product or zone."""
    clinic_id = request.clinic.pk
    charting = charting or selectors.visit_charting(clinic_id=clinic_id, visit_id=visit.pk, visit=visit, seed=False)
    charts = may_chart(request, visit) and visit.is_open
    if zone_form is None and charts and request.GET.get("zone"):
        # Without JavaScript a tapped zone is a link to ?zone=<code>: the form opens in the page.
        zone_form = zone_form_for(request, charting, request.GET["zone"])
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
            "charting": charting,
            "charts": charts,
            "zone_form": zone_form,
            "complete_form": complete_form or CompleteForm(),
            "completes": can(request, "visit.complete") and visit.is_open,
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
    """The visit page. Opening it is audited, like the chart: it shows the patient's treatment."""
    visit = visit_get(request=request, visit_id=visit_id)
    audit_record(action="visit.view", request=request, obj=visit)
    return render_visit(request, visit)


@clinic_view("visit.chart")
@require_http_methods(["GET", "POST"])
def zone_entry(request: HttpRequest, visit_id: int, zone: str) -> HttpResponse:
    """One zone's entry form: GET gives it (the htmx partial when tapped on the map), POST charts it.

    A refused entry re-renders the page with status 400 and the messages next to the fields; an
    entry with warnings comes back the same way with the warnings and a box to acknowledge them.
    """
    visit = visit_get(request=request, visit_id=visit_id)
    if not may_chart(request, visit):
        raise PermissionDenied("Mesotherapy is charted by a physician.")
    charting = selectors.visit_charting(clinic_id=request.clinic.pk, visit_id=visit.pk, visit=visit)
    if request.method == "GET":
        form = zone_form_for(request, charting, zone)
        if request.htmx:
            return render(request, "visits/visit.html#zone_form", {"visit": visit, "zone_form": form, "charts": True})
        return render_visit(request, visit, zone_form=form, charting=charting)
    form = zone_form_for(request, charting, zone, data=request.POST)
    if form.is_valid():
        try:
            entry = services.zone_chart(request=request, visit_id=visit.pk, zone=zone, **form.service_kwargs())
        except services.WarningsToAcknowledge as exc:
            form = zone_form_for(request, charting, zone, data=request.POST, warnings=exc.messages)
            form.is_valid()
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{entry.zone_label} charted.")
            return redirect(reverse("visit_detail", args=[visit.pk]) + f"#entry-{entry.map}-{entry.zone}")
    return render_visit(request, visit, zone_form=form, charting=charting, status=400)


@clinic_view("visit.complete")
@require_POST
def visit_complete(request: HttpRequest, visit_id: int) -> HttpResponse:
    visit = visit_get(request=request, visit_id=visit_id)
    try:
        services.visit_complete(request=request, visit_id=visit.pk)
    except ValidationError as exc:
        form = CompleteForm(request.POST)
        form.is_valid()
        form.add_error(None, exc)
        return render_visit(request, visit_get(request=request, visit_id=visit_id), complete_form=form, status=400)
    messages.success(request, "Visit completed. Its chart is now read-only.")
    return redirect("visit_detail", visit_id=visit.pk)


TREATMENTS = TreatmentKind.choices
