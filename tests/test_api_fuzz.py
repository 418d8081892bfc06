"""Fuzzing the JSON API: schemathesis generates requests from the API's own OpenAPI schema.

The schema is the one a signed-in nurse reads at ``/api/openapi.json``; every request goes to
the WSGI application in this process (same test database), signed in with the nurse's session
and the CSRF header, as a script would call it. Two checks per answer: no server error (5xx),
and the answer (status, content type, body) is one the schema documents. The number of
examples is bounded and the generation derandomized, so a CI run is repeatable and short.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from prpclinic.api import api
from prpclinic.wsgi import application
from tests.conftest import Chain, Personas, sign_in

# Enough to reach every documented status of each operation; small enough for ~1 min on 2 cores.
MAX_EXAMPLES = 25


@pytest.fixture
def nurse_session(personas: Personas, chain: Chain) -> dict[str, str]:
    """Cookies of a signed-in nurse with a CSRF token (the docs page hands out the cookie).

    ``chain`` gives the clinic a centrifuge, lots, a patient and a visit, so that generated
    ids sometimes hit real rows instead of always answering 404."""
    client = Client(enforce_csrf_checks=True)
    sign_in(client, personas.nurse)
    assert client.get("/api/docs").status_code == 200
    return {name: morsel.value for name, morsel in client.cookies.items()}


# The schema /api/openapi.json serves (test_the_fuzzed_schema_is_the_one_the_api_serves checks it is).
# Built at collection, without a request: schemathesis's lazy fixture loader does not run on pytest 9.
schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api"))


def test_the_fuzzed_schema_is_the_one_the_api_serves(nurse_session: dict[str, str]) -> None:
    client = Client()
    for name, value in nurse_session.items():
        client.cookies[name] = value
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.json() == schema.raw_schema


@pytest.fixture
def connection_kept_open() -> Any:
    """As Django's test client does: the WSGI app's request signals must not close the test's
    database connection (on PostgreSQL that would end the test's transaction mid-run)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_every_generated_request_without_a_server_error_and_as_its_schema_says(
    case: Any, nurse_session: dict[str, str], connection_kept_open: None
) -> None:
    response = case.call(
        base_url="http://localhost",
        app=application,
        cookies=nurse_session,
        headers={"X-CSRFToken": nurse_session["csrftoken"]},
    )
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
