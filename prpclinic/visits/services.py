"""Starting visits, charting their zones and completing them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils import timezone

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.patients.selectors import patient_get
from prpclinic.treatments.models import Cocktail, VialLot
from prpclinic.treatments.plans import plan_session_for_visit
from prpclinic.treatments.selectors import current_protocol
from prpclinic.visits import gates, rules, selectors
from prpclinic.visits.models import BodyMap, TreatmentKind, Visit, VisitStatus, ZoneEntry


def visit_start(*, request: HttpRequest, patient_id: int, treatment: str, plan_session_id: int | None = None) -> Visit:
    """Open a visit for an active patient, with the signed-in clinician, under the current protocol. Audited.

    Refused while the patient's screening or consent for this treatment does not allow it
    (``visits.gates``): the visit row is never created, so nothing downstream can begin.
    Side effects: the visit row; audit ``visit.start``; the next open session of the patient's
    active plan of this treatment (or ``plan_session_id``, the session an appointment was booked
    for) is linked to the visit (``plan.session_link``).
    """
    access.require(request, "visit.start")
    with transaction.atomic():
        patient = patient_get(request=request, patient_id=patient_id)  # another clinic's: 404 first
        if treatment not in TreatmentKind.values:
            raise ValidationError({"treatment": "Choose a treatment."})
        if not patient.is_active:
            raise ValidationError("This patient's record is deactivated.")
        blockers = gates.start_blockers(clinic_id=request.clinic.pk, patient_id=patient.pk, treatment=treatment)
        if blockers:
            raise ValidationError(blockers)
        # The visit keeps the protocol version it was done under, whatever the catalogue becomes.
        protocol = current_protocol(clinic_id=request.clinic.pk, kind=treatment)
        visit = Visit.objects.create(
            clinic=request.clinic, patient=patient, treatment=treatment, clinician=request.user, protocol=protocol
        )
        audit_record(
            action="visit.start",
            request=request,
            obj=visit,
            changes={"treatment": treatment, "protocol": protocol.pk, "protocol_version": protocol.version},
        )
        # The visit takes the next open session of the patient's series, so the plan shows "session 2 of 4".
        plan_session_for_visit(visit=visit, request=request, session_id=plan_session_id)
    return visit


class WarningsToAcknowledge(ValidationError):
    """The entry is possible but outside the protocol: shown to the clinician, saved once acknowledged."""

    def __init__(self, warnings: list[dict[str, str]]) -> None:
        super().__init__([w["message"] for w in warnings])
        self.warnings = warnings


def _visit_for_update(request: HttpRequest, visit_id: int) -> Visit:
    # The row lock serialises charting and completion of one visit: a zone cannot be charted
    # while another request completes the visit, and two corrections of a zone do not interleave.
    visit = Visit.objects.select_for_update().filter(pk=visit_id, clinic=request.clinic).first()
    if visit is None:
        raise Http404("No such visit in this clinic.")
    return visit


def _require_open(visit: Visit) -> None:
    if visit.status == VisitStatus.COMPLETED:
        raise ValidationError("This visit is completed: its chart can no longer change.")
    if visit.status != VisitStatus.OPEN:
        raise ValidationError("This visit was cancelled: nothing can be charted on it.")


def _choice_label(options: list[dict[str, Any]], code: str) -> str | None:
    return next((str(o.get("label") or code) for o in options if o.get("code") == code), None)


def _depth_range(protocol: Any, code: str, *, mesotherapy: bool) -> rules.DepthRange:
    found = protocol.zone_depth_range(code)
    if found is None and mesotherapy:
        # The protocol's mid-dermis parameter stands in for zones without their own range.
        mid = (protocol.parameters or {}).get("mid_dermis_depth_mm") or {}
        if mid.get("min") is not None and mid.get("max") is not None:
            found = (Decimal(str(mid["min"])), Decimal(str(mid["max"])))
    return rules.DepthRange(*found) if found else rules.DepthRange(None, None)


def _application_for(visit: Visit, application_id: int | None, findings: rules.Findings) -> Any:
    applications = list(visit.prp_applications.filter(clinic_id=visit.clinic_id).select_related("product"))
    if application_id:
        chosen = next((a for a in applications if a.pk == application_id), None)
        if chosen is None:
            findings.refuse("application", "This PRP product was not applied in this visit.")
        return chosen
    if len(applications) > 1:
        findings.refuse("application", "Several PRP products were applied in this visit: choose the one used here.")
        return None
    # None yet: the zone is charted; completion refuses until the applied PRP adds up.
    return applications[0] if applications else None


def _microneedling_values(
    *, findings: rules.Findings, protocol: Any, label: str, zone_range: rules.DepthRange, depth_mm: Decimal | None,
    passes: int | None, device: str, cartridge_lot: str, technique: str, prp_volume_ml: Decimal | None,
) -> dict[str, Any]:  # fmt: skip
    """Device, depth within the device (warned outside the zone range), passes, optional PRP volume."""
    device_label = _choice_label(protocol.devices, device)
    if device_label is None:
        findings.refuse("device", "Choose the device used.")
    rules.check_depth(
        findings,
        depth=depth_mm,
        zone_label=label,
        zone_range=zone_range,
        device_label=(device_label or "").lower(),
        device_max=protocol.device_max_depth(device) if device_label else None,
    )
    rules.check_count(findings, field_name="passes", value=passes, what="passes")
    rules.check_volume(findings, field_name="prp_volume_ml", value=prp_volume_ml, required=False)
    technique_label = _choice_label(protocol.techniques, technique)  # optional here
    return {
        "passes": passes,
        "device": device,
        "device_label": device_label or "",
        "cartridge_lot": cartridge_lot.strip()[:60],
        "technique": technique if technique_label else "",
        "technique_label": technique_label or "",
        "prp_volume_ml": prp_volume_ml,
    }


def _scalp_values(
    *, findings: rules.Findings, protocol: Any, label: str, zone_range: rules.DepthRange, depth_mm: Decimal | None,
    injections: int | None, technique: str, prp_volume_ml: Decimal | None,
) -> dict[str, Any]:  # fmt: skip
    """Injections, depth (warned outside the zone range), technique, PRP volume."""
    technique_label = _choice_label(protocol.techniques, technique)
    if technique_label is None:
        findings.refuse("technique", "Choose the technique used.")
    rules.check_count(findings, field_name="injections", value=injections, what="injections")
    rules.check_depth(findings, depth=depth_mm, zone_label=label, zone_range=zone_range)
    rules.check_volume(findings, field_name="prp_volume_ml", value=prp_volume_ml, required=True)
    return {
        "injections": injections,
        "technique": technique,
        "technique_label": technique_label or "",
        "prp_volume_ml": prp_volume_ml,
    }


def _mesotherapy_values(
    *, findings: rules.Findings, protocol: Any, label: str, zone_range: rules.DepthRange, clinic_id: int,
    depth_mm: Decimal | None, technique: str, cocktail_id: int | None, vial_lot_id: int | None,
    volume_ml: Decimal | None,
) -> dict[str, Any]:  # fmt: skip
    """Cocktail, an unexpired vial lot of it, depth inside the mid-dermis range (refused outside), volume."""
    technique_label = _choice_label(protocol.techniques, technique)
    if technique_label is None:
        findings.refuse("technique", "Choose the technique used.")
    cocktail = Cocktail.objects.filter(pk=cocktail_id, clinic_id=clinic_id).first() if cocktail_id else None
    if cocktail is None:
        findings.refuse("cocktail", "Choose the cocktail from the formulary.")
    vial_lot = VialLot.objects.filter(pk=vial_lot_id, clinic_id=clinic_id).first() if vial_lot_id else None
    if vial_lot is None:
        findings.refuse("vial_lot", "Choose the vial lot used.")
    elif cocktail is not None and vial_lot.cocktail_id != cocktail.pk:
        findings.refuse("vial_lot", f"Lot {vial_lot.lot_number} is not a lot of {cocktail.name}.")
    elif vial_lot.is_expired():
        findings.refuse(
            "vial_lot", f"Vial lot {vial_lot.lot_number} expired on {vial_lot.expiry_date:%Y-%m-%d}: do not use it."
        )
    rules.check_depth(findings, depth=depth_mm, zone_label=label, zone_range=zone_range, mid_dermis=True)
    rules.check_volume(findings, field_name="volume_ml", value=volume_ml, required=True)
    return {
        "technique": technique,
        "technique_label": technique_label or "",
        "cocktail": cocktail,
        "vial_lot": vial_lot,
        "volume_ml": volume_ml,
    }


def zone_chart(
    *,
    request: HttpRequest,
    visit_id: int,
    zone: str,
    depth_mm: Decimal | None = None,
    passes: int | None = None,
    injections: int | None = None,
    device: str = "",
    cartridge_lot: str = "",
    technique: str = "",
    cocktail_id: int | None = None,
    vial_lot_id: int | None = None,
    volume_ml: Decimal | None = None,
    prp_volume_ml: Decimal | None = None,
    application_id: int | None = None,
    note: str = "",
    acknowledge_warnings: bool = False,
    correction_reason: str = "",
) -> ZoneEntry:
    """Chart one zone of an open visit, or correct its current entry.

    Micro-needling needs depth, passes and device (depth refused at or below 0, beyond the
    device, or beyond any needle; warned outside the zone's protocol range); scalp PRP needs
    injections, depth and technique (warned likewise); mesotherapy needs cocktail, an unexpired
    vial lot of it, a depth inside the protocol's mid-dermis range (refused outside it) and the
    volume, and the ``visit.mesotherapy`` permission (physicians).

    PRP charted on a zone is linked to the visit's PRP application it came from (the product
    in the chain of custody): the one chosen, or the only one; with several, one must be chosen.

    Raises ``WarningsToAcknowledge`` while warnings are not acknowledged (nothing saved).
    Side effects: a new ZoneEntry (acknowledged warnings stored on it); a correction needs a
    reason, marks the previous entry not current and links the new one to it; sets the visit's
    protocol when an older visit had none; audit ``visit.chart`` or ``visit.chart_correct``.
    """
    access.require(request, "visit.chart")
    with transaction.atomic():
        visit = _visit_for_update(request, visit_id)
        mesotherapy = visit.treatment == TreatmentKind.MESOTHERAPY
        if mesotherapy:
            access.require(request, "visit.mesotherapy")
        _require_open(visit)
        protocol = selectors.protocol_of(visit)
        spec = protocol.zone(zone)
        if spec is None or spec.get("map") not in BodyMap.values:
            raise ValidationError(f"The protocol of this visit has no zone {zone!r} on the face or scalp map.")
        label = str(spec.get("label") or zone)
        findings = rules.Findings()
        zone_range = _depth_range(protocol, zone, mesotherapy=mesotherapy)
        common = {"findings": findings, "protocol": protocol, "label": label, "zone_range": zone_range}
        values: dict[str, Any] = {"depth_mm": depth_mm, "note": note.strip()[:300]}
        if visit.treatment == TreatmentKind.MICRONEEDLING_PRP:
            values |= _microneedling_values(
                **common, depth_mm=depth_mm, passes=passes, device=device, cartridge_lot=cartridge_lot,
                technique=technique, prp_volume_ml=prp_volume_ml,
            )  # fmt: skip
        elif visit.treatment == TreatmentKind.PRP_SCALP:
            values |= _scalp_values(
                **common, depth_mm=depth_mm, injections=injections, technique=technique, prp_volume_ml=prp_volume_ml
            )
        else:
            values |= _mesotherapy_values(
                **common, clinic_id=request.clinic.pk, depth_mm=depth_mm, technique=technique,
                cocktail_id=cocktail_id, vial_lot_id=vial_lot_id, volume_ml=volume_ml,
            )  # fmt: skip
        if values.get("prp_volume_ml"):
            values["application"] = _application_for(visit, application_id, findings)
        previous = (
            ZoneEntry.objects.filter(clinic=request.clinic, visit=visit, zone=zone, is_current=True)
            .select_for_update()
            .first()
        )
        reason = correction_reason.strip()[:300]
        if previous is not None and not reason:
            findings.refuse(
                "correction_reason", f"{label} is already charted: say why you correct it (the old entry is kept)."
            )
        if findings.errors:
            raise ValidationError(findings.errors)
        if findings.warnings and not acknowledge_warnings:
            raise WarningsToAcknowledge(findings.warnings)
        if visit.protocol_id is None:
            visit.protocol = protocol
            visit.save(update_fields=["protocol"])
        if previous is not None:
            previous.is_current = False
            previous.save(update_fields=["is_current"])
        entry = ZoneEntry(
            clinic=request.clinic,
            visit=visit,
            map=spec.get("map", ""),
            zone=zone,
            zone_label=label,
            warnings=findings.warnings,
            supersedes=previous,
            correction_reason=reason if previous is not None else "",
            entered_by=request.user,
            **values,
        )
        entry.full_clean()
        entry.save()
        changes = {
            k: (str(v) if isinstance(v, Decimal) else getattr(v, "pk", v))
            for k, v in values.items()
            if v not in (None, "")
        }
        changes |= {"zone": zone, "warnings": [w["message"] for w in findings.warnings]}
        if previous is not None:
            changes |= {"supersedes": previous.pk, "reason": reason}
        audit_record(
            action="visit.chart_correct" if previous is not None else "visit.chart",
            request=request,
            obj=entry,
            changes=changes,
        )
    return entry


def visit_complete(*, request: HttpRequest, visit_id: int) -> Visit:
    """Complete an open visit; from then on its chart is read-only.

    Refused while nothing is charted, or while the PRP charted on the zones does not add up to
    the PRP applied in this visit (within ``selectors.PRP_TOLERANCE_ML``); the message gives
    both sums. Side effects: status ``completed``, ``completed_at`` now, ``completed_by`` the
    signed-in clinician; audit ``visit.complete`` with the sums. A planned session of a
    treatment plan linked to this visit counts as done from then on (the treatments app reads
    the visit's status); when it was the plan's last session, the plan becomes completed.
    """
    access.require(request, "visit.complete")
    with transaction.atomic():
        visit = _visit_for_update(request, visit_id)
        _require_open(visit)
        charting = selectors.visit_charting(clinic_id=request.clinic.pk, visit_id=visit.pk, visit=visit)
        if not charting.entries:
            raise ValidationError("Nothing is charted for this visit yet: chart the treated zones first.")
        if not charting.prp_balanced:
            raise ValidationError(
                f"The PRP charted on the zones ({charting.prp_charted_ml} mL) does not add up to the PRP "
                f"applied in this visit ({charting.prp_applied_ml} mL). Correct the zones before completing."
            )
        visit.status = VisitStatus.COMPLETED
        visit.completed_at = timezone.now()
        visit.completed_by = request.user
        visit.full_clean()
        visit.save(update_fields=["status", "completed_at", "completed_by"])
        audit_record(
            action="visit.complete",
            request=request,
            obj=visit,
            changes={
                "zones": len(charting.entries),
                "prp_charted_ml": str(charting.prp_charted_ml),
                "prp_applied_ml": str(charting.prp_applied_ml),
            },
        )
        # The last session of a series done: the plan completes with it.
        plan_session_for_visit(visit=visit, request=request)
    return visit
