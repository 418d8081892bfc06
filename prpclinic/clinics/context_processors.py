from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from prpclinic.clinics import roles
from prpclinic.clinics.models import Membership


def active_clinic(request: HttpRequest) -> dict[str, Any]:
    """The active clinic, the user's other clinics (for the switcher) and what the role allows."""
    membership = getattr(request, "membership", None)
    if membership is None:
        return {"active_clinic": None, "active_membership": None, "allowed": frozenset()}

    def other_clinics() -> list[Membership]:
        known = getattr(request, "other_memberships", None)
        if known is not None:  # fetched by ActiveClinicMiddleware with the active one
            return known
        return list(
            Membership.objects.select_related("clinic")
            .filter(user_id=membership.user_id, is_active=True, clinic__is_active=True)
            .exclude(pk=membership.pk)
            .order_by("clinic__name")
        )

    return {
        "active_clinic": membership.clinic,
        "active_membership": membership,
        "other_memberships": SimpleLazyObject(other_clinics),
        "allowed": frozenset(roles.permissions_of(membership.role)),
    }
