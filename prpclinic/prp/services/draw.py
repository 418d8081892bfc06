"""Drawing blood: the first link of the chain, with both patient identifiers confirmed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils import timezone

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.prp.limits import CLOCK_SKEW_SECONDS, out_of_range
from prpclinic.prp.models import (
    PATIENT_PREFIX,
    BloodDraw,
    ConsumableLot,
    IdentityCheck,
    LotKind,
    Product,
    ProductEvent,
    ProductStatus,
)
from prpclinic.visits.models import Visit, VisitStatus


def patient_barcode(mrn: str) -> str:
    """What the wristband and chart sheet encode: the record number with a prefix, so a scan
    of a patient is never taken for a product (and the other way round)."""
    return f"{PATIENT_PREFIX}{mrn}"


def future_time_error(when: dt.datetime) -> str:
    """A message when ``when`` lies in the future (beyond a tablet's clock skew), else ""."""
    if when > timezone.now() + dt.timedelta(seconds=CLOCK_SKEW_SECONDS):
        return "This time is in the future."
    return ""


def check_not_future(when: dt.datetime, label: str) -> None:
    message = future_time_error(when)
    if message:
        raise ValidationError({label: message})


def usable_lot(*, request: HttpRequest, lot_id: int | None, kind: str, field: str) -> ConsumableLot | None:
    if lot_id is None:
        return None
    lot = ConsumableLot.objects.filter(pk=lot_id, clinic=request.clinic, kind=kind).first()
    if lot is None:
        raise ValidationError({field: "Choose a lot of this clinic."})
    reason = lot.unusable_reason()
    if reason:
        raise ValidationError({field: f"This {LotKind(kind).label.lower()} cannot be used: {reason}."})
    return lot


def blood_draw(
    *,
    request: HttpRequest,
    visit_id: int,
    drawn_at: dt.datetime,
    site: str,
    volume_ml: Decimal,
    tube_count: int,
    tube_lot_id: int,
    kit_lot_id: int | None,
    anticoagulant: str,
    identity_check: str,
    scanned_code: str = "",
    platelets_k_per_ul: Decimal | None = None,
    hematocrit_pct: Decimal | None = None,
    wbc_k_per_ul: Decimal | None = None,
) -> Product:
    """Record a draw on an open visit and create its product (state ``drawn``).

    The patient's two identifiers are confirmed first: either the wristband scan equals this
    patient's barcode, or the nurse confirms name and date of birth with the patient.
    Side effects: BloodDraw, Product and its first ProductEvent; audit ``prp.draw``.
    """
    access.require(request, "prp.handle")
    errors: dict[str, str] = {}
    with transaction.atomic():
        visit = Visit.objects.select_related("patient").filter(pk=visit_id, clinic=request.clinic).first()
        if visit is None:
            raise Http404("No such visit in this clinic.")
        patient = visit.patient
        if visit.status != VisitStatus.OPEN:
            raise ValidationError("This visit is closed; start a new one.")
        if not patient.is_active:
            raise ValidationError("This patient's record is deactivated.")
        if identity_check == IdentityCheck.SCAN:
            if scanned_code.strip().upper() != patient_barcode(patient.mrn).upper():
                errors["scanned_code"] = (
                    f"The scanned wristband is not {patient.full_name}'s ({patient.mrn}). Stop and check the patient."
                )
        elif identity_check != IdentityCheck.CONFIRMED:
            errors["identity_check"] = "Confirm the patient's name and date of birth, or scan the wristband."
        if future_time_error(drawn_at):
            errors["drawn_at"] = future_time_error(drawn_at)
        elif drawn_at < visit.started_at - dt.timedelta(hours=12):
            errors["drawn_at"] = "The draw cannot be long before the visit started."
        tube_lot = usable_lot(request=request, lot_id=tube_lot_id, kind=LotKind.TUBE, field="tube_lot")
        kit_lot = usable_lot(request=request, lot_id=kit_lot_id, kind=LotKind.KIT, field="kit_lot")
        assert tube_lot is not None
        capacity = tube_lot.tube_capacity_ml * tube_count
        if volume_ml <= 0:
            errors["volume_ml"] = "The volume must be more than 0 mL."
        elif volume_ml > capacity:
            errors["volume_ml"] = (
                f"{volume_ml} mL does not fit in {tube_count} tube(s) of "
                f"{tube_lot.tube_capacity_ml} mL ({capacity} mL)."
            )
        for field, limit, value, label in (
            ("platelets_k_per_ul", "wb_platelets_k_per_ul", platelets_k_per_ul, "A platelet count"),
            ("hematocrit_pct", "wb_hematocrit_pct", hematocrit_pct, "A hematocrit"),
            ("wbc_k_per_ul", "wb_wbc_k_per_ul", wbc_k_per_ul, "A white cell count"),
        ):
            message = out_of_range(limit, value, label)
            if message:
                errors[field] = message
        if errors:
            raise ValidationError(errors)
        draw = BloodDraw(
            clinic=request.clinic,
            visit=visit,
            patient=patient,
            drawn_by=request.user,
            drawn_at=drawn_at,
            site=site,
            volume_ml=volume_ml,
            tube_count=tube_count,
            tube_lot=tube_lot,
            kit_lot=kit_lot,
            anticoagulant=anticoagulant,
            identity_check=identity_check,
            platelets_k_per_ul=platelets_k_per_ul,
            hematocrit_pct=hematocrit_pct,
            wbc_k_per_ul=wbc_k_per_ul,
        )
        draw.full_clean()
        draw.save()
        product = Product.objects.create(clinic=request.clinic, patient=patient, draw=draw)
        ProductEvent.objects.create(
            clinic=request.clinic, product=product, from_status="", to_status=ProductStatus.DRAWN, actor=request.user
        )
        audit_record(
            action="prp.draw",
            request=request,
            obj=product,
            changes={
                "patient": patient.mrn,
                "volume_ml": volume_ml,
                "tubes": tube_count,
                "tube_lot": tube_lot.lot_number,
                "kit_lot": kit_lot.lot_number if kit_lot else "",
                "identity_check": identity_check,
            },
        )
    return product
