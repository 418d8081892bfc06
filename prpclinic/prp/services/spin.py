"""Spinning the tubes, and preparing the PRP that comes out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.planner.rcf import rcf_from_rpm, rpm_from_rcf
from prpclinic.prp.limits import out_of_range
from prpclinic.prp.models import Activation, Centrifuge, Product, ProductStatus, Spin, SpinProgram
from prpclinic.prp.services.draw import check_not_future
from prpclinic.prp.services.state import product_for_update, product_move


def spin_settings(*, centrifuge: Centrifuge, rcf: int | None, rpm: int | None) -> tuple[int, int]:
    """(g, RPM) from whichever was given, checked against the device's maximum speed."""
    radius = float(centrifuge.rotor_radius_cm)
    if rcf is None and rpm is None:
        raise ValidationError({"rcf": "Give the speed, as g or as RPM."})
    if rpm is None:
        assert rcf is not None
        rpm = round(rpm_from_rcf(rcf, radius))
    if rcf is None:
        rcf = round(rcf_from_rpm(rpm, radius))
    if rpm <= 0:
        raise ValidationError({"rcf": "The speed must be more than 0."})
    if rpm > centrifuge.max_rpm:
        raise ValidationError(
            {"rcf": f"{rcf} g needs {rpm} RPM on this rotor; {centrifuge.name} goes up to {centrifuge.max_rpm} RPM."}
        )
    return rcf, rpm


def spin_start(
    *,
    request: HttpRequest,
    product_id: int,
    centrifuge_id: int,
    started_at: dt.datetime,
    program_id: int | None = None,
    rcf: int | None = None,
    rpm: int | None = None,
    minutes: int | None = None,
    temperature_c: int | None = None,
) -> Spin:
    """Start spin 1 (product ``drawn`` -> ``spun``) or spin 2 (product stays ``spun``).

    Settings come from the program (its spin 1 or 2) or are entered by hand. A device out of
    service is refused; an overdue calibration is allowed but recorded in the audit event.
    """
    access.require(request, "prp.handle")
    with transaction.atomic():
        product = product_for_update(request=request, product_id=product_id)
        centrifuge = Centrifuge.objects.filter(pk=centrifuge_id, clinic=request.clinic).first()
        if centrifuge is None:
            raise ValidationError({"centrifuge": "Choose a centrifuge of this clinic."})
        if not centrifuge.in_service:
            raise ValidationError(
                {
                    "centrifuge": f"{centrifuge.name} is out of service: "
                    f"{centrifuge.out_of_service_reason or 'no reason given'}."
                }
            )
        previous = list(product.spins.order_by("number"))
        number = len(previous) + 1
        if product.status == ProductStatus.DRAWN and number != 1:
            raise ValidationError("This product's spins are inconsistent.")
        if product.status not in (ProductStatus.DRAWN, ProductStatus.SPUN) or number > 2:
            raise ValidationError(
                f"Product {product.barcode} cannot be spun now ({product.get_status_display().lower()})."
            )
        program = None
        if program_id is not None:
            program = SpinProgram.objects.filter(pk=program_id, centrifuge=centrifuge, is_active=True).first()
            if program is None:
                raise ValidationError({"program": "Choose a program of this centrifuge."})
            if number > program.spins:
                raise ValidationError({"program": f"{program.name} has only one spin."})
            rcf = program.spin1_rcf if number == 1 else program.spin2_rcf
            rpm = program.spin1_rpm if number == 1 else program.spin2_rpm
            minutes = program.spin1_minutes if number == 1 else program.spin2_minutes
            temperature_c = program.temperature_c
        if not minutes or minutes < 1 or minutes > 60:
            raise ValidationError({"minutes": "A spin lasts 1 to 60 minutes."})
        rcf, rpm = spin_settings(centrifuge=centrifuge, rcf=rcf, rpm=rpm)
        check_not_future(started_at, "started_at")
        if started_at < product.draw.drawn_at:
            raise ValidationError({"started_at": "A spin cannot start before the blood was drawn."})
        if previous and started_at < previous[-1].ends_at:
            raise ValidationError({"started_at": "Spin 2 cannot start before spin 1 has finished."})
        spin = Spin.objects.create(
            clinic=request.clinic,
            product=product,
            number=number,
            centrifuge=centrifuge,
            program=program,
            rcf=rcf,
            rpm=rpm,
            minutes=minutes,
            temperature_c=temperature_c if temperature_c is not None else 22,
            started_at=started_at,
            ends_at=started_at + dt.timedelta(minutes=minutes),
            started_by=request.user,
        )
        if product.status == ProductStatus.DRAWN:
            product_move(request=request, product=product, to=ProductStatus.SPUN)
        audit_record(
            action="prp.spin",
            request=request,
            obj=product,
            changes={
                "spin": number,
                "centrifuge": centrifuge.serial_number,
                "rcf": rcf,
                "rpm": rpm,
                "minutes": minutes,
                "calibration_overdue": centrifuge.calibration_overdue,
            },
        )
    return spin


def product_prepare(
    *,
    request: HttpRequest,
    product_id: int,
    prepared_at: dt.datetime,
    volume_ml: Decimal,
    activation: str = Activation.NONE,
    platelets_k_per_ul: Decimal | None = None,
    wbc_k_per_ul: Decimal | None = None,
    rbc_m_per_ul: Decimal | None = None,
) -> Product:
    """The PRP is drawn off and measured: ``spun`` -> ``prepared``, expiry starts.

    Expiry = preparation time + the clinic's limit (default 4 h). Refused while a spin is
    still running, for a volume above what was drawn, or for implausible counts.
    """
    access.require(request, "prp.handle")
    with transaction.atomic():
        product = product_for_update(request=request, product_id=product_id)
        if product.status != ProductStatus.SPUN:
            raise ValidationError(
                f"Product {product.barcode} is {product.get_status_display().lower()}; only a spun product is prepared."
            )
        last_spin = product.spins.order_by("-number").first()
        assert last_spin is not None
        errors: dict[str, str] = {}
        check_not_future(prepared_at, "prepared_at")
        if prepared_at < last_spin.ends_at:
            errors["prepared_at"] = (
                f"Spin {last_spin.number} ends at {timezone.localtime(last_spin.ends_at):%H:%M}; prepare after it."
            )
        if volume_ml <= 0:
            errors["volume_ml"] = "The volume must be more than 0 mL."
        elif volume_ml > product.draw.volume_ml:
            errors["volume_ml"] = f"{volume_ml} mL of PRP is more than the {product.draw.volume_ml} mL of blood drawn."
        for field, limit, value, label in (
            ("platelets_k_per_ul", "prp_platelets_k_per_ul", platelets_k_per_ul, "A PRP platelet count"),
            ("wbc_k_per_ul", "prp_wbc_k_per_ul", wbc_k_per_ul, "A PRP white cell count"),
            ("rbc_m_per_ul", "prp_rbc_m_per_ul", rbc_m_per_ul, "A PRP red cell count"),
        ):
            message = out_of_range(limit, value, label)
            if message:
                errors[field] = message
        if activation not in Activation.values:
            errors["activation"] = "Choose how the PRP was activated (or none)."
        if errors:
            raise ValidationError(errors)
        product.prepared_at = prepared_at
        product.expires_at = prepared_at + dt.timedelta(minutes=request.clinic.prp_expiry_minutes)
        product.volume_ml = volume_ml
        product.activation = activation
        product.platelets_k_per_ul = platelets_k_per_ul
        product.wbc_k_per_ul = wbc_k_per_ul
        product.rbc_m_per_ul = rbc_m_per_ul
        product.prepared_by = request.user
        product.save(
            update_fields=[
                "prepared_at", "expires_at", "volume_ml", "activation", "platelets_k_per_ul",
                "wbc_k_per_ul", "rbc_m_per_ul", "prepared_by",
            ]
        )  # fmt: skip
        product_move(request=request, product=product, to=ProductStatus.PREPARED)
        audit_record(
            action="prp.prepare",
            request=request,
            obj=product,
            changes={"volume_ml": volume_ml, "expires_at": product.expires_at, "activation": activation},
        )
    return product
