"""At the bedside: verify patient and product, apply, and handle what goes wrong.

A wrong-patient scan is a hard stop: an incident is recorded and the product quarantined
until a physician releases it (with a reason) or discards it. Application needs a match of
this very product with this very patient, and an unexpired product.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils import timezone

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.patients.models import Patient
from prpclinic.prp.models import (
    PATIENT_PREFIX,
    PRODUCT_PREFIX,
    TUBE_MARK,
    Application,
    Incident,
    IncidentStatus,
    Product,
    ProductStatus,
    Verification,
    VerificationResult,
)
from prpclinic.prp.services.state import product_for_update, product_move
from prpclinic.visits.models import Visit, VisitStatus


def classify_scan(code: str) -> str:
    """ "patient", "product", "tube" or "unknown": which field a scanned code belongs to."""
    code = code.strip().upper()
    if code.startswith(PATIENT_PREFIX):
        return "patient"
    if code.startswith(PRODUCT_PREFIX):
        return "tube" if TUBE_MARK in code[len(PRODUCT_PREFIX) :] else "product"
    return "unknown"


def _record_scan(
    request: HttpRequest,
    product: Product,
    patient: Patient,
    codes: tuple[str, str],
    result: str,
    at: Any,
    reason: str = "",
) -> Verification:
    return Verification.objects.create(
        clinic=request.clinic,
        product=product,
        patient=patient,
        scanned_patient_code=codes[0],
        scanned_product_code=codes[1],
        result=result,
        reason=reason,
        by=request.user,
        at=at,
    )


def _refuse(
    request: HttpRequest, product: Product, patient: Patient, codes: tuple[str, str], reason: str, at: Any
) -> Verification:
    verification = _record_scan(request, product, patient, codes, VerificationResult.REFUSED, at, reason)
    audit_record(action="prp.verify_refused", request=request, obj=product, changes={"reason": reason})
    return verification


def product_verify_at_bedside(*, request: HttpRequest, patient_code: str, product_code: str) -> Verification:
    """Match the scanned patient against the scanned product.

    Returns the Verification: ``match`` (product -> verified), ``mismatch`` (incident
    recorded, product -> quarantined) or ``refused`` (expired, discarded, quarantined, not yet
    prepared, already verified or applied; nothing moves). Unknown or misplaced codes raise
    ValidationError and record nothing.
    """
    access.require(request, "prp.handle")
    patient_code, product_code = patient_code.strip().upper(), product_code.strip().upper()
    errors: dict[str, str] = {}
    if classify_scan(patient_code) != "patient":
        errors["patient_code"] = "This is not a patient wristband barcode (it starts with PT-)."
    kind = classify_scan(product_code)
    if kind == "tube":
        errors["product_code"] = "This is a tube label. Scan the label on the PRP syringe."
    elif kind != "product":
        errors["product_code"] = "This is not a PRP product barcode (it starts with PRP-)."
    if errors:
        raise ValidationError(errors)
    codes = (patient_code, product_code)
    with transaction.atomic():
        patient = Patient.objects.filter(clinic=request.clinic, mrn__iexact=patient_code[len(PATIENT_PREFIX) :]).first()
        if patient is None:
            raise ValidationError({"patient_code": "No patient of this clinic has this wristband."})
        product_id = (
            Product.objects.filter(clinic=request.clinic, code=product_code[len(PRODUCT_PREFIX) :])
            .values_list("pk", flat=True)
            .first()
        )
        if product_id is None:
            raise ValidationError({"product_code": "No product of this clinic has this barcode."})
        product = product_for_update(request=request, product_id=product_id)
        now = timezone.now()  # one clock read under the lock: the check and the record agree
        if product.patient_id != patient.pk:
            reason = f"product belongs to {product.patient.mrn}, patient scanned is {patient.mrn}"
            verification = _record_scan(request, product, patient, codes, VerificationResult.MISMATCH, now, reason)
            Incident.objects.create(
                clinic=request.clinic,
                product=product,
                verification=verification,
                donor=product.patient,
                scanned_patient=patient,
                reported_by=request.user,
                reported_at=now,
            )
            if product.status not in (ProductStatus.APPLIED, ProductStatus.DISCARDED, ProductStatus.QUARANTINED):
                product_move(
                    request=request,
                    product=product,
                    to=ProductStatus.QUARANTINED,
                    reason=f"wrong patient scanned at the bedside ({patient.mrn} instead of {product.patient.mrn})",
                )
            audit_record(action="prp.incident", request=request, obj=product, changes={"scanned_patient": patient.mrn})
            return verification
        if product.status != ProductStatus.PREPARED:
            reasons = {
                ProductStatus.DRAWN: "it has not been spun and prepared yet",
                ProductStatus.SPUN: "it has not been prepared yet",
                ProductStatus.VERIFIED: "it was already verified; apply it or discard it",
                ProductStatus.APPLIED: "it was already applied",
                ProductStatus.DISCARDED: "it was discarded",
                ProductStatus.QUARANTINED: "it is quarantined after an incident; a physician must release it",
            }
            return _refuse(
                request, product, patient, codes, f"Do not use this product: {reasons[product.status]}.", now
            )
        if product.is_expired(now):
            local = timezone.localtime(product.expires_at)
            return _refuse(
                request, product, patient, codes, f"Do not use this product: it expired at {local:%Y-%m-%d %H:%M}.", now
            )
        verification = _record_scan(request, product, patient, codes, VerificationResult.MATCH, now)
        product_move(request=request, product=product, to=ProductStatus.VERIFIED)
    return verification


def _zones(zones: list[dict[str, Any]]) -> list[dict[str, str]]:
    cleaned = []
    for entry in zones:
        name = str(entry.get("zone", "")).strip()
        try:
            volume = Decimal(str(entry.get("volume_ml", "")))
        except InvalidOperation:
            raise ValidationError({"zones": f"The volume for {name or 'a zone'} is not a number."}) from None
        if not name:
            raise ValidationError({"zones": "Name each zone."})
        if volume <= 0:
            raise ValidationError({"zones": f"The volume for {name} must be more than 0 mL."})
        cleaned.append({"zone": name[:60], "volume_ml": str(volume.quantize(Decimal("0.01")))})
    if not cleaned:
        raise ValidationError({"zones": "Record at least one zone and its volume."})
    return cleaned


def product_apply(
    *,
    request: HttpRequest,
    product_id: int,
    patient_id: int,
    visit_id: int,
    zones: list[dict[str, Any]],
) -> Application:
    """Record the PRP given to the patient it was verified against.

    Requires: status ``verified``; the latest verification a match of this product with this
    patient; the visit is this patient's; now before expiry; volumes within the product.
    Side effects: Application (with the remainder disposed by the same nurse now), product ->
    ``applied``, audit ``prp.apply``.
    """
    access.require(request, "prp.handle")
    cleaned = _zones(zones)
    total = sum((Decimal(z["volume_ml"]) for z in cleaned), Decimal(0))
    with transaction.atomic():
        product = product_for_update(request=request, product_id=product_id)
        if product.status != ProductStatus.VERIFIED:
            raise ValidationError(
                f"Product {product.barcode} is {product.get_status_display().lower()}: "
                "only a product verified at the bedside is applied."
            )
        # The match that verified it: refused re-checks since change nothing, and a wrong-patient
        # scan would have quarantined the product (it would not be "verified" here).
        verification = product.verifications.filter(result=VerificationResult.MATCH).order_by("-at", "-id").first()
        if verification is None or verification.patient_id != product.patient_id:
            raise ValidationError("There is no matching bedside verification for this product.")
        if patient_id != product.patient_id:
            raise ValidationError("This product was verified for another patient. It cannot be applied here.")
        visit = Visit.objects.filter(pk=visit_id, clinic=request.clinic).first()
        if visit is None:
            raise Http404("No such visit in this clinic.")
        if visit.patient_id != product.patient_id:
            raise ValidationError("This visit is another patient's.")
        if visit.status != VisitStatus.OPEN:
            raise ValidationError("This visit is closed; the application cannot be recorded on it.")
        now = timezone.now()  # one clock read under the lock: the check and the record agree
        if product.is_expired(now):
            raise ValidationError(
                f"Product {product.barcode} expired at {timezone.localtime(product.expires_at):%H:%M}. Discard it."
            )
        assert product.volume_ml is not None
        if total > product.volume_ml:
            raise ValidationError({"zones": f"{total} mL is more than the {product.volume_ml} mL prepared."})
        remainder = product.volume_ml - total
        application = Application.objects.create(
            clinic=request.clinic,
            product=product,
            verification=verification,
            patient=product.patient,
            visit=visit,
            applied_by=request.user,
            applied_at=now,
            zones=cleaned,
            volume_applied_ml=total,
            remainder_ml=remainder,
            remainder_disposed_by=request.user if remainder > 0 else None,
            remainder_disposed_at=now if remainder > 0 else None,
        )
        product_move(request=request, product=product, to=ProductStatus.APPLIED)
        audit_record(
            action="prp.apply",
            request=request,
            obj=product,
            changes={"zones": cleaned, "applied_ml": total, "remainder_ml": remainder, "visit": visit.pk},
        )
    return application


def product_discard(*, request: HttpRequest, product_id: int, reason: str) -> Product:
    """Discard a product before it is applied (expired, spilled, not needed). Audited with why."""
    access.require(request, "prp.handle")
    with transaction.atomic():
        product = product_for_update(request=request, product_id=product_id)
        if product.status == ProductStatus.QUARANTINED:
            access.require(request, "prp.release")
            _close_incidents(request, product, IncidentStatus.DISCARDED, reason)
        product_move(request=request, product=product, to=ProductStatus.DISCARDED, reason=reason)
    return product


def product_quarantine(*, request: HttpRequest, product_id: int, reason: str) -> Product:
    """Hold a product back (a doubt about it) until a physician decides."""
    access.require(request, "prp.handle")
    with transaction.atomic():
        product = product_for_update(request=request, product_id=product_id)
        product_move(request=request, product=product, to=ProductStatus.QUARANTINED, reason=reason)
    return product


def product_release(*, request: HttpRequest, product_id: int, reason: str) -> Product:
    """A physician releases a quarantined product to the state it left, with a reason.

    A product released after a wrong-patient scan that had been verified returns to
    ``prepared``: it must be verified again at the bedside of its donor.
    """
    access.require(request, "prp.release")
    if not reason.strip():
        raise ValidationError({"reason": "Say why the product is safe to use."})
    with transaction.atomic():
        product = product_for_update(request=request, product_id=product_id)
        if product.status != ProductStatus.QUARANTINED:
            raise ValidationError(f"Product {product.barcode} is not quarantined.")
        back = product.status_before_quarantine or ProductStatus.DRAWN
        if back == ProductStatus.VERIFIED:
            back = ProductStatus.PREPARED
        _close_incidents(request, product, IncidentStatus.RELEASED, reason)
        product_move(request=request, product=product, to=back, reason=f"released: {reason.strip()}")
    return product


def _close_incidents(request: HttpRequest, product: Product, status: str, reason: str) -> None:
    Incident.objects.filter(product=product, status=IncidentStatus.OPEN).update(
        status=status, resolved_by=request.user, resolved_at=timezone.now(), resolution_reason=reason.strip()
    )


def incident_close(*, request: HttpRequest, incident_id: int, reason: str) -> Incident:
    """A physician closes an incident whose product was not held back (it was already applied or
    discarded when the wrong wristband was scanned): reviewed, with a reason. Audited."""
    access.require(request, "prp.release")
    if not reason.strip():
        raise ValidationError({"reason": "Say what was found."})
    with transaction.atomic():
        incident = Incident.objects.select_for_update().filter(pk=incident_id, clinic=request.clinic).first()
        if incident is None:
            raise Http404("No such incident.")
        if incident.status != IncidentStatus.OPEN:
            raise ValidationError("This incident is already closed.")
        product = product_for_update(request=request, product_id=incident.product_id)
        if product.status == ProductStatus.QUARANTINED:
            raise ValidationError("The product is quarantined: release it or discard it instead.")
        incident.status = IncidentStatus.CLOSED
        incident.resolved_by, incident.resolved_at, incident.resolution_reason = (
            request.user,
            timezone.now(),
            reason.strip(),
        )
        incident.save(update_fields=["status", "resolved_by", "resolved_at", "resolution_reason"])
        audit_record(action="prp.incident_close", request=request, obj=incident, changes={"reason": reason.strip()})
    return incident


def incident_get(*, request: HttpRequest, incident_id: int) -> Incident:
    incident = (
        Incident.objects.select_related("product", "donor", "scanned_patient")
        .filter(pk=incident_id, clinic=request.clinic)
        .first()
    )
    if incident is None:
        raise Http404("No such incident.")
    return incident
