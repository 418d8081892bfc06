"""The clinic admin's token page: issue (shown once), list, revoke; each token is limited to its clinic."""

from __future__ import annotations

from typing import Any

from django.test import Client

from prpclinic.audit.models import AuditEvent
from prpclinic.clinics.models import Membership
from prpclinic.fhir.models import FhirToken, hash_token
from tests.fhir_tokens import bearer, issue_token

TOKENS = "/interop/tokens/"


def test_an_admin_issues_a_system_token_that_is_shown_once_and_stored_hashed(personas: Any, signed_in: Any) -> None:
    admin = signed_in("admin")
    response = admin.post(TOKENS, {"label": "Hospital EHR", "scopes": ["system/*.read"]})
    assert response.status_code == 201
    raw = response.context["new_token"]
    assert raw in response.content.decode() and "shown only once" in response.content.decode()
    token = FhirToken.objects.get()
    assert token.token_hash == hash_token(raw) and token.user is None and token.clinic == personas.clinic_a
    assert AuditEvent.objects.filter(action="fhir.token.issue").count() == 1
    assert raw not in str(AuditEvent.objects.get(action="fhir.token.issue").changes)
    listing = admin.get(TOKENS).content.decode()
    assert "Hospital EHR" in listing and raw not in listing and token.hint in listing


def test_a_staff_token_acts_for_that_person_and_stops_when_their_place_in_the_clinic_ends(
    personas: Any, signed_in: Any
) -> None:
    membership = Membership.objects.get(user=personas.physician, clinic=personas.clinic_a)
    response = signed_in("admin").post(
        TOKENS, {"label": "Dr's script", "scopes": ["patient/*.read"], "user": membership.pk}
    )
    assert response.status_code == 201
    raw = response.context["new_token"]
    assert FhirToken.objects.get().user == personas.physician
    assert Client().get("/fhir/R4/$export-status/999", headers=bearer(raw)).status_code == 403  # known, lacks scope
    Membership.objects.filter(pk=membership.pk).update(is_active=False)
    assert Client().get("/fhir/R4/$export-status/999", headers=bearer(raw)).status_code == 401


def test_a_refused_token_form_shows_why_and_issues_nothing(personas: Any, signed_in: Any) -> None:
    response = signed_in("admin").post(TOKENS, {"label": "", "scopes": ["everything"], "expires_on": "2000-01-01"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "This field is required." in page and "is not one of the available choices" in page
    assert "The expiry must be after today." in page
    assert not FhirToken.objects.exists()


def test_revoking_a_token_closes_the_api_to_it_at_once(personas: Any, signed_in: Any) -> None:
    raw = issue_token(personas.clinic_a, by=personas.admin, label="EHR")
    kickoff = {**bearer(raw), "Prefer": "respond-async"}
    assert Client().get("/fhir/R4/$export?_type=Nonsense", headers=kickoff).status_code == 400  # authenticated
    token = FhirToken.objects.get()
    response = signed_in("admin").post(f"{TOKENS}{token.pk}/revoke/", follow=True)
    assert "revoked" in response.content.decode()
    refused = Client().get("/fhir/R4/$export?_type=Nonsense", headers=kickoff)
    assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Bearer")
    assert AuditEvent.objects.filter(action="fhir.token.revoke").count() == 1


def test_another_clinics_token_cannot_be_revoked_and_the_page_is_for_admins_only(personas: Any, signed_in: Any) -> None:
    issue_token(personas.clinic_b, by=personas.other_physician, label="Clinic B registry")
    token = FhirToken.objects.get()
    assert signed_in("admin").post(f"{TOKENS}{token.pk}/revoke/").status_code == 404
    assert FhirToken.objects.get().revoked_at is None
    assert signed_in("physician").get(TOKENS).status_code == 403
    assert "Clinic B registry" not in signed_in("admin").get(TOKENS).content.decode()
