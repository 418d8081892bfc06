"""Sign-in events: set up the session and write them to the audit trail."""

from __future__ import annotations

import time
from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from prpclinic.audit.services import audit_record
from prpclinic.clinics import roles
from prpclinic.clinics.middleware import active_membership
from prpclinic.clinics.models import User


@receiver(user_logged_in)
def on_login(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    """Start the session's clocks, decide the two-factor step, pick the clinic, audit."""
    now = int(time.time())
    session = request.session
    session["login_at"] = now
    session["last_seen"] = now
    memberships = list(user.memberships.filter(is_active=True).values_list("role", flat=True))
    from django_otp import devices_for_user

    if any(True for _ in devices_for_user(user, confirmed=True)):
        session["mfa"] = "verify"
    elif any(role in roles.TWO_FACTOR_REQUIRED for role in memberships):
        session["mfa"] = "enrol"
    else:
        session["mfa"] = ""
    membership = active_membership(user.pk, session.get("clinic_id"))
    if membership is not None:
        session["clinic_id"] = membership.clinic_id
    audit_record(
        action="login",
        request=request,
        actor=user,
        clinic=membership.clinic if membership else None,
        role=membership.role if membership else "",
        obj=user,
    )


@receiver(user_logged_out)
def on_logout(sender: Any, request: HttpRequest, user: User | None, **kwargs: Any) -> None:
    if user is None:
        return
    reason = getattr(request, "logout_reason", "user")
    membership = getattr(request, "membership", None)
    if membership is None:
        membership = active_membership(user.pk, request.session.get("clinic_id"))
    audit_record(
        action="logout",
        request=request,
        actor=user,
        clinic=membership.clinic if membership else None,
        role=membership.role if membership else "",
        obj=user,
        changes={"reason": reason},
    )


def _known_user(credentials: dict[str, Any]) -> User | None:
    email = str(credentials.get("username") or credentials.get("email") or "").strip().lower()
    return User.objects.filter(email=email).first() if email else None


def _audit_account_event(action: str, request: HttpRequest | None, username: object) -> None:
    """A failed or locked sign-in, in the chain of the account's clinic (or the global chain).

    The name tried is recorded only when it is not an account, to spot guessing.
    """
    user = _known_user({"username": username})
    membership = active_membership(user.pk, None) if user else None
    audit_record(
        action=action,
        request=request,
        actor=user,
        clinic=membership.clinic if membership else None,
        role=membership.role if membership else "",
        object_type="clinics.user",
        object_id=user.pk if user else "",
        changes={} if user else {"attempted": str(username or "")[:254]},
    )


@receiver(user_login_failed)
def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    _audit_account_event("login.failed", request, credentials.get("username"))


@receiver(user_locked_out)
def on_locked_out(sender: Any, request: HttpRequest | None, username: str | None, **kwargs: Any) -> None:
    _audit_account_event("login.locked", request, username)
