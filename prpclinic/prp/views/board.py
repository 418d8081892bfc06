"""The day board, one product's trace, and the incident list."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from prpclinic.audit.services import audit_record
from prpclinic.clinics.access import clinic_view
from prpclinic.prp.forms import ReasonForm
from prpclinic.prp.selectors import day_board, open_incidents, product_trace
from prpclinic.prp.services import bedside

# The board refreshes its rows this often (seconds); the countdowns tick every second in JS.
BOARD_REFRESH_S = 15


@clinic_view("prp.view")
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    template = "prp/board.html#rows" if request.htmx else "prp/board.html"
    return render(
        request,
        template,
        {"products": day_board(clinic_id=request.clinic.pk), "now": timezone.now(), "refresh": BOARD_REFRESH_S},
    )


@clinic_view("prp.view")
@require_GET
def trace(request: HttpRequest, product_id: int) -> HttpResponse:
    context = product_trace(request=request, product_id=product_id)
    audit_record(action="prp.trace_view", request=request, obj=context["product"])  # type: ignore[arg-type]
    return render(request, "prp/trace.html", context)


@clinic_view("prp.incidents")
@require_GET
def incidents(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "prp/incidents.html",
        {"incidents": open_incidents(clinic_id=request.clinic.pk), "reason_form": ReasonForm()},
    )


@clinic_view("prp.release")
@require_POST
def incident_close(request: HttpRequest, incident_id: int) -> HttpResponse:
    bedside.incident_get(request=request, incident_id=incident_id)  # another clinic's: 404 first
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say what the review found.")
    else:
        try:
            bedside.incident_close(request=request, incident_id=incident_id, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Incident closed.")
    return redirect("prp_incidents")
