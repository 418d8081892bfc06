"""Reads of the PRP chain, scoped to the clinic, each in a fixed number of queries."""

from __future__ import annotations

import datetime as dt

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from prpclinic.prp.measures import Measures, product_measures
from prpclinic.prp.models import (
    Activation,
    BloodDraw,
    ConsumableLot,
    Incident,
    Product,
    ProductEvent,
    Spin,
    Verification,
)


def products_with_chain() -> QuerySet[Product]:
    return Product.objects.select_related(
        "clinic", "patient", "draw", "draw__drawn_by", "draw__tube_lot", "draw__kit_lot", "draw__visit", "prepared_by"
    ).prefetch_related(
        Prefetch("spins", queryset=Spin.objects.select_related("centrifuge", "program").order_by("number"))
    )


def product_get(*, request: HttpRequest, product_id: int) -> Product:
    product = products_with_chain().filter(pk=product_id, clinic=request.clinic).first()
    if product is None:
        raise Http404("No such product in this clinic.")
    return product


def product_trace(*, request: HttpRequest, product_id: int) -> dict[str, object]:
    """Everything about one product, draw to disposal, in a fixed number of queries."""
    product = product_get(request=request, product_id=product_id)
    return {
        "product": product,
        "measures": measures_of(product),
        "events": list(ProductEvent.objects.filter(product=product).select_related("actor").order_by("at", "id")),
        "verifications": list(
            Verification.objects.filter(product=product).select_related("by", "patient").order_by("at", "id")
        ),
        "incidents": list(
            Incident.objects.filter(product=product).select_related(
                "donor", "scanned_patient", "reported_by", "resolved_by"
            )
        ),
        "application": getattr(product, "application", None) if product.status == "applied" else None,
    }


def measures_of(product: Product) -> Measures:
    draw = product.draw
    return product_measures(
        c_wb=draw.platelets_k_per_ul,
        v_wb=draw.volume_ml,
        c_prp=product.platelets_k_per_ul,
        v_prp=product.volume_ml,
        wbc_wb=draw.wbc_k_per_ul,
        wbc_prp=product.wbc_k_per_ul,
        activated=product.activation != Activation.NONE,
    )


def day_board(*, clinic_id: int, day: dt.date | None = None) -> list[Product]:
    """Every product of the clinic drawn on ``day`` (clinic's today) or still open from before."""
    day = day or timezone.localdate()
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    end = start + dt.timedelta(days=1)
    open_states = ("drawn", "spun", "prepared", "verified", "quarantined")
    return list(
        products_with_chain()
        .filter(clinic_id=clinic_id)
        .filter(Q(draw__drawn_at__gte=start, draw__drawn_at__lt=end) | Q(status__in=open_states, created_at__lt=end))
        .order_by("draw__drawn_at")[:200]
    )


def lot_usage(*, request: HttpRequest, lot_id: int) -> tuple[ConsumableLot, list[BloodDraw]]:
    """The recall query: every draw (patient, product) that used this lot, kit or tubes."""
    lot = ConsumableLot.objects.filter(pk=lot_id, clinic=request.clinic).first()
    if lot is None:
        raise Http404("No such lot.")
    draws = list(
        BloodDraw.objects.filter(clinic=request.clinic)
        .filter(Q(tube_lot=lot) | Q(kit_lot=lot))
        .select_related("patient", "product", "drawn_by")
        .order_by("-drawn_at")
    )
    return lot, draws


def usable_lots(*, clinic_id: int, kind: str) -> QuerySet[ConsumableLot]:
    return ConsumableLot.objects.filter(
        clinic_id=clinic_id, kind=kind, recalled_at__isnull=True, expiry_date__gte=timezone.localdate()
    ).order_by("expiry_date")


def open_incidents(*, clinic_id: int) -> list[Incident]:
    return list(
        Incident.objects.filter(clinic_id=clinic_id)
        .select_related("product", "donor", "scanned_patient", "reported_by", "resolved_by")
        .order_by("status", "-reported_at")[:200]
    )
