"""Access checks in one public module: every view and endpoint asks here.

A missing role answers 403; another clinic's row answers 404 (its existence is not revealed).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from prpclinic.clinics import roles

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])

# What an API client hears instead of a redirect to the sign-in pages (middleware and API share it).
API_NOT_SIGNED_IN = "Sign in to prpclinic (with your second factor) before using the API."


def can(request: HttpRequest, permission: str) -> bool:
    membership = getattr(request, "membership", None)
    return membership is not None and roles.allows(membership.role, permission)


def require(request: HttpRequest, permission: str) -> None:
    if not can(request, permission):
        raise PermissionDenied(f"Your role may not do this ({permission}).")


def clinic_view(permission: str) -> Callable[[ViewFunc], ViewFunc]:
    """A page of the active clinic: login, an active membership and ``permission`` required."""
    roles.PERMISSIONS[permission]  # fail at import on a typo

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if getattr(request, "membership", None) is None:
                raise PermissionDenied("You have no active place in a clinic.")
            require(request, permission)
            return view(request, *args, **kwargs)

        wrapper.required_permission = permission  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def member_view(view: ViewFunc) -> ViewFunc:
    """A page any active member of the clinic may open (home, own account)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if getattr(request, "membership", None) is None:
            raise PermissionDenied("You have no active place in a clinic.")
        return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
