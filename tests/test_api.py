"""The JSON API: the PRP chain through the same services as the pages, with CSRF on.

Every call goes through a client that enforces CSRF, as a browser session or a script would
meet it: JSON bodies, and the csrftoken cookie's value in the X-CSRFToken header.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from prpclinic.audit.models import AuditEvent
from prpclinic.clinics.models import Membership
from prpclinic.prp.models import (
    Application,
    BloodDraw,
    Incident,
    Product,
    ProductEvent,
    ProductStatus,
    Spin,
    Verification,
)
from tests.browser import CHROMIUM_ARGS, REPORT_CSP_VIOLATIONS
from tests.conftest import Chain, Personas, make_patient, sign_in

CSRF_REFUSED = "This request has no valid CSRF token: send the value of the csrftoken cookie in the X-CSRFToken header."
NOT_SIGNED_IN = "Sign in to prpclinic (with your second factor) before using the API."


class Api:
    """A session of one persona calling the API with JSON and the CSRF header."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def post(self, url: str, data: Any, *, csrf: bool = True) -> HttpResponse:
        token = self.client.cookies["csrftoken"].value if csrf and "csrftoken" in self.client.cookies else ""
        return self.client.post(
            url, json.dumps(data), content_type="application/json", headers={"X-CSRFToken": token} if token else {}
        )

    def get(self, url: str) -> HttpResponse:
        return self.client.get(url)


@pytest.fixture
def api_as(personas: Personas) -> Callable[[str], Api]:
    """``api_as("nurse")``: a CSRF-enforcing session; the docs page hands out the CSRF cookie."""

    def make(name: str) -> Api:
        client = Client(enforce_csrf_checks=True)
        user = personas.by_name(name)
        if user is not None:
            sign_in(client, user)
            assert client.get("/api/docs").status_code == 200
        return Api(client)

    return make


def ago(minutes: float) -> str:
    return (timezone.now() - dt.timedelta(minutes=minutes)).isoformat()


def draw_body(chain: Chain, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "visit_id": chain.visit.pk,
        "drawn_at": ago(60),
        "site": "antecubital_left",
        "volume_ml": "18",
        "tube_count": 2,
        "tube_lot_id": chain.tube_lot.pk,
        "kit_lot_id": chain.kit_lot.pk,
        "anticoagulant": "sodium_citrate_3_2",
        "identity_check": "scan",
        "scanned_code": f"PT-{chain.patient.mrn}",
        "platelets_k_per_ul": "250",
        "hematocrit_pct": "42",
        "wbc_k_per_ul": "6.5",
    }
    body.update(overrides)
    return body


def drawn(api: Api, chain: Chain) -> dict[str, Any]:
    response = api.post("/api/prp/draws", draw_body(chain))
    assert response.status_code == 201, response.content
    return response.json()


def prepared(api: Api, chain: Chain) -> dict[str, Any]:
    product = drawn(api, chain)
    url = f"/api/prp/products/{product['id']}"
    for started in (55, 44):
        spun = api.post(
            f"{url}/spins",
            {"centrifuge_id": chain.centrifuge.pk, "program_id": chain.program.pk, "started_at": ago(started)},
        )
        assert spun.status_code == 201, spun.content
    response = api.post(f"{url}/prepare", {"prepared_at": ago(30), "volume_ml": "3", "platelets_k_per_ul": "1050"})
    assert response.status_code == 200, response.content
    return response.json()


def footprint() -> tuple[int, ...]:
    """What a refused call must leave as it was."""
    return tuple(
        model.objects.count()
        for model in (Product, BloodDraw, Spin, ProductEvent, Verification, Incident, Application, AuditEvent)
    ) + tuple(Product.objects.order_by("pk").values_list("status", flat=True))


def test_the_whole_chain_runs_through_the_api_for_one_patient(api_as: Callable[[str], Api], chain: Chain) -> None:
    nurse = api_as("nurse")
    product = drawn(nurse, chain)
    assert (product["status"], product["patient"]) == (
        "drawn",
        {"id": chain.patient.pk, "mrn": "A000100", "full_name": "Clara Weber", "date_of_birth": "1985-04-30"},
    )
    url = f"/api/prp/products/{product['id']}"
    spins = [
        nurse.post(
            f"{url}/spins", {"centrifuge_id": chain.centrifuge.pk, "program_id": chain.program.pk, "started_at": ago(m)}
        )
        for m in (55, 44)
    ]
    assert [(r.status_code, r.json()["spin"]["number"], r.json()["spin"]["rcf"]) for r in spins] == [
        (201, 1, 200),
        (201, 2, 600),
    ]
    ready = nurse.post(f"{url}/prepare", {"prepared_at": ago(30), "volume_ml": "3", "platelets_k_per_ul": "1050"})
    assert (ready.status_code, ready.json()["status"], ready.json()["volume_ml"]) == (200, "prepared", "3.00")

    check = nurse.post("/api/prp/verifications", {"patient_code": "PT-A000100", "product_code": product["barcode"]})
    assert (check.status_code, check.json()["result"], check.json()["product"]["status"]) == (200, "match", "verified")
    assert check.json()["message"] == f"Match: {product['barcode']} is Clara Weber's (A000100). It may be applied."

    given = nurse.post(
        f"{url}/apply",
        {
            "patient_id": chain.patient.pk,
            "visit_id": chain.visit.pk,
            "zones": [{"zone": "vertex", "volume_ml": "1.5"}, {"zone": "frontal hairline", "volume_ml": 1.2}],
        },
    )
    assert given.status_code == 201, given.content
    assert (given.json()["volume_applied_ml"], given.json()["remainder_ml"], given.json()["applied_by"]) == (
        "2.70",
        "0.30",
        "Nina Nurse",
    )

    trace = nurse.get(f"{url}/trace").json()
    assert trace["product"]["status"] == "applied"
    assert [(e["from_status"], e["to_status"]) for e in trace["events"]] == [
        (None, "drawn"),
        ("drawn", "spun"),
        ("spun", "prepared"),
        ("prepared", "verified"),
        ("verified", "applied"),
    ]
    # Recovery = (1050 x 3) / (250 x 18); CF = 1050 / 250; dose = 1050 x 3 / 1000 (10^9).
    assert {k: trace["measures"][k] for k in ("recovery", "concentration_factor", "dose_billion", "paw")} == {
        "recovery": "0.700",
        "concentration_factor": "4.20",
        "dose_billion": "3.15",
        "paw": "P3",
    }
    assert [v["result"] for v in trace["verifications"]] == ["match"]
    assert trace["application"]["zones"] == [
        {"zone": "vertex", "volume_ml": "1.50"},
        {"zone": "frontal hairline", "volume_ml": "1.20"},
    ]
    assert [s["number"] for s in trace["product"]["spins"]] == [1, 2]
    assert AuditEvent.objects.filter(action="prp.trace_view").count() == 1


def test_a_wrong_patient_scan_answers_409_naming_both_patients_and_quarantines_the_product(
    api_as: Callable[[str], Api], chain: Chain, personas: Personas
) -> None:
    nurse = api_as("nurse")
    product = prepared(nurse, chain)
    make_patient(personas.clinic_a, given_name="Paul", family_name="Novak", mrn="A000200")

    response = nurse.post("/api/prp/verifications", {"patient_code": "PT-A000200", "product_code": product["barcode"]})

    body = response.json()
    assert (response.status_code, body["result"]) == (409, "mismatch")
    assert (body["product"]["patient"]["mrn"], body["patient"]["mrn"]) == ("A000100", "A000200")
    assert body["message"] == (
        f"STOP, wrong patient: {product['barcode']} belongs to Clara Weber (A000100); the wristband scanned is "
        "Paul Novak's (A000200). The product is quarantined and an incident recorded; a physician must decide."
    )
    assert body["incident_id"] == Incident.objects.get().pk
    assert body["product"]["status"] == "quarantined"
    assert Product.objects.get(pk=product["id"]).status == ProductStatus.QUARANTINED


def test_a_refused_bedside_check_answers_409_with_the_reason(api_as: Callable[[str], Api], chain: Chain) -> None:
    nurse = api_as("nurse")
    product = drawn(nurse, chain)

    response = nurse.post("/api/prp/verifications", {"patient_code": "PT-A000100", "product_code": product["barcode"]})

    assert (response.status_code, response.json()["result"], response.json()["message"]) == (
        409,
        "refused",
        "Do not use this product: it has not been spun and prepared yet.",
    )
    assert Product.objects.get(pk=product["id"]).status == ProductStatus.DRAWN


def test_applying_a_product_that_was_not_verified_is_refused_with_a_clear_message(
    api_as: Callable[[str], Api], chain: Chain
) -> None:
    nurse = api_as("nurse")
    product = prepared(nurse, chain)
    before = footprint()

    response = nurse.post(
        f"/api/prp/products/{product['id']}/apply",
        {"patient_id": chain.patient.pk, "visit_id": chain.visit.pk, "zones": [{"zone": "vertex", "volume_ml": "1"}]},
    )

    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "field": None,
                "message": f"Product {product['barcode']} is prepared: "
                "only a product verified at the bedside is applied.",
            }
        ]
    }
    assert footprint() == before


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/api/prp/draws"),
        ("post", "/api/prp/products/1/discard"),
        ("get", "/api/prp/products/1/trace"),
        ("get", "/api/docs"),
        ("get", "/api/openapi.json"),
    ],
)
def test_anonymous_callers_get_401_in_json_not_a_redirect(method: str, url: str, db: Any) -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post(url, "{}", content_type="application/json") if method == "post" else client.get(url)

    assert (response.status_code, response["Content-Type"]) == (401, "application/json; charset=utf-8")
    assert response.json() == {"detail": [{"field": None, "message": NOT_SIGNED_IN}]}


def test_a_session_before_its_second_factor_gets_401_not_a_redirect(personas: Personas) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.physician)
    session = client.session
    session["mfa"] = "verify"
    session.save()

    response = client.get("/api/prp/products/1/trace")

    assert (response.status_code, response.json()) == (401, {"detail": [{"field": None, "message": NOT_SIGNED_IN}]})


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    api_as: Callable[[str], Api], chain: Chain
) -> None:
    nurse = api_as("nurse")
    before = footprint()

    response = nurse.post("/api/prp/draws", draw_body(chain), csrf=False)

    assert (response.status_code, response.json()) == (403, {"detail": [{"field": None, "message": CSRF_REFUSED}]})
    assert footprint() == before


def test_the_front_desk_may_read_a_trace_but_not_draw_blood(api_as: Callable[[str], Api], chain: Chain) -> None:
    product = drawn(api_as("nurse"), chain)
    desk = api_as("front_desk")
    before = footprint()

    response = desk.post("/api/prp/draws", draw_body(chain))

    assert (response.status_code, response.json()) == (
        403,
        {"detail": [{"field": None, "message": "Your role may not do this (prp.handle)."}]},
    )
    assert footprint() == before
    assert desk.get(f"/api/prp/products/{product['id']}/trace").status_code == 200


def test_only_a_physician_releases_a_quarantined_product(api_as: Callable[[str], Api], chain: Chain) -> None:
    nurse = api_as("nurse")
    product = drawn(nurse, chain)
    url = f"/api/prp/products/{product['id']}"
    assert nurse.post(f"{url}/quarantine", {"reason": "cap loose"}).json()["status"] == "quarantined"

    refused = nurse.post(f"{url}/release", {"reason": "checked"})
    released = api_as("physician").post(f"{url}/release", {"reason": "cap tight, tube intact"})

    assert (refused.status_code, released.status_code, released.json()["status"]) == (403, 200, "drawn")


def test_a_member_without_an_active_clinic_is_refused(
    api_as: Callable[[str], Api], chain: Chain, personas: Personas
) -> None:
    nurse = api_as("nurse")
    Membership.objects.filter(user=personas.nurse).update(is_active=False)

    response = nurse.post("/api/prp/draws", draw_body(chain))

    assert (response.status_code, response.json()["detail"][0]["message"]) == (
        403,
        "You have no active place in a clinic.",
    )
    assert nurse.get("/api/openapi.json").status_code == 403


def test_another_clinics_product_answers_404_and_stays_as_it_was(api_as: Callable[[str], Api], chain: Chain) -> None:
    product = drawn(api_as("nurse"), chain)
    outsider = api_as("other_physician")
    url = f"/api/prp/products/{product['id']}"
    before = footprint()

    responses = [
        outsider.get(f"{url}/trace"),
        outsider.post(f"{url}/discard", {"reason": "mine now"}),
        outsider.post(
            f"{url}/spins", {"centrifuge_id": chain.centrifuge.pk, "program_id": chain.program.pk, "started_at": ago(5)}
        ),
    ]

    assert [(r.status_code, r.json()) for r in responses] == [
        (404, {"detail": [{"field": None, "message": "No such product in this clinic."}]})
    ] * 3
    assert footprint() == before


IN_AN_HOUR = (timezone.now() + dt.timedelta(hours=1)).isoformat()


@pytest.mark.parametrize(
    ("path", "change", "field", "message"),
    [
        ("draws", {"volume_ml": "-5"}, "volume_ml", "Must be more than 0."),
        ("draws", {"volume_ml": "18.25"}, "volume_ml", "Give at most 1 decimal place(s)."),
        ("draws", {"drawn_at": "in an hour"}, "drawn_at", "Give a date and time, e.g. 2026-03-01T09:30:00+01:00."),
        (
            "draws",
            {"drawn_at": "2026-01-05T09:30:00"},
            "drawn_at",
            "Give the time with its UTC offset, e.g. 2026-03-01T09:30:00+01:00.",
        ),
        ("draws", {"drawn_at": "future"}, "drawn_at", "This time is in the future."),
        ("draws", {"tube_lot_id": 999_999}, "tube_lot_id", "Choose a lot of this clinic."),
        (
            "draws",
            {"site": "ankle"},
            "site",
            "Choose one of: 'antecubital_left', 'antecubital_right', 'hand_left', 'hand_right' or 'other'.",
        ),
        (
            "draws",
            {"scanned_code": "PT-A999999"},
            "scanned_code",
            "The scanned wristband is not Clara Weber's (A000100). Stop and check the patient.",
        ),
        ("draws", {"status": "applied"}, "status", "This field is not part of this request; leave it out."),
        (
            "verifications",
            {"product_code": "PRP-ZZZZZZZZ"},
            "product_code",
            "No product of this clinic has this barcode.",
        ),
        (
            "verifications",
            {"product_code": "A000100"},
            "product_code",
            "This is not a PRP product barcode (it starts with PRP-).",
        ),
        ("apply", {"zones": [{"zone": "vertex", "volume_ml": "-1"}]}, "zones.0.volume_ml", "Must be more than 0."),
        ("apply", {"zones": []}, "zones", "Give at least 1 item(s)."),
        ("spins", {"temperature_c": 90}, "temperature_c", "Must be 37 or less."),
        ("discard", {}, "reason", "This field is required."),
        ("discard", {"reason": "  "}, "reason", "Say why, for the record."),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
    api_as: Callable[[str], Api], chain: Chain, path: str, change: dict[str, Any], field: str, message: str
) -> None:
    nurse = api_as("nurse")
    product = prepared(nurse, chain)
    bodies: dict[str, tuple[str, dict[str, Any]]] = {
        "draws": ("/api/prp/draws", draw_body(chain)),
        "verifications": ("/api/prp/verifications", {"patient_code": "PT-A000100", "product_code": product["barcode"]}),
        "apply": (
            f"/api/prp/products/{product['id']}/apply",
            {"patient_id": chain.patient.pk, "visit_id": chain.visit.pk, "zones": []},
        ),
        "spins": (
            f"/api/prp/products/{product['id']}/spins",
            {"centrifuge_id": chain.centrifuge.pk, "started_at": ago(5), "rcf": 200, "minutes": 10},
        ),
        "discard": (f"/api/prp/products/{product['id']}/discard", {}),
    }
    url, body = bodies[path]
    body.update({key: IN_AN_HOUR if value == "future" else value for key, value in change.items()})
    before = footprint()

    response = nurse.post(url, body)

    assert (response.status_code, response.json()) == (422, {"detail": [{"field": field, "message": message}]})
    assert footprint() == before


def test_a_body_that_is_not_json_is_refused_with_400(api_as: Callable[[str], Api], chain: Chain) -> None:
    nurse = api_as("nurse")
    token = nurse.client.cookies["csrftoken"].value

    response = nurse.client.post("/api/prp/draws", {"volume_ml": "18"}, headers={"X-CSRFToken": token})

    assert response.status_code == 400
    assert response.json()["detail"][0]["field"] is None


def test_the_trace_lists_every_event_in_order_with_who_and_why(api_as: Callable[[str], Api], chain: Chain) -> None:
    nurse, physician = api_as("nurse"), api_as("physician")
    product = drawn(nurse, chain)
    url = f"/api/prp/products/{product['id']}"
    nurse.post(f"{url}/quarantine", {"reason": "tube label smudged"})
    physician.post(f"{url}/release", {"reason": "label reprinted and checked"})
    nurse.post(f"{url}/discard", {"reason": "treatment postponed"})

    trace = api_as("front_desk").get(f"{url}/trace").json()

    assert [(e["from_status"], e["to_status"], e["actor"], e["reason"]) for e in trace["events"]] == [
        (None, "drawn", "Nina Nurse", ""),
        ("drawn", "quarantined", "Nina Nurse", "tube label smudged"),
        ("quarantined", "drawn", "Phil Physician", "released: label reprinted and checked"),
        ("drawn", "discarded", "Nina Nurse", "treatment postponed"),
    ]
    times = [e["at"] for e in trace["events"]]
    assert times == sorted(times)
    # Nothing was prepared: no PRP volume or count, so no measure is made up.
    assert trace["measures"] == {
        "recovery": None,
        "concentration_factor": None,
        "dose_billion": None,
        "paw": None,
        "plra": None,
    }
    assert (trace["application"], trace["incidents"], trace["product"]["status"]) == (None, [], "discarded")


def test_the_openapi_schema_lists_every_operation_for_signed_in_staff(
    api_as: Callable[[str], Api], personas: Personas
) -> None:
    schema = api_as("front_desk").get("/api/openapi.json").json()

    operations = {(path, method) for path, ops in schema["paths"].items() for method in ops}
    assert operations == {
        ("/api/prp/draws", "post"),
        ("/api/prp/products/{product_id}/spins", "post"),
        ("/api/prp/products/{product_id}/prepare", "post"),
        ("/api/prp/verifications", "post"),
        ("/api/prp/products/{product_id}/apply", "post"),
        ("/api/prp/products/{product_id}/discard", "post"),
        ("/api/prp/products/{product_id}/quarantine", "post"),
        ("/api/prp/products/{product_id}/release", "post"),
        ("/api/prp/products/{product_id}/trace", "get"),
    }
    assert schema["paths"]["/api/prp/draws"]["post"]["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert set(schema["components"]["schemas"]["DrawIn"]["properties"]) == {
        "visit_id", "drawn_at", "site", "volume_ml", "tube_count", "tube_lot_id", "kit_lot_id", "anticoagulant",
        "identity_check", "scanned_code", "platelets_k_per_ul", "hematocrit_pct", "wbc_k_per_ul",
    }  # fmt: skip


def test_a_trace_costs_the_same_queries_however_long_the_history(api_as: Callable[[str], Api], chain: Chain) -> None:
    nurse, physician = api_as("nurse"), api_as("physician")
    short, long = prepared(nurse, chain), prepared(nurse, chain)
    make_patient(chain.patient.clinic, mrn="A000200")
    for _ in range(3):  # a wrong-patient scan, an incident, a release: three times over
        nurse.post("/api/prp/verifications", {"patient_code": "PT-A000200", "product_code": long["barcode"]})
        physician.post(f"/api/prp/products/{long['id']}/release", {"reason": "checked"})

    counts = []
    for product in (short, long):
        with CaptureQueriesContext(connection) as queries:
            assert nurse.get(f"/api/prp/products/{product['id']}/trace").status_code == 200
        counts.append(len(queries))

    assert counts[0] == counts[1], [q["sql"] for q in queries.captured_queries]


def test_the_docs_page_sends_the_csrf_token_for_try_it_out(api_as: Callable[[str], Api]) -> None:
    page = api_as("nurse").get("/api/docs")

    assert (page.status_code, b'data-api-csrf="true"' in page.content) == (200, True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_docs_page_renders_every_operation_in_a_browser_under_the_csp(
    live_server: Any, signed_in: Callable[[str], Client]
) -> None:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Chromium is not installed (apt-get install -y chromium).", pytrace=False)
    session = signed_in("nurse").cookies["sessionid"].value
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context()
        context.add_cookies([{"name": "sessionid", "value": session, "url": str(live_server)}])
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        page = context.new_page()
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(error.message))

        page.goto(f"{live_server}/api/docs")

        for path in ("/api/prp/draws", "/api/prp/verifications", "/api/prp/products/{product_id}/trace"):
            expect(page.get_by_text(path, exact=True)).to_be_visible()
        page.wait_for_load_state("networkidle")
        browser.close()
    assert errors == []
