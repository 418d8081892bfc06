"""Staff and clinic writes: inviting, changing roles, deactivating, switching clinics."""

from __future__ import annotations

from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.clinics.models import Clinic, Membership, User
from prpclinic.clinics.roles import Role
from prpclinic.clinics.tasks import send_email


def _end_sessions(user: User) -> None:
    """Every session of ``user`` stops being valid at its next request (see User._get_session_auth_hash)."""
    User.objects.filter(pk=user.pk).update(session_generation=user.session_generation + 1)
    user.session_generation += 1


def _active_admins(clinic: Clinic) -> int:
    return Membership.objects.filter(clinic=clinic, role=Role.CLINIC_ADMIN, is_active=True).count()


def _membership_for_update(request: HttpRequest, membership_id: int) -> Membership:
    """A membership of the active clinic, locked; another clinic's answers 404."""
    from django.shortcuts import get_object_or_404

    return get_object_or_404(
        Membership.objects.select_for_update().select_related("user"), pk=membership_id, clinic=request.clinic
    )


def staff_invite(*, request: HttpRequest, email: str, full_name: str, role: str) -> Membership:
    """Give a person a role in the active clinic and e-mail them a link to set their password.

    Side effects: creates the account if the e-mail is new (no usable password until they set
    one), creates or reactivates the membership, audits ``staff.invite``, sends the e-mail
    after commit. A person already active here is refused.
    """
    access.require(request, "staff.manage")
    email = email.strip().lower()
    if role not in Role.values:
        raise ValidationError({"role": "Choose one of the roles."})
    with transaction.atomic():
        user = User.objects.select_for_update().filter(email=email).first()
        created = user is None
        if user is None:
            user = User(email=email, full_name=full_name.strip())
            user.set_unusable_password()
            user.full_clean()
            user.save()
        membership = Membership.objects.select_for_update().filter(clinic=request.clinic, user=user).first()
        if membership is not None and membership.is_active:
            raise ValidationError({"email": "This person already works at this clinic."})
        if membership is None:
            membership = Membership(clinic=request.clinic, user=user, role=role, invited_by=request.user)
        else:
            membership.role, membership.is_active, membership.deactivated_at = role, True, None
        membership.full_clean()
        membership.save()
        if not user.is_active:
            user.is_active = True
            user.save(update_fields=["is_active"])
        audit_record(
            action="staff.invite",
            request=request,
            obj=membership,
            changes={"email": email, "role": role, "new_account": created},
        )
        transaction.on_commit(lambda: _send_invitation(request=request, user=user, membership=membership))
    return membership


def _send_invitation(*, request: HttpRequest, user: User, membership: Membership) -> None:
    if user.has_usable_password():
        link = request.build_absolute_uri(reverse("login"))
    else:
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        token = default_token_generator.make_token(user)
        link = request.build_absolute_uri(reverse("password_reset_confirm", args=[uid, token]))
    body = render_to_string(
        "clinics/email/invitation.txt",
        {"user": user, "membership": membership, "link": link, "inviter": request.user},
    )
    send_email.enqueue(
        subject=f"You have been invited to {membership.clinic.name} on prpclinic", body=body, to=[user.email]
    )


def staff_change_role(*, request: HttpRequest, membership_id: int, role: str) -> Membership:
    """Change a member's role. Side effects: audits old and new role, ends the member's
    sessions (a new role may require two-factor sign-in). The last clinic admin stays admin."""
    access.require(request, "staff.manage")
    if role not in Role.values:
        raise ValidationError({"role": "Choose one of the roles."})
    with transaction.atomic():
        membership = _membership_for_update(request, membership_id)
        old = membership.role
        if old == role:
            return membership
        if old == Role.CLINIC_ADMIN and membership.is_active and _active_admins(request.clinic) <= 1:
            raise ValidationError({"role": "A clinic needs at least one active clinic admin."})
        membership.role = role
        membership.save(update_fields=["role"])
        _end_sessions(membership.user)
        audit_record(action="staff.role", request=request, obj=membership, changes={"role": [old, role]})
    return membership


def staff_deactivate(*, request: HttpRequest, membership_id: int) -> Membership:
    """End a member's place in the clinic. Side effects: ends all their sessions now; disables
    the account if no other clinic has them; audits. Nobody deactivates themselves or the last admin."""
    access.require(request, "staff.manage")
    with transaction.atomic():
        membership = _membership_for_update(request, membership_id)
        if not membership.is_active:
            return membership
        if membership.user_id == request.user.pk:
            raise PermissionDenied("You cannot deactivate yourself.")
        if membership.role == Role.CLINIC_ADMIN and _active_admins(request.clinic) <= 1:
            raise ValidationError({"role": "A clinic needs at least one active clinic admin."})
        membership.is_active = False
        membership.deactivated_at = timezone.now()
        membership.save(update_fields=["is_active", "deactivated_at"])
        user = membership.user
        _end_sessions(user)
        if not user.memberships.filter(is_active=True).exists():
            user.is_active = False
            user.save(update_fields=["is_active"])
        audit_record(action="staff.deactivate", request=request, obj=membership, changes={"is_active": [True, False]})
    return membership


def staff_reactivate(*, request: HttpRequest, membership_id: int) -> Membership:
    """Give a deactivated member their place back, with the role they had. Audited."""
    access.require(request, "staff.manage")
    with transaction.atomic():
        membership = _membership_for_update(request, membership_id)
        if membership.is_active:
            return membership
        membership.is_active, membership.deactivated_at = True, None
        membership.save(update_fields=["is_active", "deactivated_at"])
        if not membership.user.is_active:
            membership.user.is_active = True
            membership.user.save(update_fields=["is_active"])
        audit_record(action="staff.reactivate", request=request, obj=membership, changes={"is_active": [False, True]})
    return membership


def clinic_switch(*, request: HttpRequest, clinic_id: int) -> Membership:
    """Make another of the user's clinics the active one for this session. Audited in both."""
    from django.http import Http404

    membership = (
        Membership.objects.select_related("clinic")
        .filter(user=request.user, clinic_id=clinic_id, is_active=True, clinic__is_active=True)
        .first()
    )
    if membership is None:
        raise Http404("No such clinic.")
    with transaction.atomic():
        audit_record(action="clinic.switch_out", request=request, obj=membership.clinic)
        request.session["clinic_id"] = membership.clinic_id
        request.clinic, request.membership = membership.clinic, membership  # type: ignore[attr-defined]
        audit_record(action="clinic.switch_in", request=request, obj=membership.clinic)
    return membership
