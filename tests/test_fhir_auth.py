"""Bearer tokens for the FHIR API: scoped, one clinic, revocable, audited on every use."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import RequestFactory
from django.utils import timezone

from prpclinic.audit.models import AuditEvent
from prpclinic.fhir.auth import FhirAuthError, authenticate, create_token, revoke_token
from prpclinic.fhir.auth import issue_token as issue_token_service
from prpclinic.fhir.models import FhirToken, hash_token
from tests.conftest import clinic_request, make_patient
from tests.fhir_tokens import issue_token


def _request(raw: str | None, path: str = "/fhir/R4/Patient/12") -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"} if raw else {}
    request = RequestFactory().get(path + "?name=Secret", **headers)
    return request


def test_a_valid_token_names_its_clinic_and_scopes_and_each_use_is_audited_without_query_text(personas: Any) -> None:
    raw = issue_token(personas.clinic_a, scopes=("patient/*.read",), by=personas.admin)
    access = authenticate(_request(raw))
    assert access.clinic == personas.clinic_a
    assert access.scopes == frozenset({"patient/*.read"})
    assert not access.allows("system/*.read")
    event = AuditEvent.objects.filter(action="fhir.access").get()
    assert event.clinic_id == personas.clinic_a.pk and event.object_id == str(access.token_id)
    assert event.changes["resource_type"] == "Patient" and event.changes["resource_id"] == "12"
    assert "Secret" not in str(event.changes)


def test_the_token_is_stored_only_as_its_sha256_hash(personas: Any) -> None:
    raw = issue_token(personas.clinic_a, by=personas.admin)
    token = FhirToken.objects.get()
    assert token.token_hash == hash_token(raw) and raw not in (token.token_hash, token.hint)


@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Basic abc"])
def test_a_missing_or_unknown_token_is_refused_with_401(personas: Any, header: str | None) -> None:
    request = RequestFactory().get("/fhir/R4/Patient", **({"HTTP_AUTHORIZATION": header} if header else {}))
    with pytest.raises(FhirAuthError) as caught:
        authenticate(request)
    assert caught.value.status == 401
    assert not AuditEvent.objects.filter(action="fhir.access").exists()


def test_a_revoked_token_stops_working_at_once(personas: Any) -> None:
    token, raw = create_token(
        clinic=personas.clinic_a, label="EHR", scopes=["system/*.read"], created_by=personas.admin
    )
    authenticate(_request(raw))
    revoke_token(request=clinic_request(personas.admin, personas.clinic_a), token=token)
    with pytest.raises(FhirAuthError, match="revoked") as caught:
        authenticate(_request(raw))
    assert caught.value.status == 401


def test_an_expired_token_is_refused(personas: Any) -> None:
    token, raw = create_token(
        clinic=personas.clinic_a, label="EHR", scopes=["system/*.read"], created_by=personas.admin
    )
    FhirToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(FhirAuthError, match="expired"):
        authenticate(_request(raw))


def test_last_used_is_written_at_most_once_a_minute(personas: Any, django_assert_num_queries: Any) -> None:
    raw = issue_token(personas.clinic_a, by=personas.admin)
    authenticate(_request(raw))
    first = FhirToken.objects.get().last_used_at
    assert first is not None
    authenticate(_request(raw))
    assert FhirToken.objects.get().last_used_at == first


def test_a_patient_context_token_carries_its_patient_into_the_access_and_the_issue_is_audited_by_id(
    personas: Any,
) -> None:
    patient = make_patient(personas.clinic_a)
    request = clinic_request(personas.admin, personas.clinic_a)
    token, raw = issue_token_service(request=request, label="App", scopes=["patient/*.read"], patient=patient)
    access = authenticate(_request(raw))
    assert (access.patient_id, access.token_id) == (patient.pk, token.pk)
    assert AuditEvent.objects.get(action="fhir.token.issue").changes["patient"] == patient.pk
    system = authenticate(_request(issue_token(personas.clinic_a, by=personas.admin)))
    assert system.patient_id is None
