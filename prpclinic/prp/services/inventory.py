"""Clinic devices and consumables: centrifuges, spin programs, kit and tube lots, recalls."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest
from django.utils import timezone

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.prp.models import Centrifuge, ConsumableLot, SpinProgram
from prpclinic.prp.services.spin import spin_settings

CENTRIFUGE_FIELDS = (
    "name", "make", "model", "serial_number", "rotor_radius_cm", "radius_reference", "max_rpm",
    "tube_slots", "calibration_due", "in_service", "out_of_service_reason",
)  # fmt: skip
LOT_FIELDS = (
    "kind", "product_name", "manufacturer", "lot_number", "expiry_date", "tube_capacity_ml", "anticoagulant",
)  # fmt: skip


def _save(obj: Any, message: str) -> None:
    obj.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise ValidationError(message) from exc


def centrifuge_save(*, request: HttpRequest, centrifuge_id: int | None, data: dict[str, Any]) -> Centrifuge:
    """Add or change a centrifuge; audited with old and new values."""
    access.require(request, "prp.devices")
    unknown = set(data) - set(CENTRIFUGE_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        if centrifuge_id is None:
            centrifuge = Centrifuge(clinic=request.clinic)
        else:
            centrifuge = Centrifuge.objects.select_for_update().filter(pk=centrifuge_id, clinic=request.clinic).first()
            if centrifuge is None:
                raise Http404("No such centrifuge.")
        changes = {f: [getattr(centrifuge, f), v] for f, v in data.items() if getattr(centrifuge, f) != v}
        for field, value in data.items():
            setattr(centrifuge, field, value)
        if not centrifuge.in_service and not centrifuge.out_of_service_reason:
            raise ValidationError({"out_of_service_reason": "Say why the device is out of service."})
        _save(centrifuge, "Another centrifuge of this clinic has this serial number.")
        audit_record(
            action="prp.centrifuge_" + ("create" if centrifuge_id is None else "update"),
            request=request,
            obj=centrifuge,
            changes=changes,
        )
    return centrifuge


def program_save(
    *,
    request: HttpRequest,
    centrifuge_id: int,
    name: str,
    spin1: tuple[int | None, int | None, int],
    spin2: tuple[int | None, int | None, int] | None,
    temperature_c: int,
) -> SpinProgram:
    """A spin program; each spin given as (g or None, RPM or None, minutes). Speeds above the
    device's maximum are refused; both g and RPM are stored."""
    access.require(request, "prp.devices")
    with transaction.atomic():
        centrifuge = Centrifuge.objects.filter(pk=centrifuge_id, clinic=request.clinic).first()
        if centrifuge is None:
            raise Http404("No such centrifuge.")
        rcf1, rpm1 = spin_settings(centrifuge=centrifuge, rcf=spin1[0], rpm=spin1[1])
        program = SpinProgram(
            clinic=request.clinic,
            centrifuge=centrifuge,
            name=name.strip(),
            spin1_rcf=rcf1,
            spin1_rpm=rpm1,
            spin1_minutes=spin1[2],
            temperature_c=temperature_c,
        )
        if spin2 is not None:
            try:
                program.spin2_rcf, program.spin2_rpm = spin_settings(centrifuge=centrifuge, rcf=spin2[0], rpm=spin2[1])
            except ValidationError as exc:
                raise ValidationError({"spin2_speed": exc.message_dict["rcf"]}) from None
            program.spin2_minutes = spin2[2]
        _save(program, "This centrifuge already has a program with this name.")
        audit_record(action="prp.program_create", request=request, obj=program, changes={"program": str(program)})
    return program


def lot_create(*, request: HttpRequest, data: dict[str, Any]) -> ConsumableLot:
    access.require(request, "prp.lots")
    unknown = set(data) - set(LOT_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        lot = ConsumableLot(clinic=request.clinic, **data)
        _save(lot, "This lot is already registered.")
        audit_record(action="prp.lot_create", request=request, obj=lot, changes=dict(data))
    return lot


def lot_recall(*, request: HttpRequest, lot_id: int, reason: str) -> ConsumableLot:
    """Mark a lot recalled: it can no longer be used; audited with the reason."""
    access.require(request, "prp.recall")
    if not reason.strip():
        raise ValidationError({"reason": "Give the recall notice or reason."})
    with transaction.atomic():
        lot = ConsumableLot.objects.select_for_update().filter(pk=lot_id, clinic=request.clinic).first()
        if lot is None:
            raise Http404("No such lot.")
        if lot.recalled_at is None:
            lot.recalled_at = timezone.now()
            lot.recall_reason = reason.strip()
            lot.save(update_fields=["recalled_at", "recall_reason"])
            audit_record(action="prp.lot_recall", request=request, obj=lot, changes={"reason": reason.strip()})
    return lot
