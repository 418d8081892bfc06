"""The PRP pages as staff use them: visit page, bedside scan, apply, board, trace, incidents, devices, lots."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from prpclinic.prp.models import Incident, Product, ProductStatus, SpinProgram
from tests.conftest import Chain, Personas, clinic_request, make_patient
from tests.ready import ready_for_visit
from tests.test_prp_chain import prepared_product


def local(when: dt.datetime) -> str:
    """As a nurse types it: in the clinic's zone (Europe/Vienna for clinic A)."""
    return timezone.localtime(when, zoneinfo.ZoneInfo("Europe/Vienna")).strftime("%Y-%m-%dT%H:%M")


def ago(minutes: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=minutes)


def test_a_nurse_runs_the_chain_from_the_visit_page(personas: Personas, chain: Chain, signed_in: Any) -> None:
    nurse = signed_in("nurse")
    page = nurse.get(f"/visits/{chain.visit.pk}/").content.decode()
    assert "Clara Weber" in page and "A000100" in page and "Draw blood" in page
    response = nurse.post(
        f"/prp/draw/{chain.visit.pk}/",
        {
            "identity_check": "scan",
            "scanned_code": "PT-A000100",
            "drawn_at": local(ago(60)),
            "site": "antecubital_left",
            "volume_ml": "18",
            "tube_count": "2",
            "tube_lot": chain.tube_lot.pk,
            "kit_lot": chain.kit_lot.pk,
            "anticoagulant": "sodium_citrate_3_2",
            "platelets_k_per_ul": "240",
        },
    )
    assert response.status_code == 302
    product = Product.objects.get()
    for started in (55, 44):
        response = nurse.post(
            f"/prp/products/{product.pk}/spin/",
            {"centrifuge": chain.centrifuge.pk, "program": chain.program.pk, "started_at": local(ago(started))},
        )
        assert response.status_code == 302
    response = nurse.post(
        f"/prp/products/{product.pk}/prepare/",
        {"prepared_at": local(ago(30)), "volume_ml": "3.0", "activation": "none", "platelets_k_per_ul": "1100"},
    )
    assert response.status_code == 302
    page = nurse.get(f"/visits/{chain.visit.pk}/").content.decode()
    assert "Prepared" in page and "CF 4.58" in page and "PAW P3" in page
    verified = nurse.post("/prp/verify/", {"patient_code": "PT-A000100", "product_code": product.barcode})
    assert verified.status_code == 200 and "✓ Match" in verified.content.decode()
    applied = nurse.post(
        f"/prp/products/{product.pk}/apply/",
        {"patient_id": chain.patient.pk, "zone_0": "vertex", "volume_0": "2", "zone_1": "temples", "volume_1": "0.8"},
    )
    assert applied.status_code == 302
    product.refresh_from_db()
    assert product.status == ProductStatus.APPLIED
    trace = nurse.get(f"/prp/products/{product.pk}/").content.decode()
    assert "vertex 2.00 mL" in trace and "Remainder 0.20 mL disposed by Nina Nurse" in trace


def test_a_draw_with_bad_values_shows_the_messages_and_records_nothing(
    personas: Personas, chain: Chain, signed_in: Any
) -> None:
    response = signed_in("nurse").post(
        f"/prp/draw/{chain.visit.pk}/",
        {
            "identity_check": "scan",
            "scanned_code": "PT-A009999",
            "drawn_at": local(timezone.now() + dt.timedelta(hours=2)),
            "site": "antecubital_left",
            "volume_ml": "40",
            "tube_count": "2",
            "tube_lot": chain.tube_lot.pk,
            "anticoagulant": "sodium_citrate_3_2",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "is not Clara Weber&#x27;s (A000100). Stop and check the patient." in page
    assert "This time is in the future." in page
    assert "40 mL does not fit in 2 tube(s) of 9.0 mL (18.0 mL)." in page
    assert Product.objects.count() == 0


def test_a_wrong_patient_scan_shows_a_full_screen_stop_naming_both_patients(
    personas: Personas, chain: Chain, signed_in: Any
) -> None:
    product = prepared_product(clinic_request(personas.nurse, personas.clinic_a), chain)
    make_patient(personas.clinic_a, given_name="Paul", family_name="Novak", mrn="A000555")
    response = signed_in("nurse").post("/prp/verify/", {"patient_code": "PT-A000555", "product_code": product.barcode})
    assert response.status_code == 409
    page = response.content.decode()
    assert 'data-testid="wrong-patient"' in page and "STOP — WRONG PATIENT" in page
    assert "Clara Weber" in page and "Paul Novak" in page
    product.refresh_from_db()
    assert product.status == ProductStatus.QUARANTINED
    incidents = signed_in("physician").get("/prp/incidents/").content.decode()
    assert "Novak, Paul (A000555)" in incidents
    released = signed_in("physician").post(
        f"/prp/products/{product.pk}/release/", {"reason": "label re-checked", "next": "incidents"}
    )
    assert released.status_code == 302 and released.url == "/prp/incidents/"
    assert Incident.objects.get().status == "released"


def test_a_tube_label_on_the_bedside_page_is_refused_next_to_the_syringe_field(
    personas: Personas, chain: Chain, signed_in: Any
) -> None:
    product = prepared_product(clinic_request(personas.nurse, personas.clinic_a), chain)
    response = signed_in("nurse").post(
        "/prp/verify/", {"patient_code": "PT-A000100", "product_code": product.tube_barcode(1)}
    )
    assert response.status_code == 400
    assert "This is a tube label. Scan the label on the PRP syringe." in response.content.decode()


def test_the_day_board_shows_todays_products_with_countdowns(personas: Personas, chain: Chain, signed_in: Any) -> None:
    product = prepared_product(clinic_request(personas.nurse, personas.clinic_a), chain)
    page = signed_in("front_desk").get("/prp/board/").content.decode()
    assert product.barcode in page and "Weber, Clara" in page
    assert f'data-countdown="{product.expires_at.isoformat()}"' in page or "data-countdown=" in page
    assert 'hx-trigger="every 15s"' in page
    rows = signed_in("front_desk").get("/prp/board/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in rows and product.barcode in rows


def _count(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_board_visit_and_trace_pages_run_a_bounded_number_of_queries(
    personas: Personas, chain: Chain, signed_in: Any
) -> None:
    nurse_request = clinic_request(personas.nurse, personas.clinic_a)
    first = prepared_product(nurse_request, chain)
    client = signed_in("nurse")
    one = [_count(client, url) for url in ("/prp/board/", f"/visits/{chain.visit.pk}/", f"/prp/products/{first.pk}/")]
    for _ in range(3):
        prepared_product(nurse_request, chain)
    many = [_count(client, url) for url in ("/prp/board/", f"/visits/{chain.visit.pk}/", f"/prp/products/{first.pk}/")]
    assert one == many


def test_a_program_is_saved_with_both_g_and_rpm_and_a_speed_above_the_maximum_is_refused(
    personas: Personas, chain: Chain, signed_in: Any
) -> None:
    client = signed_in("physician")
    url = f"/prp/devices/{chain.centrifuge.pk}/programs/"
    response = client.post(url, {"name": "Single", "spin1_rpm": "1500", "spin1_minutes": "12", "temperature_c": "22"})
    assert response.status_code == 302
    program = SpinProgram.objects.get(name="Single")
    assert (program.spin1_rpm, program.spin1_rcf) == (1500, round(1.118e-5 * 8.6 * 1500**2))
    response = client.post(url, {"name": "Too fast", "spin1_rcf": "5000", "spin1_minutes": "5", "temperature_c": "22"})
    assert response.status_code == 400
    assert "goes up to 6000 RPM" in response.content.decode()
    page = client.get(f"/prp/devices/{chain.centrifuge.pk}/").content.decode()
    assert 'data-rotor-radius="8.60"' in page and 'data-max-rpm="6000"' in page


def test_an_overdue_calibration_is_flagged_and_an_out_of_service_device_offered_to_no_spin(
    personas: Personas, chain: Chain, signed_in: Any
) -> None:
    chain.centrifuge.calibration_due = dt.date.today() - dt.timedelta(days=3)
    chain.centrifuge.save()
    client = signed_in("physician")
    assert "overdue" in client.get("/prp/devices/").content.decode()
    chain.centrifuge.in_service = False
    chain.centrifuge.out_of_service_reason = "noise"
    chain.centrifuge.save()
    nurse_request = clinic_request(personas.nurse, personas.clinic_a)
    from tests.test_prp_chain import do_draw

    do_draw(nurse_request, chain)
    page = signed_in("nurse").get(f"/visits/{chain.visit.pk}/").content.decode()
    assert "SN SN-1001)</option>" not in page and "Start spin 1" in page


def test_recalling_a_lot_shows_everyone_it_was_used_for(personas: Personas, chain: Chain, signed_in: Any) -> None:
    from tests.test_prp_chain import do_draw

    product = do_draw(clinic_request(personas.nurse, personas.clinic_a), chain)
    response = signed_in("physician").post(f"/prp/lots/{chain.kit_lot.pk}/recall/", {"reason": "supplier notice 42"})
    assert response.status_code == 302 and response.url == f"/prp/lots/{chain.kit_lot.pk}/"
    page = signed_in("physician").get(response.url).content.decode()
    assert "Weber, Clara" in page and product.barcode in page and "supplier notice 42" in page


def test_the_lot_form_refuses_a_duplicate_lot(personas: Personas, chain: Chain, signed_in: Any) -> None:
    response = signed_in("nurse").post(
        "/prp/lots/",
        {
            "kind": "tube",
            "product_name": chain.tube_lot.product_name,
            "lot_number": chain.tube_lot.lot_number,
            "expiry_date": "2030-01-01",
            "tube_capacity_ml": "9",
            "anticoagulant": "sodium_citrate_3_2",
        },
    )
    assert response.status_code == 400 and "This lot is already registered." in response.content.decode()


def test_the_chart_lists_visits_and_starts_one(personas: Personas, chain: Chain, signed_in: Any) -> None:
    client = signed_in("physician")
    assert "Start a visit" in client.get(f"/patients/{chain.patient.pk}/").content.decode()
    ready_for_visit(
        clinic=personas.clinic_a, patient=chain.patient, treatment="microneedling_prp", by=personas.physician
    )
    response = client.post(f"/visits/start/{chain.patient.pk}/", {"treatment": "microneedling_prp"})
    assert response.status_code == 302
    page = client.get(f"/patients/{chain.patient.pk}/").content.decode()
    assert "Micro-needling with PRP" in page and "PRP for hair loss" in page


def test_prepared_volume_is_shown_with_its_expiry_in_the_visit_page(
    personas: Personas, chain: Chain, signed_in: Any
) -> None:
    product = prepared_product(clinic_request(personas.nurse, personas.clinic_a), chain, volume_ml=Decimal("2.5"))
    page = signed_in("nurse").get(f"/visits/{chain.visit.pk}/").content.decode()
    vienna = zoneinfo.ZoneInfo("Europe/Vienna")
    assert "2.50 mL" in page and timezone.localtime(product.expires_at, vienna).strftime("%Y-%m-%d %H:%M") in page


def test_a_spin_on_a_device_past_its_calibration_date_warns_the_nurse(
    personas: Personas, chain: Chain, signed_in: Any
) -> None:
    from tests.test_prp_chain import do_draw

    chain.centrifuge.calibration_due = dt.date.today() - dt.timedelta(days=1)
    chain.centrifuge.save()
    product = do_draw(clinic_request(personas.nurse, personas.clinic_a), chain)
    nurse = signed_in("nurse")
    response = nurse.post(
        f"/prp/products/{product.pk}/spin/",
        {"centrifuge": chain.centrifuge.pk, "program": chain.program.pk, "started_at": local(ago(50))},
        follow=True,
    )
    assert "calibration was due on" in response.content.decode()
