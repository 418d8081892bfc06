"""Charting a visit on the body maps: entries per zone, warnings and refusals, PRP reconciliation, completion."""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from prpclinic.audit.models import AuditEvent
from prpclinic.prp.models import Application
from prpclinic.prp.services import bedside
from prpclinic.treatments.models import Cocktail, Protocol, VialLot
from prpclinic.treatments.selectors import current_protocol
from prpclinic.visits import selectors, services
from prpclinic.visits.models import Visit, VisitStatus, ZoneEntry
from tests.conftest import Chain, Personas, clinic_request, make_patient
from tests.ready import ready_for_visit
from tests.test_prp_chain import prepared_product


def visit_of(personas: Personas, kind: str, patient: Any = None) -> Visit:
    """An open visit of clinic A under the current protocol of ``kind``."""
    clinic = personas.clinic_a
    return Visit.objects.create(
        clinic=clinic,
        patient=patient or make_patient(clinic),
        treatment=kind,
        clinician=personas.physician,
        protocol=current_protocol(clinic_id=clinic.pk, kind=kind),
    )


def page_of(response: Any) -> str:
    return html.unescape(response.content.decode())


def chart(client: Any, visit: Visit, zone: str, **values: Any) -> Any:
    return client.post(f"/visits/{visit.pk}/zones/{zone}/", values)


FACE = {"device": "pen", "depth_mm": "0.5", "passes": "3", "cartridge_lot": "CART-9", "prp_volume_ml": "1.0"}


def vial_lot(personas: Personas, *, expires_in_days: int, number: str = "V-1") -> VialLot:
    cocktail = Cocktail.objects.filter(clinic=personas.clinic_a).first() or Cocktail.objects.create(
        clinic=personas.clinic_a, name="Face revitalising", ingredients=["hyaluronic acid"]
    )
    return VialLot.objects.create(
        clinic=personas.clinic_a,
        cocktail=cocktail,
        lot_number=number,
        expiry_date=dt.date.today() + dt.timedelta(days=expires_in_days),
        registered_by=personas.physician,
    )


def applied_prp(personas: Personas, chain: Chain, zones: list[dict[str, str]]) -> Application:
    """PRP made, verified at the bedside and applied in the chain's (scalp) visit."""
    nurse = clinic_request(personas.nurse, personas.clinic_a)
    product = prepared_product(nurse, chain)
    bedside.product_verify_at_bedside(request=nurse, patient_code="PT-A000100", product_code=product.barcode)
    return bedside.product_apply(
        request=nurse, product_id=product.pk, patient_id=chain.patient.pk, visit_id=chain.visit.pk, zones=zones
    )


def test_a_nurse_charts_a_face_zone_and_the_map_marks_it_charted(personas: Personas, signed_in: Any) -> None:
    visit = visit_of(personas, "microneedling_prp")
    nurse = signed_in("nurse")
    response = chart(nurse, visit, "forehead", **FACE)
    assert response.status_code == 302
    assert response.url == f"/visits/{visit.pk}/#entry-face-forehead"
    entry = ZoneEntry.objects.get()
    assert (entry.map, entry.zone, entry.depth_mm, entry.passes, entry.device, entry.cartridge_lot) == (
        "face",
        "forehead",
        Decimal("0.50"),
        3,
        "pen",
        "CART-9",
    )
    assert (entry.prp_volume_ml, entry.entered_by, entry.warnings) == (Decimal("1.00"), personas.nurse, [])
    page = page_of(nurse.get(f"/visits/{visit.pk}/"))
    assert 'data-zone="forehead" data-map="face" role="button" tabindex="0" aria-pressed="false" ' in page
    assert 'aria-label="Forehead, charted" class="zone charted"' in page
    assert 'aria-label="Chin, not charted" class="zone"' in page
    assert "0.5 mm · 3 pass(es) · Micro-needling pen · cartridge lot CART-9 · 1.00 mL PRP" in page
    assert AuditEvent.objects.filter(action="visit.chart", object_id=str(entry.pk)).count() == 1


def test_a_depth_outside_the_zone_range_warns_and_is_saved_only_once_acknowledged(
    personas: Personas, signed_in: Any
) -> None:
    visit = visit_of(personas, "microneedling_prp")
    nurse = signed_in("nurse")
    response = chart(nurse, visit, "forehead", **(FACE | {"depth_mm": "1.0"}))
    assert response.status_code == 400
    page = page_of(response)
    assert "⚠ 1 mm is outside the protocol's range for Forehead (0.25–0.75 mm)." in page
    assert "I have checked: record it anyway" in page
    # The map still shows which zone the form is for (only that one).
    assert 'data-zone="forehead" data-map="face" role="button" tabindex="0" aria-pressed="true" ' in page
    assert page.count('aria-pressed="true"') == 1
    assert ZoneEntry.objects.count() == 0
    response = chart(nurse, visit, "forehead", **(FACE | {"depth_mm": "1.0", "acknowledge_warnings": "on"}))
    assert response.status_code == 302
    entry = ZoneEntry.objects.get()
    assert entry.warnings == [
        {"code": "depth_outside_range", "message": "1 mm is outside the protocol's range for Forehead (0.25–0.75 mm)."}
    ]
    page = page_of(nurse.get(f"/visits/{visit.pk}/"))
    assert 'class="zone charted warned"' in page
    assert "⚠ 1 mm is outside the protocol's range for Forehead (0.25–0.75 mm). (acknowledged)" in page


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"depth_mm": "0"}, "The depth must be more than 0 mm."),
        ({"depth_mm": "-0.5"}, "The depth must be more than 0 mm."),
        ({"depth_mm": "2.0", "device": "roller"}, "2 mm is deeper than the dermaroller reaches (1.5 mm)."),
        ({"depth_mm": "3"}, "3 mm is deeper than the micro-needling pen reaches (2.5 mm)."),
        ({"depth_mm": "25"}, "25 mm is not a possible needle depth. Check the value (e.g. 1.5, not 15)."),
        ({"depth_mm": ""}, "Enter the needle depth in mm."),
        ({"device": ""}, "Choose the device used."),
        ({"passes": "0"}, "The number of passes must be at least 1."),
        ({"prp_volume_ml": "-1"}, "A volume cannot be negative."),
    ],
)
def test_impossible_face_values_are_refused_next_to_the_field_and_nothing_is_saved(
    personas: Personas, signed_in: Any, values: dict[str, str], message: str
) -> None:
    visit = visit_of(personas, "microneedling_prp")
    response = chart(signed_in("nurse"), visit, "cheek_left", **(FACE | values))
    assert response.status_code == 400
    assert f"<li>{message}</li>" in page_of(response)
    assert ZoneEntry.objects.count() == 0


def test_scalp_zones_record_injections_depth_technique_and_prp_volume(personas: Personas, signed_in: Any) -> None:
    visit = visit_of(personas, "prp_scalp")
    nurse = signed_in("nurse")
    values = {"injections": "20", "depth_mm": "3", "technique": "point_by_point", "prp_volume_ml": "1.5"}
    assert chart(nurse, visit, "vertex", **values).status_code == 302
    entry = ZoneEntry.objects.get()
    assert (entry.map, entry.injections, entry.depth_mm, entry.technique, entry.prp_volume_ml) == (
        "scalp",
        20,
        Decimal("3.00"),
        "point_by_point",
        Decimal("1.50"),
    )
    deep = chart(nurse, visit, "frontal", **(values | {"depth_mm": "5"}))
    assert deep.status_code == 400
    assert "⚠ 5 mm is outside the protocol's range for Frontal (2–4 mm)." in page_of(deep)
    none = chart(nurse, visit, "frontal", **(values | {"injections": "", "prp_volume_ml": ""}))
    assert "<li>Enter the number of injections.</li>" in page_of(
        none
    ) and "<li>Enter the volume in mL.</li>" in page_of(none)
    page = page_of(nurse.get(f"/visits/{visit.pk}/"))
    assert "3 mm · 20 injection(s) · Point by point injection · 1.50 mL PRP" in page


def test_mesotherapy_is_charted_by_a_physician_with_cocktail_vial_lot_depth_and_volume(
    personas: Personas, signed_in: Any
) -> None:
    visit = visit_of(personas, "mesotherapy")
    lot = vial_lot(personas, expires_in_days=90)
    values = {
        "cocktail": lot.cocktail_id,
        "vial_lot": lot.pk,
        "depth_mm": "1.8",
        "technique": "papule",
        "volume_ml": "0.5",
    }
    response = chart(signed_in("physician"), visit, "forehead", **values)
    assert response.status_code == 302
    entry = ZoneEntry.objects.get()
    assert (entry.cocktail, entry.vial_lot, entry.depth_mm, entry.volume_ml, entry.prp_volume_ml) == (
        lot.cocktail,
        lot,
        Decimal("1.80"),
        Decimal("0.50"),
        None,
    )
    page = page_of(signed_in("physician").get(f"/visits/{visit.pk}/"))
    assert f"1.8 mm · Papule (micropapules) · {lot.cocktail.name} lot V-1 · 0.50 mL cocktail" in page
    assert "Draw blood" not in page and "PRP charted on the zones" not in page


@pytest.mark.parametrize("depth", ["1.0", "2.5"])
def test_a_mesotherapy_depth_outside_the_mid_dermis_range_is_refused(
    personas: Personas, signed_in: Any, depth: str
) -> None:
    visit = visit_of(personas, "mesotherapy")
    lot = vial_lot(personas, expires_in_days=90)
    values = {
        "cocktail": lot.cocktail_id,
        "vial_lot": lot.pk,
        "depth_mm": depth,
        "technique": "papule",
        "volume_ml": "0.5",
    }
    response = chart(signed_in("physician"), visit, "forehead", **(values | {"acknowledge_warnings": "on"}))
    assert response.status_code == 400
    shown = depth.rstrip("0").rstrip(".")
    message = f"Mesotherapy goes into the mid-dermis: {shown} mm is outside the protocol's 1.5–2 mm for Forehead."
    assert f"<li>{message}</li>" in page_of(response)
    assert ZoneEntry.objects.count() == 0


def test_a_nurse_may_not_chart_mesotherapy(personas: Personas, signed_in: Any) -> None:
    visit = visit_of(personas, "mesotherapy")
    lot = vial_lot(personas, expires_in_days=90)
    nurse = signed_in("nurse")
    assert nurse.get(f"/visits/{visit.pk}/zones/forehead/").status_code == 403
    values = {
        "cocktail": lot.cocktail_id,
        "vial_lot": lot.pk,
        "depth_mm": "1.8",
        "technique": "papule",
        "volume_ml": "1",
    }
    assert chart(nurse, visit, "forehead", **values).status_code == 403
    page = page_of(nurse.get(f"/visits/{visit.pk}/"))
    assert "data-form-url" not in page and "tap a zone to chart it" not in page
    assert ZoneEntry.objects.count() == 0


def test_an_expired_vial_lot_is_refused(personas: Personas, signed_in: Any) -> None:
    visit = visit_of(personas, "mesotherapy")
    old = vial_lot(personas, expires_in_days=-1, number="V-OLD")
    values = {
        "cocktail": old.cocktail_id,
        "vial_lot": old.pk,
        "depth_mm": "1.8",
        "technique": "papule",
        "volume_ml": "1",
    }
    response = chart(signed_in("physician"), visit, "chin", **values)
    assert response.status_code == 400
    assert f"<li>Vial lot V-OLD expired on {old.expiry_date:%Y-%m-%d}: do not use it.</li>" in page_of(response)
    assert ZoneEntry.objects.count() == 0
    form = page_of(signed_in("physician").get(f"/visits/{visit.pk}/zones/chin/"))
    assert "lot V-OLD" not in form  # not offered either


def test_completing_is_refused_while_charted_prp_and_applied_prp_differ_and_succeeds_when_they_add_up(
    personas: Personas, chain: Chain, signed_in: Any
) -> None:
    application = applied_prp(
        personas, chain, [{"zone": "vertex", "volume_ml": "2"}, {"zone": "temples", "volume_ml": "0.8"}]
    )
    nurse = signed_in("nurse")
    values = {"injections": "20", "depth_mm": "3", "technique": "point_by_point", "prp_volume_ml": "2"}
    assert chart(nurse, chain.visit, "vertex", **values).status_code == 302
    assert ZoneEntry.objects.get().application == application  # the only product applied in the visit
    page = page_of(nurse.get(f"/visits/{chain.visit.pk}/"))
    barcode = application.product.barcode
    assert f'<a href="/prp/products/{application.product_id}/">{barcode}</a>: 2.80 mL applied' in page
    assert "(vertex 2.00 mL, temples 0.80 mL); 2.00 mL charted on zones from it" in page
    assert f'1.50 mL PRP from <a href="/prp/products/{application.product_id}/">{barcode}</a>' not in page
    assert f'2.00 mL PRP from <a href="/prp/products/{application.product_id}/">{barcode}</a>' in page
    assert "PRP charted on the zones: <strong>2.00 mL</strong>" in page
    assert "PRP applied in this visit: <strong>2.80 mL</strong>" in page
    assert "✗ 0.80 mL applied is not charted on a zone yet" in page  # not "differ by -0.80 mL"
    refused = nurse.post(f"/visits/{chain.visit.pk}/complete/")
    assert refused.status_code == 400
    assert (
        "The PRP charted on the zones (2.00 mL) does not add up to the PRP applied in this visit (2.80 mL). "
        "Correct the zones before completing."
    ) in page_of(refused)
    chain.visit.refresh_from_db()
    assert chain.visit.status == VisitStatus.OPEN
    # 0.78 mL on the temples: 0.02 mL short, within the rounding tolerance.
    values |= {"prp_volume_ml": "0.78", "injections": "8"}
    assert chart(nurse, chain.visit, "temporal_left", **values).status_code == 302
    assert "✓ They add up" in page_of(nurse.get(f"/visits/{chain.visit.pk}/"))
    done = nurse.post(f"/visits/{chain.visit.pk}/complete/")
    assert done.status_code == 302
    chain.visit.refresh_from_db()
    assert (chain.visit.status, chain.visit.completed_by) == (VisitStatus.COMPLETED, personas.nurse)
    assert chain.visit.protocol == current_protocol(clinic_id=personas.clinic_a.pk, kind="prp_scalp")
    event = AuditEvent.objects.get(action="visit.complete")
    assert event.changes["prp_charted_ml"] == "2.78" and event.changes["prp_applied_ml"] == "2.80"


def test_completing_with_nothing_charted_is_refused(personas: Personas, signed_in: Any) -> None:
    visit = visit_of(personas, "microneedling_prp")
    response = signed_in("physician").post(f"/visits/{visit.pk}/complete/")
    assert response.status_code == 400
    assert "Nothing is charted for this visit yet: chart the treated zones first." in page_of(response)


def test_a_correction_supersedes_the_entry_and_the_history_remains(personas: Personas, signed_in: Any) -> None:
    visit = visit_of(personas, "microneedling_prp")
    nurse = signed_in("nurse")
    assert chart(nurse, visit, "forehead", **FACE).status_code == 302
    first = ZoneEntry.objects.get()
    no_reason = chart(nurse, visit, "forehead", **(FACE | {"depth_mm": "0.25"}))
    assert no_reason.status_code == 400
    assert "<li>Forehead is already charted: say why you correct it (the old entry is kept).</li>" in page_of(no_reason)
    acknowledged = chart(nurse, visit, "forehead", **(FACE | {"depth_mm": "1", "acknowledge_warnings": "on"}))
    assert "say why you correct it" in page_of(acknowledged)  # asked before saving, not after the warning
    fixed = chart(nurse, visit, "forehead", **(FACE | {"depth_mm": "0.25", "correction_reason": "typed 0.5 for 0.25"}))
    assert fixed.status_code == 302
    first.refresh_from_db()
    second = ZoneEntry.objects.exclude(pk=first.pk).get()
    assert (first.is_current, first.depth_mm) == (False, Decimal("0.50"))  # the charted value itself unchanged
    assert (second.is_current, second.supersedes, second.depth_mm) == (True, first, Decimal("0.25"))
    charting = selectors.visit_charting(clinic_id=personas.clinic_a.pk, visit_id=visit.pk)
    assert [e.pk for e in charting.entries] == [second.pk] and [e.pk for e in charting.superseded] == [first.pk]
    assert charting.prp_charted_ml == Decimal("1.00")
    page = page_of(nurse.get(f"/visits/{visit.pk}/"))
    assert '<tr class="superseded">' in page and "correction: typed 0.5 for 0.25" in page
    assert AuditEvent.objects.get(action="visit.chart_correct").changes["supersedes"] == first.pk


def test_another_clinics_visit_answers_404(personas: Personas, signed_in: Any) -> None:
    visit = visit_of(personas, "microneedling_prp")
    other = signed_in("other_physician")
    assert other.get(f"/visits/{visit.pk}/zones/forehead/").status_code == 404
    assert chart(other, visit, "forehead", **FACE).status_code == 404
    assert other.post(f"/visits/{visit.pk}/complete/").status_code == 404
    assert ZoneEntry.objects.count() == 0


def test_a_zone_the_protocol_does_not_have_answers_404(personas: Personas, signed_in: Any) -> None:
    visit = visit_of(personas, "microneedling_prp")
    assert signed_in("nurse").get(f"/visits/{visit.pk}/zones/vertex/").status_code == 404


def test_a_completed_visit_is_read_only(personas: Personas, signed_in: Any) -> None:
    visit = visit_of(personas, "microneedling_prp")
    nurse = signed_in("nurse")
    assert chart(nurse, visit, "forehead", **(FACE | {"prp_volume_ml": ""})).status_code == 302
    assert nurse.post(f"/visits/{visit.pk}/complete/").status_code == 302
    refused = chart(nurse, visit, "chin", **FACE)
    assert refused.status_code == 400
    assert "This visit is completed: its chart can no longer change." in page_of(refused)
    again = nurse.post(f"/visits/{visit.pk}/complete/")
    assert again.status_code == 400
    page = page_of(nurse.get(f"/visits/{visit.pk}/"))
    assert "data-form-url" not in page and "Complete the visit" not in page
    assert "The chart is read-only." in page and "{% aftercare_panel" not in page
    assert ZoneEntry.objects.count() == 1


def test_the_visit_page_runs_the_same_number_of_queries_with_one_or_many_entries(
    personas: Personas, signed_in: Any
) -> None:
    visit = visit_of(personas, "microneedling_prp")
    request = clinic_request(personas.nurse, personas.clinic_a)

    def entry(zone: str, **extra: Any) -> None:
        services.zone_chart(
            request=request, visit_id=visit.pk, zone=zone, device="pen", depth_mm=Decimal("0.5"), passes=3,
            prp_volume_ml=Decimal("0.5"), **extra,
        )  # fmt: skip

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/visits/{visit.pk}/").status_code == 200
        return len(ctx.captured_queries)

    client = signed_in("nurse")
    entry("forehead")
    one = count()
    entry("chin")
    entry("nose", acknowledge_warnings=True)
    entry("forehead", correction_reason="re-measured")
    assert count() == one


@pytest.mark.parametrize("kind", ["microneedling_prp", "prp_scalp", "mesotherapy"])
def test_the_map_has_a_tappable_zone_for_every_zone_of_the_protocol(
    personas: Personas, signed_in: Any, kind: str
) -> None:
    visit = visit_of(personas, kind)
    page = page_of(signed_in("physician").get(f"/visits/{visit.pk}/"))
    for zone in visit.protocol.zones:
        url = f"/visits/{visit.pk}/zones/{zone['code']}/"
        assert f'data-zone="{zone["code"]}" data-map="{zone["map"]}" role="button" tabindex="0"' in page
        assert f'aria-label="{zone["label"]}, not charted"' in page and f'data-form-url="{url}"' in page
    assert "/static/visits/bodymap.js" in page and "onclick" not in page and "<script>" not in page


def test_a_zone_the_clinic_adds_to_its_protocol_gets_a_place_on_the_map(personas: Personas, signed_in: Any) -> None:
    current = current_protocol(clinic_id=personas.clinic_a.pk, kind="microneedling_prp")
    zones = [*current.zones, {"code": "scar_left", "label": "Acne scar, left cheek", "map": "face"}]
    Protocol.objects.filter(pk=current.pk).update(is_current=False)
    newer = Protocol.objects.create(
        clinic=personas.clinic_a, treatment=current.treatment, version=current.version + 1, sessions=3,
        interval_days=30, zones=zones, devices=current.devices, techniques=current.techniques,
    )  # fmt: skip
    visit = visit_of(personas, "microneedling_prp")
    assert visit.protocol == newer
    nurse = signed_in("nurse")
    assert 'data-zone="scar_left" data-map="face"' in page_of(nurse.get(f"/visits/{visit.pk}/"))
    assert chart(nurse, visit, "scar_left", **FACE).status_code == 302  # no range set: nothing to warn about


def test_tapping_a_zone_loads_its_form_as_a_fragment_and_without_javascript_in_the_page(
    personas: Personas, signed_in: Any
) -> None:
    visit = visit_of(personas, "microneedling_prp")
    nurse = signed_in("nurse")
    fragment = page_of(nurse.get(f"/visits/{visit.pk}/zones/forehead/", HTTP_HX_REQUEST="true"))
    assert "<html" not in fragment and 'data-testid="zone-form"' in fragment
    assert "Protocol depth for this zone: 0.25–0.75 mm [S]" in fragment and "Chart Forehead" in fragment
    full = page_of(nurse.get(f"/visits/{visit.pk}/?zone=forehead"))
    assert "<html" in full and 'data-testid="zone-form"' in full and "Chart Forehead" in full


def test_starting_a_visit_keeps_the_protocol_version_and_the_timeline_lists_it(
    personas: Personas, signed_in: Any
) -> None:
    patient = make_patient(personas.clinic_a)
    ready_for_visit(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.physician)
    visit = services.visit_start(
        request=clinic_request(personas.physician, personas.clinic_a), patient_id=patient.pk, treatment="prp_scalp"
    )
    assert visit.protocol == current_protocol(clinic_id=personas.clinic_a.pk, kind="prp_scalp")
    items = selectors.timeline_items(clinic_id=personas.clinic_a.pk, patient_id=patient.pk)
    assert items == [
        {
            "at": visit.started_at,
            "kind": "visit",
            "title": "PRP for hair loss visit",
            "detail": "Open; 0 zone(s) charted; clinician Phil Physician.",
            "url": f"/visits/{visit.pk}/",
        }
    ]
    assert selectors.timeline_items(clinic_id=personas.clinic_b.pk, patient_id=patient.pk) == []


def test_with_two_prp_products_applied_each_zone_names_the_product_its_prp_came_from(
    personas: Personas, chain: Chain, signed_in: Any
) -> None:
    first = applied_prp(personas, chain, [{"zone": "vertex", "volume_ml": "1"}])
    second = applied_prp(personas, chain, [{"zone": "frontal", "volume_ml": "1.5"}])
    nurse = signed_in("nurse")
    values = {"injections": "10", "depth_mm": "3", "technique": "point_by_point", "prp_volume_ml": "1"}
    unnamed = chart(nurse, chain.visit, "vertex", **values)
    assert unnamed.status_code == 400
    assert "<li>Several PRP products were applied in this visit: choose the one used here.</li>" in page_of(unnamed)
    assert f"{first.product.barcode}: 1.00 mL applied" in page_of(unnamed)
    assert chart(nurse, chain.visit, "vertex", **(values | {"application": first.pk})).status_code == 302
    frontal = values | {"application": second.pk, "prp_volume_ml": "1.5"}
    assert chart(nurse, chain.visit, "frontal", **frontal).status_code == 302
    assert {(e.zone, e.application_id) for e in ZoneEntry.objects.all()} == {
        ("vertex", first.pk),
        ("frontal", second.pk),
    }
    assert nurse.post(f"/visits/{chain.visit.pk}/complete/").status_code == 302


def test_the_visit_page_says_which_way_the_prp_does_not_add_up(
    personas: Personas, chain: Chain, signed_in: Any
) -> None:
    applied_prp(personas, chain, [{"zone": "vertex", "volume_ml": "2"}])
    nurse = signed_in("nurse")
    values = {"injections": "20", "depth_mm": "3", "technique": "point_by_point", "prp_volume_ml": "2.5"}
    assert chart(nurse, chain.visit, "vertex", **values).status_code == 302
    page = page_of(nurse.get(f"/visits/{chain.visit.pk}/"))
    assert "✗ 0.50 mL more charted than applied" in page
    assert "not charted on a zone yet" not in page
