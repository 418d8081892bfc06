"""Catalogue and plan pages (staff). Thin: forms in, services and selectors out."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from prpclinic.audit.services import audit_record
from prpclinic.clinics.access import can, clinic_view
from prpclinic.forms import add_service_errors
from prpclinic.patients.selectors import patient_get
from prpclinic.treatments import plans, selectors, services
from prpclinic.treatments.forms import (
    AddSessionForm,
    CocktailForm,
    CountForm,
    MaintenanceForm,
    MoveSessionForm,
    PlanForm,
    ProtocolForm,
    SessionChoiceForm,
    StopForm,
    TreatmentTextForm,
    VialLotForm,
)
from prpclinic.treatments.models import Treatment


def _treatment(request: HttpRequest, treatment_id: int) -> Treatment:
    treatment = Treatment.objects.filter(clinic=request.clinic, pk=treatment_id).first()
    if treatment is None:
        raise Http404("No such treatment in this clinic.")
    return treatment


@clinic_view("catalogue.view")
@require_GET
def catalogue_list(request: HttpRequest) -> HttpResponse:
    treatments = selectors.catalogue_treatments(clinic_id=request.clinic.pk)
    if len(treatments) < 3:  # a clinic made before the catalogue: give it the starting one
        services.seed_catalogue(clinic=request.clinic)
        treatments = selectors.catalogue_treatments(clinic_id=request.clinic.pk)
    return render(request, "treatments/catalogue.html", {"treatments": treatments})


@clinic_view("catalogue.view")
@require_GET
def treatment_detail(request: HttpRequest, treatment_id: int) -> HttpResponse:
    """A treatment's current protocol and its version history."""
    treatment = _treatment(request, treatment_id)
    versions = selectors.protocol_versions(clinic_id=request.clinic.pk, treatment_id=treatment.pk)
    shown = next((p for p in versions if p.is_current), versions[0] if versions else None)
    return render(
        request, "treatments/protocol.html", {"treatment": treatment, "protocol": shown, "versions": versions}
    )


@clinic_view("catalogue.view")
@require_GET
def protocol_detail(request: HttpRequest, protocol_id: int) -> HttpResponse:
    """One version of a protocol, exactly as it was written (plans made under it use these values)."""
    protocol = selectors.protocol_get(clinic_id=request.clinic.pk, protocol_id=protocol_id)
    versions = selectors.protocol_versions(clinic_id=request.clinic.pk, treatment_id=protocol.treatment_id)
    return render(
        request,
        "treatments/protocol.html",
        {"treatment": protocol.treatment, "protocol": protocol, "versions": versions},
    )


@clinic_view("catalogue.edit")
@require_http_methods(["GET", "POST"])
def protocol_edit(request: HttpRequest, treatment_id: int) -> HttpResponse:
    treatment = _treatment(request, treatment_id)
    current = selectors.current_protocol(clinic_id=request.clinic.pk, kind=treatment.kind)
    form = ProtocolForm(request.POST if request.method == "POST" else None, protocol=current)
    if request.method == "POST" and form.is_valid():
        try:
            revised = services.protocol_revise(
                request=request, treatment_id=treatment.pk, values=form.values(), note=form.cleaned_data["change_note"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Saved as version {revised.version}; earlier versions are kept.")
            return redirect("treatments_treatment", treatment_id=treatment.pk)
    return render(
        request,
        "treatments/protocol_edit.html",
        {"treatment": treatment, "protocol": current, "form": form},
        status=400 if form.errors else 200,
    )


@clinic_view("catalogue.edit")
@require_http_methods(["GET", "POST"])
def treatment_text_edit(request: HttpRequest, treatment_id: int) -> HttpResponse:
    """What patients read about a treatment on the clinic's public pages."""
    treatment = _treatment(request, treatment_id)
    form = TreatmentTextForm(request.POST if request.method == "POST" else None, instance=treatment)
    if request.method == "POST" and form.is_valid():
        try:
            services.treatment_text_update(
                request=request, treatment_id=treatment.pk, data={f: form.cleaned_data[f] for f in form.fields}
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "The public text was saved.")
            return redirect("treatments_treatment", treatment_id=treatment.pk)
    saved = _treatment(request, treatment_id)
    return render(
        request,
        "treatments/text_edit.html",
        {"treatment": saved, "form": form},
        status=400 if form.errors else 200,
    )


def _formulary(
    request: HttpRequest,
    *,
    cocktail_form: CocktailForm | None = None,
    lot_form: VialLotForm | None = None,
    cocktails: list[Any] | None = None,
) -> HttpResponse:
    if cocktails is None:
        cocktails = selectors.cocktails(clinic_id=request.clinic.pk)
    failed = (cocktail_form is not None and cocktail_form.errors) or (lot_form is not None and lot_form.errors)
    return render(
        request,
        "treatments/formulary.html",
        {
            "cocktails": cocktails,
            "cocktail_form": cocktail_form or CocktailForm(),
            "lot_form": lot_form or VialLotForm(cocktails=cocktails),
            "today": timezone.localdate(),
        },
        status=400 if failed else 200,
    )


@clinic_view("catalogue.view")
@require_GET
def formulary(request: HttpRequest) -> HttpResponse:
    """The mesotherapy formulary: cocktails, their ingredients and registered vial lots.

    Like the catalogue page, the first look gives a new clinic the starting catalogue: opened first,
    the formulary said "No cocktails yet" and offered no cocktail to register a lot for.
    """
    cocktails = selectors.cocktails(clinic_id=request.clinic.pk)
    if not cocktails:
        services.seed_catalogue(clinic=request.clinic)  # idempotent: adds cocktails only to a clinic with none
        cocktails = selectors.cocktails(clinic_id=request.clinic.pk)
    return _formulary(request, cocktails=cocktails)


@clinic_view("catalogue.edit")
@require_POST
def cocktail_create(request: HttpRequest) -> HttpResponse:
    form = CocktailForm(request.POST)
    if form.is_valid():
        try:
            cocktail = services.cocktail_create(
                request=request,
                name=form.cleaned_data["name"],
                ingredients=form.ingredient_list(),
                notes=form.cleaned_data["notes"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{cocktail.name} added to the formulary.")
            return redirect("treatments_formulary")
    return _formulary(request, cocktail_form=form)


@clinic_view("catalogue.edit")
@require_POST
def cocktail_active(request: HttpRequest, cocktail_id: int) -> HttpResponse:
    active = request.POST.get("active") == "1"
    cocktail = services.cocktail_set_active(request=request, cocktail_id=cocktail_id, active=active)
    messages.success(request, f"{cocktail.name} {'is back in' if active else 'was retired from'} the formulary.")
    return redirect("treatments_formulary")


@clinic_view("catalogue.vials")
@require_POST
def vial_lot_register(request: HttpRequest) -> HttpResponse:
    form = VialLotForm(request.POST, cocktails=selectors.cocktails(clinic_id=request.clinic.pk))
    if form.is_valid():
        try:
            lot = services.vial_lot_register(
                request=request,
                cocktail_id=form.cleaned_data["cocktail"],
                lot_number=form.cleaned_data["lot_number"],
                expiry_date=form.cleaned_data["expiry_date"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Lot {lot.lot_number} of {lot.cocktail.name} registered.")
            return redirect("treatments_formulary")
    return _formulary(request, lot_form=form)


# --- plans ------------------------------------------------------------------------------------


@clinic_view("plan.edit")
@require_POST
def plan_create(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_get(request=request, patient_id=patient_id)  # another clinic's: 404
    form = PlanForm(request.POST)
    if form.is_valid():
        try:
            plan = plans.plan_create(
                request=request,
                patient_id=patient.pk,
                kind=form.cleaned_data["kind"],
                start_date=form.cleaned_data["start_date"],
                sessions=form.cleaned_data["sessions"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Treatment plan created.")
            return redirect("treatments_plan", plan_id=plan.pk)
    return render(request, "treatments/plan_new.html", {"patient": patient, "form": form}, status=400)


def _render_plan(request: HttpRequest, plan_id: int, *, failed: dict[str, Any] | None = None) -> HttpResponse:
    plan = selectors.plan_get(clinic_id=request.clinic.pk, plan_id=plan_id)
    changes = selectors.plan_changes(clinic_id=request.clinic.pk, plan_id=plan.pk)
    failed = failed or {}
    forms_by_action: dict[str, Any] = {
        "add": AddSessionForm(auto_id="id_add_%s"),
        "count": CountForm(auto_id="id_count_%s", initial={"sessions": plan.progress["series_total"]}),
        "maintenance": MaintenanceForm(auto_id="id_maintenance_%s"),
        "stop": StopForm(auto_id="id_stop_%s"),
        "move": None,
        "remove": None,
    } | failed
    return render(
        request,
        "treatments/plan.html",
        {
            "plan": plan,
            "patient": plan.patient,
            "sessions": list(plan.sessions.all()),
            "changes": changes,
            "forms": forms_by_action,
            "failed_session": failed.get("session_id"),
            "edits": can(request, "plan.edit") and plan.status == "active",
        },
        status=400 if failed else 200,
    )


@clinic_view("plan.view")
@require_GET
def plan_detail(request: HttpRequest, plan_id: int) -> HttpResponse:
    """A plan with its sessions, progress and the history of its changes. Audited (a chart read)."""
    response = _render_plan(request, plan_id)
    audit_record(action="plan.view", request=request, object_type="treatments.treatmentplan", object_id=plan_id)
    return response


PLAN_ACTIONS = {
    "add": AddSessionForm,
    "remove": SessionChoiceForm,
    "move": MoveSessionForm,
    "count": CountForm,
    "maintenance": MaintenanceForm,
    "stop": StopForm,
}


@clinic_view("plan.edit")
@require_POST
def plan_change(request: HttpRequest, plan_id: int, action: str) -> HttpResponse:
    """One change of a plan (``action`` in PLAN_ACTIONS), always with a reason."""
    if action not in PLAN_ACTIONS:
        raise Http404("No such change.")
    selectors.plan_get(clinic_id=request.clinic.pk, plan_id=plan_id)  # another clinic's: 404 first
    form = PLAN_ACTIONS[action](request.POST, auto_id=f"id_{action}_%s")
    if form.is_valid():
        data = form.cleaned_data
        try:
            if action == "add":
                plans.plan_add_session(
                    request=request,
                    plan_id=plan_id,
                    due_date=data["due_date"],
                    kind=data["kind"],
                    reason=data["reason"],
                )
            elif action == "remove":
                plans.plan_remove_session(
                    request=request, plan_id=plan_id, session_id=data["session"], reason=data["reason"]
                )
            elif action == "move":
                plans.plan_move_session(
                    request=request,
                    plan_id=plan_id,
                    session_id=data["session"],
                    due_date=data["due_date"],
                    reason=data["reason"],
                    shift_following=data["shift_following"],
                )
            elif action == "count":
                plans.plan_set_count(request=request, plan_id=plan_id, sessions=data["sessions"], reason=data["reason"])
            elif action == "maintenance":
                plans.plan_add_maintenance(request=request, plan_id=plan_id, count=data["count"], reason=data["reason"])
            else:
                plans.plan_stop(request=request, plan_id=plan_id, reason=data["reason"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "The plan was changed; the reason is in its history.")
            return redirect("treatments_plan", plan_id=plan_id)
    failed: dict[str, Any] = {action: form}
    if action in ("move", "remove"):
        failed["session_id"] = request.POST.get("session")
    return _render_plan(request, plan_id, failed=failed)
