"""Writes to the catalogue (protocol versions, patient texts, formulary, vial lots).

Each checks its permission, validates, runs in one transaction and writes its audit event there.
Plans are in ``treatments.plans``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest
from django.utils import timezone

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.treatments.models import Cocktail, Protocol, Treatment, VialLot
from prpclinic.treatments.protocol_rules import check_protocol
from prpclinic.treatments.seeding import seed_catalogue

__all__ = [
    "cocktail_create",
    "cocktail_set_active",
    "protocol_revise",
    "seed_catalogue",
    "treatment_text_update",
    "vial_lot_register",
]

# What an edit may change; everything else of a version is copied from the one it replaces.
REVISABLE = ("sessions", "interval_days", "maintenance_interval_days", "zones", "devices", "techniques", "aftercare")


def _treatment_for_update(request: HttpRequest, treatment_id: int) -> Treatment:
    treatment = Treatment.objects.select_for_update().filter(clinic=request.clinic, pk=treatment_id).first()
    if treatment is None:
        raise Http404("No such treatment in this clinic.")
    return treatment


def protocol_revise(*, request: HttpRequest, treatment_id: int, values: dict[str, Any], note: str) -> Protocol:
    """Write the next version of a treatment's protocol and make it current.

    The version it replaces is never changed (plans and visits made under it keep its values);
    only its ``is_current`` flag is cleared. Side effects: audits ``catalogue.protocol_revise``
    with the fields that differ. Refused (nothing written) when a value breaks
    ``protocol_rules.check_protocol`` or nothing changed.
    """
    access.require(request, "catalogue.edit")
    note = note.strip()
    if not note:
        raise ValidationError({"change_note": "Say what changed and why, for the version history."})
    unknown = set(values) - set(REVISABLE)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        treatment = _treatment_for_update(request, treatment_id)  # serialises versions of one treatment
        current = Protocol.objects.filter(clinic=request.clinic, treatment=treatment, is_current=True).first()
        if current is None:
            raise ValidationError("This treatment has no current protocol to revise.")
        merged = {key: getattr(current, key) for key in REVISABLE} | values
        errors = check_protocol(merged)
        if errors:
            raise ValidationError(errors)
        changes = {
            key: [getattr(current, key), merged[key]] for key in REVISABLE if getattr(current, key) != merged[key]
        }
        if not changes:
            raise ValidationError("Nothing changed: the current version already has these values.")
        Protocol.objects.filter(pk=current.pk).update(is_current=False)
        revised = Protocol(
            clinic=request.clinic,
            treatment=treatment,
            version=current.version + 1,
            is_current=True,
            parameters=current.parameters,
            sources=current.sources,
            change_note=note,
            created_by=request.user,
            **merged,
        )
        revised.full_clean()
        revised.save()
        audit_record(
            action="catalogue.protocol_revise",
            request=request,
            obj=revised,
            changes={"version": [current.version, revised.version], "note": note, **changes},
        )
    return revised


TEXT_FIELDS = ("name", "summary", "patient_text", "is_offered")


def treatment_text_update(*, request: HttpRequest, treatment_id: int, data: dict[str, Any]) -> Treatment:
    """Change what patients read about a treatment (name, summary, text, offered). Audited per field."""
    access.require(request, "catalogue.edit")
    unknown = set(data) - set(TEXT_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        treatment = _treatment_for_update(request, treatment_id)
        changes = {}
        for field, value in data.items():
            if getattr(treatment, field) != value:
                changes[field] = [getattr(treatment, field), value]
                setattr(treatment, field, value)
        if changes:
            treatment.full_clean()
            treatment.save()
            audit_record(action="catalogue.treatment_update", request=request, obj=treatment, changes=changes)
    return treatment


def _clean_ingredients(ingredients: list[str]) -> list[str]:
    cleaned: list[str] = []
    for name in ingredients:
        name = " ".join(name.split())
        if name and name.casefold() not in {c.casefold() for c in cleaned}:
            cleaned.append(name)
    return cleaned


def cocktail_create(*, request: HttpRequest, name: str, ingredients: list[str], notes: str = "") -> Cocktail:
    """Add a cocktail to the mesotherapy formulary. Audited. Its composition is not edited later:
    a changed product is a new cocktail (so recorded injections keep what they were)."""
    access.require(request, "catalogue.edit")
    name = " ".join(name.split())
    ingredients = _clean_ingredients(ingredients)
    if not ingredients:
        raise ValidationError({"ingredients": "List at least one ingredient."})
    with transaction.atomic():
        if Cocktail.objects.filter(clinic=request.clinic, name__iexact=name).exists():
            raise ValidationError({"name": f"The formulary already has a cocktail called “{name}”."})
        cocktail = Cocktail(clinic=request.clinic, name=name, ingredients=ingredients, notes=notes.strip())
        cocktail.full_clean()
        cocktail.save()
        audit_record(
            action="catalogue.cocktail_create",
            request=request,
            obj=cocktail,
            changes={"name": [None, name], "ingredients": [None, ingredients]},
        )
    return cocktail


def cocktail_set_active(*, request: HttpRequest, cocktail_id: int, active: bool) -> Cocktail:
    """Retire a cocktail (its lots can no longer be chosen) or bring it back. Audited."""
    access.require(request, "catalogue.edit")
    with transaction.atomic():
        cocktail = Cocktail.objects.select_for_update().filter(clinic=request.clinic, pk=cocktail_id).first()
        if cocktail is None:
            raise Http404("No such cocktail in this clinic.")
        if cocktail.is_active != active:
            cocktail.is_active = active
            cocktail.save(update_fields=["is_active"])
            audit_record(
                action="catalogue.cocktail_" + ("restore" if active else "retire"),
                request=request,
                obj=cocktail,
                changes={"is_active": [not active, active]},
            )
    return cocktail


def vial_lot_register(*, request: HttpRequest, cocktail_id: int, lot_number: str, expiry_date: dt.date) -> VialLot:
    """Register a lot of a cocktail's vials. An expired lot is refused. Audited."""
    access.require(request, "catalogue.vials")
    lot_number = lot_number.strip()
    if expiry_date < timezone.localdate():
        raise ValidationError({"expiry_date": "This lot has already expired; it cannot be registered for use."})
    with transaction.atomic():
        cocktail = Cocktail.objects.filter(clinic=request.clinic, pk=cocktail_id).first()
        if cocktail is None:
            raise ValidationError({"cocktail": "Choose a cocktail of this clinic's formulary."})
        if not cocktail.is_active:
            raise ValidationError({"cocktail": f"“{cocktail.name}” is retired from the formulary."})
        if VialLot.objects.filter(clinic=request.clinic, cocktail=cocktail, lot_number=lot_number).exists():
            raise ValidationError({"lot_number": f"Lot {lot_number} of {cocktail.name} is already registered."})
        lot = VialLot(
            clinic=request.clinic,
            cocktail=cocktail,
            lot_number=lot_number,
            expiry_date=expiry_date,
            registered_by=request.user,
        )
        lot.full_clean(validate_constraints=False)
        try:
            with transaction.atomic():
                lot.save()
        except IntegrityError as exc:  # registered at the same moment by someone else
            raise ValidationError(
                {"lot_number": f"Lot {lot_number} of {cocktail.name} is already registered."}
            ) from exc
        audit_record(
            action="catalogue.vial_lot_register",
            request=request,
            obj=lot,
            changes={"cocktail": cocktail.name, "lot_number": lot_number, "expiry_date": str(expiry_date)},
        )
    return lot
