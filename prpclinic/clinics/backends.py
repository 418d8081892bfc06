"""Signing in with e-mail and password, and finding the signed-in user on every request."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.db.models import QuerySet

from prpclinic.clinics.models import Membership, User
from prpclinic.db import compiled_read


def active_membership_rows(user_id: Any) -> list[Membership]:
    """The user's active memberships in active clinics, with clinic and user, by clinic name.

    ``user_id`` as the session keeps it (text) or as a number.
    """
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        return []
    return _active_membership_rows(user_id=user_id)


@compiled_read()  # read on every signed-in request
def _active_membership_rows(user_id: int) -> QuerySet[Membership]:
    return (
        Membership.objects.select_related("clinic", "user")
        .filter(user_id=user_id, is_active=True, clinic__is_active=True)
        .order_by("clinic__name", "clinic_id")
    )


class ClinicModelBackend(ModelBackend):
    """Django's ModelBackend, but the user of a request comes with their clinics in one statement.

    Every signed-in request needs both the user and the memberships (the active clinic, the
    role, the clinic switcher). Read from the membership side with the user joined, that is one
    statement where it was two; only a user with no active clinic costs the second one. The
    memberships ride on the user object of this request only (``active_memberships`` in the
    clinic middleware reads them), so a change made by another request counts at the next one.
    """

    def get_user(self, user_id: Any) -> User | None:
        memberships = active_membership_rows(user_id)
        if memberships:
            user = memberships[0].user
            for membership in memberships:
                membership.user = user  # one object, as the request sees one person
        else:
            try:
                user = User._default_manager.get(pk=user_id)
            except User.DoesNotExist:
                return None
        if not self.user_can_authenticate(user):
            return None
        user._active_memberships = memberships  # type: ignore[attr-defined]
        return user
