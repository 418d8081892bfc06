"""The PRP chain of custody as JSON: draw, spin, prepare, verify, apply, discard, quarantine,
release, trace. Each operation parses its own schema and calls the service the pages call.

Inputs name every writable field and refuse any other (no mass assignment). Decimals are
accepted as JSON numbers or strings and returned as strings, so that 18.0 mL stays 18.0;
times carry their UTC offset. Permissions, clinic scoping and every clinical rule are the
services' (``prp.services``); this module only translates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from pydantic import AwareDatetime, ConfigDict

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.prp.measures import Measures
from prpclinic.prp.models import (
    Activation,
    Anticoagulant,
    Application,
    BloodDraw,
    DrawSite,
    IdentityCheck,
    Incident,
    IncidentStatus,
    Product,
    ProductEvent,
    ProductStatus,
    Spin,
    Verification,
    VerificationResult,
)
from prpclinic.prp.selectors import product_get, product_trace
from prpclinic.prp.services import bedside, draw, spin

router = Router(tags=["PRP chain of custody"])

# Services name a relation ("tube_lot"); the API names the id the caller sends ("tube_lot_id").
SERVICE_FIELDS = {
    "tube_lot": "tube_lot_id",
    "kit_lot": "kit_lot_id",
    "centrifuge": "centrifuge_id",
    "program": "program_id",
}


def _named_as_in_the_api(view: Callable[..., Any]) -> Callable[..., Any]:
    """Field errors from a service, renamed to the input field the caller sent."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return view(request, *args, **kwargs)
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                raise
            raise ValidationError(
                {SERVICE_FIELDS.get(field, field): errors for field, errors in exc.error_dict.items()}
            ) from exc

    return wrapper


router.add_decorator(_named_as_in_the_api, mode="operation")


def decimal_of(model: type[models.Model], name: str, default: Any = ..., **constraints: Any) -> Any:
    """A Decimal input with the digits the model column holds (nothing rounded silently)."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.DecimalField)
    return Field(
        default,
        max_digits=field.max_digits,
        decimal_places=field.decimal_places,
        description=str(field.verbose_name),
        **constraints,
    )


class Input(Schema):
    model_config = ConfigDict(extra="forbid")


# --- inputs ---------------------------------------------------------------------------------


class DrawIn(Input):
    visit_id: int
    drawn_at: AwareDatetime
    site: DrawSite
    volume_ml: Decimal = decimal_of(BloodDraw, "volume_ml", gt=0)
    tube_count: int = Field(..., ge=1, le=12)
    tube_lot_id: int
    kit_lot_id: int | None = None
    anticoagulant: Anticoagulant
    identity_check: IdentityCheck = Field(
        ..., description="'scan' needs scanned_code (the wristband, PT-<MRN>); 'confirmed': name and date of birth."
    )
    scanned_code: str = Field("", max_length=40)
    platelets_k_per_ul: Decimal | None = decimal_of(BloodDraw, "platelets_k_per_ul", None)
    hematocrit_pct: Decimal | None = decimal_of(BloodDraw, "hematocrit_pct", None)
    wbc_k_per_ul: Decimal | None = decimal_of(BloodDraw, "wbc_k_per_ul", None)


class SpinIn(Input):
    centrifuge_id: int
    started_at: AwareDatetime
    program_id: int | None = Field(None, description="The program's settings; else give rcf or rpm, and minutes.")
    rcf: int | None = Field(None, ge=1, description="Speed in x g.")
    rpm: int | None = Field(None, ge=1)
    minutes: int | None = Field(None, ge=1, le=60)
    temperature_c: int | None = Field(None, ge=4, le=37)


class PrepareIn(Input):
    prepared_at: AwareDatetime
    volume_ml: Decimal = decimal_of(Product, "volume_ml", gt=0)
    activation: Activation = Activation.NONE
    platelets_k_per_ul: Decimal | None = decimal_of(Product, "platelets_k_per_ul", None)
    wbc_k_per_ul: Decimal | None = decimal_of(Product, "wbc_k_per_ul", None)
    rbc_m_per_ul: Decimal | None = decimal_of(Product, "rbc_m_per_ul", None)


class VerifyIn(Input):
    patient_code: str = Field(..., min_length=1, max_length=40, description="The wristband scan, PT-<MRN>.")
    product_code: str = Field(..., min_length=1, max_length=40, description="The syringe label scan, PRP-<code>.")


class ZoneIn(Input):
    zone: str = Field(..., min_length=1, max_length=60)
    volume_ml: Decimal = Field(..., gt=0, max_digits=5, decimal_places=2)


class ApplyIn(Input):
    patient_id: int
    visit_id: int
    zones: list[ZoneIn] = Field(..., min_length=1)


class DiscardIn(Input):
    reason: str = Field(..., max_length=300)


class QuarantineIn(Input):
    reason: str = Field(..., max_length=300)


class ReleaseIn(Input):
    # The event records "released: <reason>" in 300 characters.
    reason: str = Field(..., max_length=290)


# --- outputs --------------------------------------------------------------------------------


class PatientOut(Schema):
    id: int
    mrn: str
    full_name: str
    date_of_birth: dt.date


class ProductOut(Schema):
    id: int
    barcode: str
    status: ProductStatus
    patient: PatientOut
    visit_id: int
    drawn_at: dt.datetime
    prepared_at: dt.datetime | None
    expires_at: dt.datetime | None
    volume_ml: Decimal | None

    @staticmethod
    def resolve_visit_id(obj: Product) -> int:
        return obj.draw.visit_id

    @staticmethod
    def resolve_drawn_at(obj: Product) -> dt.datetime:
        return obj.draw.drawn_at


class LotOut(Schema):
    id: int
    product_name: str
    lot_number: str
    expiry_date: dt.date


class DrawOut(Schema):
    drawn_at: dt.datetime
    drawn_by: str
    site: DrawSite
    volume_ml: Decimal
    tube_count: int
    tube_lot: LotOut
    kit_lot: LotOut | None
    anticoagulant: Anticoagulant
    identity_check: IdentityCheck
    platelets_k_per_ul: Decimal | None
    hematocrit_pct: Decimal | None
    wbc_k_per_ul: Decimal | None

    @staticmethod
    def resolve_drawn_by(obj: BloodDraw) -> str:
        return obj.drawn_by.full_name


class SpinOut(Schema):
    number: int
    centrifuge: str
    program: str | None
    rcf: int
    rpm: int
    minutes: int
    temperature_c: int
    started_at: dt.datetime
    ends_at: dt.datetime

    @staticmethod
    def resolve_centrifuge(obj: Spin) -> str:
        return obj.centrifuge.name

    @staticmethod
    def resolve_program(obj: Spin) -> str | None:
        return obj.program.name if obj.program else None


class SpinStartedOut(Schema):
    product: ProductOut
    spin: SpinOut


class ProductDetailOut(ProductOut):
    draw: DrawOut
    spins: list[SpinOut]
    activation: Activation
    platelets_k_per_ul: Decimal | None
    wbc_k_per_ul: Decimal | None
    rbc_m_per_ul: Decimal | None
    prepared_by: str | None

    @staticmethod
    def resolve_spins(obj: Product) -> list[Spin]:
        return list(obj.spins.all())

    @staticmethod
    def resolve_prepared_by(obj: Product) -> str | None:
        return obj.prepared_by.full_name if obj.prepared_by else None


def _rounded(value: Decimal | None, places: str) -> Decimal | None:
    return None if value is None else value.quantize(Decimal(places))


class MeasuresOut(Schema):
    """Null wherever an input count or volume is missing: nothing is estimated."""

    recovery: Decimal | None = Field(..., description="Fraction of the drawn platelets in the PRP (0-1).")
    concentration_factor: Decimal | None = Field(..., description="PRP platelets / whole-blood platelets.")
    dose_billion: Decimal | None = Field(..., description="Platelets in the PRP, 10^9.")
    paw: str | None
    plra: str | None

    @staticmethod
    def resolve_recovery(obj: Measures) -> Decimal | None:
        return _rounded(obj.recovery, "0.001")

    @staticmethod
    def resolve_concentration_factor(obj: Measures) -> Decimal | None:
        return _rounded(obj.concentration_factor, "0.01")

    @staticmethod
    def resolve_dose_billion(obj: Measures) -> Decimal | None:
        return _rounded(obj.dose_billion, "0.01")


class EventOut(Schema):
    from_status: ProductStatus | None
    to_status: ProductStatus
    at: dt.datetime
    actor: str
    reason: str

    @staticmethod
    def resolve_from_status(obj: ProductEvent) -> str | None:
        return obj.from_status or None

    @staticmethod
    def resolve_actor(obj: ProductEvent) -> str:
        return obj.actor.full_name


class VerificationRowOut(Schema):
    id: int
    result: VerificationResult
    reason: str
    at: dt.datetime
    by: str
    scanned_patient_code: str
    scanned_product_code: str
    patient: PatientOut | None = Field(..., description="The patient whose wristband was scanned.")

    @staticmethod
    def resolve_by(obj: Verification) -> str:
        return obj.by.full_name


class VerificationOut(VerificationRowOut):
    message: str
    product: ProductOut | None = Field(..., description="The product after the check, with its donor.")
    incident_id: int | None

    @staticmethod
    def resolve_message(obj: Verification) -> str:
        product, patient = obj.product, obj.patient
        assert product is not None and patient is not None
        if obj.result == VerificationResult.MATCH:
            return f"Match: {product.barcode} is {patient.full_name}'s ({patient.mrn}). It may be applied."
        if obj.result == VerificationResult.MISMATCH:
            donor = product.patient
            return (
                f"STOP, wrong patient: {product.barcode} belongs to {donor.full_name} ({donor.mrn}); the wristband "
                f"scanned is {patient.full_name}'s ({patient.mrn}). The product is quarantined and an incident "
                "recorded; a physician must decide."
            )
        return obj.reason

    @staticmethod
    def resolve_incident_id(obj: Verification) -> int | None:
        if obj.result != VerificationResult.MISMATCH:
            return None
        return obj.incident.pk


class IncidentOut(Schema):
    id: int
    status: IncidentStatus
    reported_at: dt.datetime
    reported_by: str
    donor: PatientOut
    scanned_patient: PatientOut
    resolved_at: dt.datetime | None
    resolved_by: str | None
    resolution_reason: str

    @staticmethod
    def resolve_reported_by(obj: Incident) -> str:
        return obj.reported_by.full_name

    @staticmethod
    def resolve_resolved_by(obj: Incident) -> str | None:
        return obj.resolved_by.full_name if obj.resolved_by else None


class ZoneOut(Schema):
    zone: str
    volume_ml: Decimal


class ApplicationOut(Schema):
    id: int
    product_id: int
    patient: PatientOut
    visit_id: int
    applied_at: dt.datetime
    applied_by: str
    zones: list[ZoneOut]
    volume_applied_ml: Decimal
    remainder_ml: Decimal

    @staticmethod
    def resolve_applied_by(obj: Application) -> str:
        return obj.applied_by.full_name


class TraceOut(Schema):
    product: ProductDetailOut
    measures: MeasuresOut
    events: list[EventOut] = Field(..., description="Every move of the product's state, oldest first.")
    verifications: list[VerificationRowOut]
    incidents: list[IncidentOut]
    application: ApplicationOut | None


# --- operations -----------------------------------------------------------------------------
# Written rows are read back through the selector, so that the answer shows what was stored
# (decimals at the column's places), as the trace will.


@router.post(
    "/draws", response={201: ProductOut}, url_name="api_prp_draw", operation_id="prp_draw", summary="Draw blood"
)
def draw_blood(request: HttpRequest, payload: DrawIn) -> Status[Product]:
    """Record a blood draw on an open visit; the product starts as ``drawn``."""
    product = draw.blood_draw(request=request, **payload.model_dump())
    return Status(201, product_get(request=request, product_id=product.pk))


@router.post(
    "/products/{product_id}/spins",
    response={201: SpinStartedOut},
    url_name="api_prp_spin",
    operation_id="prp_spin",
    summary="Start a spin",
)
def spin_start(request: HttpRequest, product_id: int, payload: SpinIn) -> Status[dict[str, Any]]:
    """Start spin 1 (``drawn`` -> ``spun``) or spin 2, from a program or by hand."""
    started = spin.spin_start(request=request, product_id=product_id, **payload.model_dump())
    return Status(201, {"product": product_get(request=request, product_id=product_id), "spin": started})


@router.post(
    "/products/{product_id}/prepare",
    response=ProductOut,
    url_name="api_prp_prepare",
    operation_id="prp_prepare",
    summary="Prepare the PRP",
)
def prepare(request: HttpRequest, product_id: int, payload: PrepareIn) -> Product:
    """Record the PRP drawn off after the last spin: ``spun`` -> ``prepared``; its expiry starts."""
    spin.product_prepare(request=request, product_id=product_id, **payload.model_dump())
    return product_get(request=request, product_id=product_id)


@router.post(
    "/verifications",
    response={200: VerificationOut, 409: VerificationOut},
    url_name="api_prp_verify",
    operation_id="prp_verify",
    summary="Verify at the bedside",
)
def verify(request: HttpRequest, payload: VerifyIn) -> Status[Verification]:
    """Check the scanned wristband against the scanned syringe at the bedside.

    200 with ``result: match`` (product -> ``verified``); 409 with ``result: mismatch`` (a
    wrong patient: product quarantined, incident recorded, both patients named) or
    ``refused`` (expired, quarantined, not prepared...: nothing moves). Unknown codes: 422.
    """
    verification = bedside.product_verify_at_bedside(request=request, **payload.model_dump())
    return Status(200 if verification.result == VerificationResult.MATCH else 409, verification)


@router.post(
    "/products/{product_id}/apply",
    response={201: ApplicationOut},
    url_name="api_prp_apply",
    operation_id="prp_apply",
    summary="Apply the PRP",
)
def apply(request: HttpRequest, product_id: int, payload: ApplyIn) -> Status[Application]:
    """Record the PRP given, zone by zone, to the patient it was verified against."""
    zones = [{"zone": zone.zone, "volume_ml": str(zone.volume_ml)} for zone in payload.zones]
    application = bedside.product_apply(
        request=request, product_id=product_id, patient_id=payload.patient_id, visit_id=payload.visit_id, zones=zones
    )
    application.refresh_from_db()
    return Status(201, application)


@router.post(
    "/products/{product_id}/discard",
    response=ProductOut,
    url_name="api_prp_discard",
    operation_id="prp_discard",
    summary="Discard",
)
def discard(request: HttpRequest, product_id: int, payload: DiscardIn) -> Product:
    """Discard a product before it is applied (a quarantined one: physicians only)."""
    bedside.product_discard(request=request, product_id=product_id, reason=payload.reason)
    return product_get(request=request, product_id=product_id)


@router.post(
    "/products/{product_id}/quarantine",
    response=ProductOut,
    url_name="api_prp_quarantine",
    operation_id="prp_quarantine",
    summary="Quarantine",
)
def quarantine(request: HttpRequest, product_id: int, payload: QuarantineIn) -> Product:
    """Hold a product back until a physician decides."""
    bedside.product_quarantine(request=request, product_id=product_id, reason=payload.reason)
    return product_get(request=request, product_id=product_id)


@router.post(
    "/products/{product_id}/release",
    response=ProductOut,
    url_name="api_prp_release",
    operation_id="prp_release",
    summary="Release from quarantine",
)
def release(request: HttpRequest, product_id: int, payload: ReleaseIn) -> Product:
    """A physician releases a quarantined product to the state it left (a verified one to ``prepared``)."""
    bedside.product_release(request=request, product_id=product_id, reason=payload.reason)
    return product_get(request=request, product_id=product_id)


@router.get(
    "/products/{product_id}/trace",
    response=TraceOut,
    url_name="api_prp_trace",
    operation_id="prp_trace",
    summary="Trace a product",
)
def trace(request: HttpRequest, product_id: int) -> dict[str, object]:
    """Everything about one product, draw to application or disposal; the read is audited."""
    access.require(request, "prp.view")
    context = product_trace(request=request, product_id=product_id)
    product = context["product"]
    assert isinstance(product, Product)
    audit_record(action="prp.trace_view", request=request, obj=product)
    return context
