"""The one place a PRP product changes state.

    drawn -> spun -> prepared -> verified -> applied
    any state before applied -> discarded | quarantined
    quarantined -> (released by a physician) the state it left, or discarded

Callers hold the product's row lock (``product_for_update``) so that two nurses acting on
the same product at the same moment are serialised: the second sees the first's result.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils import timezone

from prpclinic.audit.services import audit_record
from prpclinic.prp.models import Product, ProductEvent, ProductStatus

S = ProductStatus
ALLOWED: dict[str, frozenset[str]] = {
    S.DRAWN: frozenset({S.SPUN, S.DISCARDED, S.QUARANTINED}),
    S.SPUN: frozenset({S.PREPARED, S.DISCARDED, S.QUARANTINED}),
    S.PREPARED: frozenset({S.VERIFIED, S.DISCARDED, S.QUARANTINED}),
    S.VERIFIED: frozenset({S.APPLIED, S.DISCARDED, S.QUARANTINED}),
    S.QUARANTINED: frozenset({S.DRAWN, S.SPUN, S.PREPARED, S.DISCARDED}),
    S.APPLIED: frozenset(),
    S.DISCARDED: frozenset(),
}


def product_for_update(*, request: HttpRequest, product_id: int) -> Product:
    """The product, locked until the transaction ends; another clinic's answers 404."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("product_for_update must run inside transaction.atomic()")
    try:
        return (
            Product.objects.select_for_update(of=("self",))
            .select_related("patient", "draw")
            .get(pk=product_id, clinic=request.clinic)
        )
    except (Product.DoesNotExist, ValueError, TypeError):
        raise Http404("No such product in this clinic.") from None


def product_move(*, request: HttpRequest, product: Product, to: str, reason: str = "") -> ProductEvent:
    """Move ``product`` (locked by the caller) to ``to``.

    Side effects: sets status (and status_before_quarantine when quarantining), writes a
    ProductEvent and an audit event ``product.<to>`` with who, when and why.
    """
    frm = product.status
    if to not in ALLOWED[frm]:
        raise ValidationError(
            f"Product {product.barcode} is {ProductStatus(frm).label.lower()}; it cannot become "
            f"{ProductStatus(to).label.lower()}."
        )
    if to in (S.DISCARDED, S.QUARANTINED) and not reason.strip():
        raise ValidationError({"reason": "Say why, for the record."})
    if to == S.QUARANTINED:
        product.status_before_quarantine = frm
    elif frm == S.QUARANTINED:
        product.status_before_quarantine = ""
    product.status = to
    product.save(update_fields=["status", "status_before_quarantine"])
    event = ProductEvent.objects.create(
        clinic_id=product.clinic_id,
        product=product,
        from_status=frm,
        to_status=to,
        actor=request.user,
        at=timezone.now(),
        reason=reason.strip(),
    )
    audit_record(
        action=f"product.{to}", request=request, obj=product, changes={"status": [frm, to], "reason": reason.strip()}
    )
    return event
