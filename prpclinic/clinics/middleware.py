"""Per-request guards: session timeouts, two-factor gate, the active clinic, no caching."""

from __future__ import annotations

import time
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control

from prpclinic.clinics.backends import active_membership_rows
from prpclinic.clinics.models import Membership

# Written to the session at most this often, so an idle check does not cost a write per request.
LAST_SEEN_RESOLUTION_S = 30

# Paths a signed-in user may reach before finishing two-factor sign-in.
_TWO_FACTOR_OPEN = ("/account/two-factor/", "/account/logout/", "/static/", "/healthz")


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    """Send a browser to ``url``; an API client gets 401 JSON instead (it cannot follow a login page)."""
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        from prpclinic.clinics.access import API_NOT_SIGNED_IN

        return JsonResponse({"detail": [{"field": None, "message": API_NOT_SIGNED_IN}]}, status=401)
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


class SessionTimeoutMiddleware:
    """Log out after ``SESSION_IDLE_SECONDS`` without a request, or ``SESSION_MAX_SECONDS`` in all."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            session = request.session
            login_at = session.get("login_at", now)
            last_seen = session.get("last_seen", now)
            if now - last_seen > settings.SESSION_IDLE_SECONDS:
                return self._end(request, "idle", "You were signed out after a period of inactivity.")
            if now - login_at > settings.SESSION_MAX_SECONDS:
                return self._end(request, "max_age", "Your session reached its maximum length; please sign in again.")
            if now - last_seen >= LAST_SEEN_RESOLUTION_S or "last_seen" not in session:
                session["last_seen"] = now
                session.setdefault("login_at", now)
        return self.get_response(request)

    def _end(self, request: HttpRequest, reason: str, text: str) -> HttpResponse:
        request.logout_reason = reason  # type: ignore[attr-defined]  (read by the audit signal)
        logout(request)
        messages.info(request, text)
        return _redirect(request, reverse("login"))


class ActiveClinicMiddleware:
    """Finish two-factor sign-in first; then set ``request.clinic`` and ``request.membership``.

    The active clinic is the one chosen in this session (``clinic_switch``), else the user's
    first active clinic. A membership deactivated meanwhile stops counting at once.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.clinic = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        user = request.user
        if user.is_authenticated:
            gate = request.session.get("mfa", "")
            if gate in ("verify", "enrol") and not user.is_verified():  # type: ignore[attr-defined]
                if not request.path.startswith(_TWO_FACTOR_OPEN):
                    name = "two_factor_verify" if gate == "verify" else "two_factor_setup"
                    return _redirect(request, reverse(name))
            else:
                rows = getattr(user, "_active_memberships", None)  # read with the user (clinics/backends.py)
                membership, others = active_memberships(user.pk, request.session.get("clinic_id"), rows)
                request.other_memberships = others  # type: ignore[attr-defined]  (the clinic switcher)
                if membership is not None:
                    if request.session.get("clinic_id") != membership.clinic_id:  # no session write per request
                        request.session["clinic_id"] = membership.clinic_id
                    request.membership = membership  # type: ignore[attr-defined]
                    request.clinic = membership.clinic  # type: ignore[attr-defined]
        # Times are stored in UTC; forms read and pages show them in the clinic's own zone.
        if request.clinic is not None:  # type: ignore[attr-defined]
            timezone.activate(zoneinfo.ZoneInfo(request.clinic.timezone))  # type: ignore[attr-defined]
        else:
            timezone.deactivate()
        return self.get_response(request)


def active_memberships(
    user_id: int, clinic_id: int | None, rows: list[Membership] | None = None
) -> tuple[Membership | None, list[Membership]]:
    """The membership to act under (the chosen clinic if still active, else the first) and the
    user's other active clinics, for the switcher: one query for both, none if ``rows`` (the
    memberships read with the user in this request) are given."""
    memberships = rows if rows is not None else active_membership_rows(user_id)
    chosen = next((m for m in memberships if m.clinic_id == clinic_id), memberships[0] if memberships else None)
    return chosen, [m for m in memberships if m is not chosen]


def active_membership(user_id: int, clinic_id: int | None) -> Membership | None:
    return active_memberships(user_id, clinic_id)[0]


class NoStoreMiddleware:
    """Patient pages must not stay in a browser's or proxy's cache (OWASP ASVS 14.3.2)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(settings.STATIC_URL) and not response.has_header("Cache-Control"):
            patch_cache_control(response, no_store=True, private=True)
        return response
