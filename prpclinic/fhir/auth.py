"""Bearer-token access to the FHIR API: who is calling, for which clinic, with which scopes.

``authenticate(request)`` is the one door: every FHIR endpoint calls it first. It answers a
``FhirAccess`` or raises ``FhirAuthError`` (401 for a missing, unknown, expired or revoked token;
403 for a token lacking a scope). Each successful use writes one audit event (``fhir.access``)
naming the token and the resource type/id asked for, never query strings (a search can carry a
name). ``last_used_at`` is written at most once a minute per token, not on every request.

A token may carry a SMART patient context (``FhirToken.patient``): ``FhirAccess.patient_id`` is then set and
``FhirAccess.restrict`` narrows every read, search and ``_include`` to that patient's compartment. Once that patient
is merged into another record the token answers 401 rather than following the merge.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from prpclinic.audit.services import audit_record
from prpclinic.clinics.models import Clinic, Membership
from prpclinic.fhir.models import SCOPES, FhirToken, TokenKind, hash_token, new_raw_token

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from prpclinic.fhir.registry import ResourceDef
    from prpclinic.patients.models import Patient

FHIR_PREFIX = "/fhir/R4/"
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
PATIENT_READ = "patient/*.read"
SYSTEM_READ = "system/*.read"


class FhirAuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class FhirAccess:
    clinic: Clinic
    scopes: frozenset[str]
    token_id: int
    label: str
    user_id: int | None = None
    # SMART patient context: when set, the token reads this one patient's compartment and nothing else.
    patient_id: int | None = None

    def restrict(self, definition: ResourceDef, queryset: QuerySet) -> QuerySet:
        """The rows of ``definition`` this token may see: the clinic's (the queryset already is), or only the
        context patient's compartment (types outside the compartment then match nothing)."""
        if self.patient_id is None:
            return queryset
        return queryset.filter(definition.patient_filter([self.patient_id]))

    def allows(self, scope: str) -> bool:
        # system/*.read covers everything patient/*.read does.
        return scope in self.scopes or (scope == PATIENT_READ and SYSTEM_READ in self.scopes)

    def require(self, scope: str) -> None:
        if not self.allows(scope):
            raise FhirAuthError(403, f"This token lacks the scope {scope}.")


def _bearer(request: HttpRequest) -> str:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    kind, _, value = header.partition(" ")
    if kind.lower() != "bearer" or not value.strip():
        raise FhirAuthError(401, "A bearer token is required (Authorization: Bearer <token>).")
    return value.strip()


def _target(request: HttpRequest) -> tuple[str, str]:
    """The resource type and id (or operation) of a FHIR path, for the audit trail."""
    path = request.path
    if not path.startswith(FHIR_PREFIX):
        return "", ""
    parts = [p for p in path[len(FHIR_PREFIX) :].split("/") if p]
    return (parts[0][:64] if parts else "", parts[1][:64] if len(parts) > 1 else "")


def authenticate(request: HttpRequest, *, scope: str | None = None) -> FhirAccess:
    """Check the request's bearer token; audit the use. Side effects: one audit event, and
    ``last_used_at`` when older than a minute. Sets ``request.fhir_access``."""
    raw = _bearer(request)
    # The patient comes in the same query: a patient-context token costs no extra round trip per request.
    token = FhirToken.objects.select_related("clinic", "patient").filter(token_hash=hash_token(raw)).first()
    now = timezone.now()
    if token is None:
        raise FhirAuthError(401, "The token is not known.")
    if token.revoked_at is not None:
        raise FhirAuthError(401, "The token has been revoked.")
    if token.expires_at is not None and token.expires_at <= now:
        raise FhirAuthError(401, "The token has expired.")
    if not token.clinic.is_active:
        raise FhirAuthError(401, "The token's clinic is not active.")
    if (
        token.user_id is not None
        and not Membership.objects.filter(user_id=token.user_id, clinic_id=token.clinic_id, is_active=True).exists()
    ):
        raise FhirAuthError(401, "The token's staff member no longer works for this clinic.")
    if token.patient is not None and token.patient.merged_into_id is not None:
        # Never follow a merge silently: the client was granted one record, and the survivor is another one
        # (it may hold another registration's history). The clinic issues a new token for the survivor.
        raise FhirAuthError(401, "The token's patient record was merged into another record: ask for a new token.")
    access = FhirAccess(
        clinic=token.clinic,
        scopes=token.scope_set,
        token_id=token.pk,
        label=token.label,
        user_id=token.user_id,
        patient_id=token.patient_id,
    )
    if scope is not None:
        access.require(scope)
    resource_type, resource_id = _target(request)
    with transaction.atomic():
        audit_record(
            action="fhir.access",
            request=request,
            actor=token.user,
            clinic=token.clinic,
            role="fhir-token",
            object_type="fhir.fhirtoken",
            object_id=token.pk,
            changes={"method": request.method, "resource_type": resource_type, "resource_id": resource_id},
        )
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            # A conditional update: concurrent requests in the same minute do not all write.
            FhirToken.objects.filter(pk=token.pk).exclude(last_used_at__gt=now - LAST_USED_RESOLUTION).update(
                last_used_at=now
            )
    request.fhir_access = access  # type: ignore[attr-defined]
    return access


def operation_outcome(status: int, message: str, code: str | None = None) -> HttpResponse:
    """An OperationOutcome response; 401 carries ``WWW-Authenticate: Bearer``."""
    issue_code = code or {401: "login", 403: "forbidden", 404: "not-found"}.get(status, "processing")
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": issue_code, "diagnostics": message}],
    }
    response = HttpResponse(json.dumps(body), status=status, content_type="application/fhir+json")
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="prpclinic-fhir"'
    response["Cache-Control"] = "no-store"
    return response


def error_response(error: FhirAuthError) -> HttpResponse:
    return operation_outcome(error.status, error.message)


# --- issuing and revoking (services for the staff pages) -------------------------------------


def validate_scopes(scopes: Iterable[str]) -> list[str]:
    chosen = sorted(set(scopes))
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown or not chosen:
        raise ValidationError({"scopes": f"Choose from: {', '.join(SCOPES)}."})
    return chosen


def validate_token_patient(*, clinic: Clinic, patient: Patient, scopes: list[str]) -> None:
    """A patient context narrows a token to one record: only ``patient/*.read`` makes sense with it (a
    ``system/*.read`` token would reach every record anyway), and the patient must be a live record of the
    token's clinic (a merged-away duplicate is no longer anyone's record)."""
    if scopes != [PATIENT_READ]:
        raise ValidationError({"scopes": f"A token limited to one patient can only have the scope {PATIENT_READ}."})
    if patient.clinic_id != clinic.pk:
        raise ValidationError({"patient": "This patient is not a patient of this clinic."})
    if patient.merged_into_id is not None:
        raise ValidationError({"patient": "This record was merged into another one: choose the record that stays."})
    if not patient.is_active:
        raise ValidationError({"patient": "This patient record is deactivated."})


def create_token(
    *,
    clinic: Clinic,
    label: str,
    scopes: Iterable[str],
    created_by: Any,
    user: Any = None,
    expires_at: dt.datetime | None = None,
    patient: Patient | None = None,
) -> tuple[FhirToken, str]:
    """Create a token row; the raw token is returned once and never stored. With ``patient`` the token reads
    only that patient's compartment (SMART patient context)."""
    chosen = validate_scopes(scopes)
    if patient is not None:
        validate_token_patient(clinic=clinic, patient=patient, scopes=chosen)
    raw = new_raw_token()
    token = FhirToken(
        clinic=clinic,
        label=label,
        kind=TokenKind.STAFF if user is not None else TokenKind.SYSTEM,
        user=user,
        scopes=" ".join(chosen),
        token_hash=hash_token(raw),
        hint=raw[:12],
        created_by=created_by,
        expires_at=expires_at,
        patient=patient,
    )
    if user is not None and not Membership.objects.filter(user=user, clinic=clinic, is_active=True).exists():
        raise ValidationError({"user": "This person has no active place in the clinic."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    token.full_clean()
    token.save()
    return token, raw


def issue_token(
    *,
    request: HttpRequest,
    label: str,
    scopes: Iterable[str],
    user: Any = None,
    expires_at: dt.datetime | None = None,
    patient: Patient | None = None,
) -> tuple[FhirToken, str]:
    """Issue a token for the request's clinic (an admin's action). Audited (the patient by id, never by name);
    the secret is not."""
    with transaction.atomic():
        token, raw = create_token(
            clinic=request.clinic,  # type: ignore[attr-defined]
            label=label,
            scopes=scopes,
            created_by=request.user,
            user=user,
            expires_at=expires_at,
            patient=patient,
        )
        audit_record(
            action="fhir.token.issue",
            request=request,
            obj=token,
            changes={
                "label": label,
                "scopes": token.scopes,
                "user": token.user_id,
                "hint": token.hint,
                "patient": token.patient_id,
            },
        )
    return token, raw


def revoke_token(*, request: HttpRequest, token: FhirToken) -> FhirToken:
    """Revoke at once: the next request with it answers 401. Revoking twice changes nothing."""
    with transaction.atomic():
        token = FhirToken.objects.select_for_update().get(pk=token.pk, clinic=request.clinic)  # type: ignore[attr-defined]
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.revoked_by = request.user  # type: ignore[assignment]
            token.save(update_fields=["revoked_at", "revoked_by"])
            audit_record(action="fhir.token.revoke", request=request, obj=token, changes={"hint": token.hint})
    return token
