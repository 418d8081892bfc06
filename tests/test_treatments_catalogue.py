"""The starting catalogue, its versions and the catalogue pages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from prpclinic.audit.models import AuditEvent
from prpclinic.treatments import catalogue
from prpclinic.treatments.models import Cocktail, Protocol, Treatment, VialLot
from prpclinic.treatments.plans import plan_create
from prpclinic.treatments.selectors import current_protocol, usable_vial_lots
from prpclinic.treatments.services import seed_catalogue
from tests.conftest import Personas, clinic_request, make_patient


def test_seeding_twice_creates_each_treatment_protocol_and_cocktail_once(personas: Personas) -> None:
    clinic = personas.clinic_a
    first = seed_catalogue(clinic=clinic)
    second = seed_catalogue(clinic=clinic)
    assert sorted(first["treatments"]) == ["mesotherapy", "microneedling_prp", "prp_scalp"]
    assert second == {"treatments": [], "protocols": [], "cocktails": []}
    assert Treatment.objects.filter(clinic=clinic).count() == 3
    assert Protocol.objects.filter(clinic=clinic).count() == 3
    assert Cocktail.objects.filter(clinic=clinic).count() == len(catalogue.COCKTAILS)
    assert AuditEvent.objects.filter(clinic=clinic, action="catalogue.seed").count() == 1


def test_current_protocol_seeds_a_clinic_without_a_catalogue_on_first_use(personas: Personas) -> None:
    protocol = current_protocol(clinic_id=personas.clinic_b.pk, kind="microneedling_prp")
    assert (protocol.version, protocol.sessions, protocol.interval_days) == (1, 3, 30)
    assert protocol.treatment.kind == "microneedling_prp"
    assert Treatment.objects.filter(clinic=personas.clinic_a).count() == 0


def test_face_zones_carry_the_reference_depths_and_leave_unknown_ones_empty(personas: Personas) -> None:
    protocol = current_protocol(clinic_id=personas.clinic_a.pk, kind="microneedling_prp")
    assert [z["code"] for z in protocol.zones] == [code for code, _ in catalogue.FACE_ZONE_LABELS]
    assert protocol.zone_depth_range("forehead") == (Decimal("0.25"), Decimal("0.75"))
    assert protocol.zone_depth_range("cheek_left") == (Decimal("0.5"), Decimal("2.0"))
    assert protocol.zone_depth_range("glabella") is None
    assert protocol.zone_depth_range("neck") is None
    assert protocol.zone("forehead")["tag"] == "S"
    assert protocol.device_max_depth("roller") == Decimal("1.5")
    assert protocol.device_max_depth("pen") == Decimal("2.5")


def test_scalp_and_mesotherapy_defaults_are_tagged_as_unverified_or_secondary(personas: Personas) -> None:
    scalp = current_protocol(clinic_id=personas.clinic_a.pk, kind="prp_scalp")
    meso = current_protocol(clinic_id=personas.clinic_a.pk, kind="mesotherapy")
    assert [z["map"] for z in scalp.zones] == ["scalp"] * 6
    assert scalp.zone_volume_range("vertex") == (Decimal("0.05"), Decimal("0.1"))
    assert scalp.zone("vertex")["tag"] == "U"
    assert meso.parameters["mid_dermis_depth_mm"]["tag"] == "S"
    assert {t["code"] for t in meso.techniques} >= {"nappage", "papule", "point_by_point", "linear_retrograde"}


def _edit_data(protocol: Protocol, **overrides: Any) -> dict[str, Any]:
    """The edit form's POST as the page sends it, prefilled with ``protocol``'s values."""
    data: dict[str, Any] = {
        "sessions": protocol.sessions,
        "interval_days": protocol.interval_days,
        "maintenance_interval_days": protocol.maintenance_interval_days or "",
        "aftercare": protocol.aftercare,
        "change_note": "Clinic's own schedule",
    }
    with_volumes = protocol.treatment.kind != "microneedling_prp"
    for zone in protocol.zones:
        keys = ["depth_min_mm", "depth_max_mm"] + (["volume_min_ml_cm2", "volume_max_ml_cm2"] if with_volumes else [])
        for key in keys:
            data[f"zone__{zone['code']}__{key}"] = "" if zone[key] is None else zone[key]
    for device in protocol.devices:
        for key in ("min_depth_mm", "max_depth_mm", "passes"):
            data[f"device__{device['code']}__{key}"] = "" if device[key] is None else device[key]
    data.update(overrides)
    return data


def test_an_edit_writes_version_two_and_a_plan_made_under_version_one_keeps_its_values(
    personas: Personas, signed_in: Any
) -> None:
    v1 = current_protocol(clinic_id=personas.clinic_a.pk, kind="microneedling_prp")
    patient = make_patient(personas.clinic_a)
    plan = plan_create(
        request=clinic_request(personas.nurse, personas.clinic_a), patient_id=patient.pk,
        kind="microneedling_prp", start_date=dt.date(2026, 3, 2),
    )  # fmt: skip
    client = signed_in("physician")

    response = client.post(
        f"/treatments/{v1.treatment_id}/edit/",
        _edit_data(
            v1, sessions=4, interval_days=42, zone__glabella__depth_min_mm="0.25", zone__glabella__depth_max_mm="0.5"
        ),
    )

    assert response.status_code == 302
    v2 = current_protocol(clinic_id=personas.clinic_a.pk, kind="microneedling_prp")
    assert (v2.version, v2.sessions, v2.interval_days) == (2, 4, 42)
    assert v2.zone_depth_range("glabella") == (Decimal("0.25"), Decimal("0.5"))
    v1.refresh_from_db()
    assert (v1.is_current, v1.sessions, v1.interval_days, v1.zone_depth_range("glabella")) == (False, 3, 30, None)
    plan_page = client.get(f"/treatments/plans/{plan.pk}/").content.decode()
    assert "version 1</a>: 3 sessions, 30 days apart" in plan_page
    assert AuditEvent.objects.filter(action="catalogue.protocol_revise", object_id=str(v2.pk)).count() == 1
    history = client.get(f"/treatments/{v1.treatment_id}/").content.decode()
    assert "v2" in history and "v1" in history and "Clinic&#x27;s own schedule" in history


def test_a_minimum_above_the_maximum_is_refused_next_to_the_field_and_nothing_is_saved(
    personas: Personas, signed_in: Any
) -> None:
    v1 = current_protocol(clinic_id=personas.clinic_a.pk, kind="microneedling_prp")
    response = signed_in("physician").post(
        f"/treatments/{v1.treatment_id}/edit/",
        _edit_data(v1, zone__forehead__depth_min_mm="1.0", zone__forehead__depth_max_mm="0.5"),
    )
    assert response.status_code == 400
    assert 'id="id_zone__forehead__depth_min_mm_error"' in response.content.decode()
    assert "Forehead: the minimum (1.0 mm) is above the maximum (0.5 mm)." in response.content.decode()
    assert Protocol.objects.filter(clinic=personas.clinic_a, treatment=v1.treatment).count() == 1


def test_a_zone_deeper_than_any_device_and_non_positive_numbers_are_refused(personas: Personas, signed_in: Any) -> None:
    v1 = current_protocol(clinic_id=personas.clinic_a.pk, kind="microneedling_prp")
    response = signed_in("physician").post(
        f"/treatments/{v1.treatment_id}/edit/",
        _edit_data(v1, zone__chin__depth_max_mm="3.0", sessions=0, device__roller__passes="-1"),
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "Chin: 3.0 mm is deeper than any device of this protocol reaches (2.5 mm)." in page
    assert "The sessions must be a positive whole number." in page
    assert 'id="id_device__roller__passes_error"' in page
    assert Protocol.objects.filter(clinic=personas.clinic_a, treatment=v1.treatment).count() == 1


def test_an_edit_without_a_note_or_without_a_change_is_refused(personas: Personas, signed_in: Any) -> None:
    v1 = current_protocol(clinic_id=personas.clinic_a.pk, kind="prp_scalp")
    client = signed_in("physician")
    no_note = client.post(f"/treatments/{v1.treatment_id}/edit/", _edit_data(v1, change_note="", sessions=4))
    unchanged = client.post(f"/treatments/{v1.treatment_id}/edit/", _edit_data(v1))
    assert no_note.status_code == 400 and 'id="id_change_note_error"' in no_note.content.decode()
    assert unchanged.status_code == 400
    assert "Nothing changed: the current version already has these values." in unchanged.content.decode()
    assert Protocol.objects.filter(clinic=personas.clinic_a, treatment=v1.treatment).count() == 1


def test_the_catalogue_page_lists_the_three_treatments_in_a_fixed_number_of_queries(
    personas: Personas, signed_in: Any, django_assert_num_queries: Any
) -> None:
    seed_catalogue(clinic=personas.clinic_a)
    client = signed_in("front_desk")
    # Session, user with memberships, treatments, current protocols.
    with django_assert_num_queries(4):
        page = client.get("/treatments/").content.decode()
    for name in ("Micro-needling with PRP", "PRP for hair loss", "Mesotherapy"):
        assert name in page


def test_an_expired_vial_lot_cannot_be_registered_and_is_not_offered_for_use(
    personas: Personas, signed_in: Any
) -> None:
    seed_catalogue(clinic=personas.clinic_a)
    cocktail = Cocktail.objects.filter(clinic=personas.clinic_a).first()
    client = signed_in("nurse")
    yesterday = timezone.localdate() - dt.timedelta(days=1)

    refused = client.post(
        "/treatments/formulary/lots/", {"cocktail": cocktail.pk, "lot_number": "M-1", "expiry_date": yesterday}
    )
    accepted = client.post(
        "/treatments/formulary/lots/",
        {"cocktail": cocktail.pk, "lot_number": "M-2", "expiry_date": yesterday + dt.timedelta(days=60)},
    )

    assert refused.status_code == 400
    assert "This lot has already expired; it cannot be registered for use." in refused.content.decode()
    assert accepted.status_code == 302
    lot = VialLot.objects.get(clinic=personas.clinic_a)
    assert lot.lot_number == "M-2"
    assert list(usable_vial_lots(clinic_id=personas.clinic_a.pk)) == [lot]
    assert list(usable_vial_lots(clinic_id=personas.clinic_a.pk, on=lot.expiry_date + dt.timedelta(days=1))) == []
    assert "M-2" in client.get("/treatments/formulary/").content.decode()


def test_a_cocktail_is_added_with_its_ingredients_and_a_duplicate_name_is_refused(
    personas: Personas, signed_in: Any
) -> None:
    client = signed_in("physician")
    added = client.post("/treatments/formulary/cocktails/", {"name": "Glow", "ingredients": "hyaluronic acid\nglycine"})
    again = client.post("/treatments/formulary/cocktails/", {"name": "glow", "ingredients": "vitamin C"})
    assert added.status_code == 302
    assert Cocktail.objects.get(clinic=personas.clinic_a, name="Glow").ingredients == ["hyaluronic acid", "glycine"]
    assert again.status_code == 400
    assert "The formulary already has a cocktail called “glow”." in again.content.decode()


def test_a_retired_cocktails_lots_are_no_longer_offered(personas: Personas, signed_in: Any) -> None:
    seed_catalogue(clinic=personas.clinic_a)
    cocktail = Cocktail.objects.filter(clinic=personas.clinic_a).first()
    VialLot.objects.create(
        clinic=personas.clinic_a, cocktail=cocktail, lot_number="R-1",
        expiry_date=timezone.localdate() + dt.timedelta(days=30), registered_by=personas.nurse,
    )  # fmt: skip
    signed_in("admin").post(f"/treatments/formulary/cocktails/{cocktail.pk}/active/", {"active": "0"})
    assert list(usable_vial_lots(clinic_id=personas.clinic_a.pk)) == []
    assert AuditEvent.objects.filter(action="catalogue.cocktail_retire").count() == 1


def test_another_clinics_protocol_answers_404(personas: Personas, signed_in: Any) -> None:
    theirs = current_protocol(clinic_id=personas.clinic_b.pk, kind="mesotherapy")
    client = signed_in("physician")
    assert client.get(f"/treatments/protocols/{theirs.pk}/").status_code == 404
    assert client.get(f"/treatments/{theirs.treatment_id}/edit/").status_code == 404


def test_a_new_clinic_opening_the_formulary_first_gets_the_starting_cocktails_to_register_lots_for(
    personas: Personas, signed_in: Any
) -> None:
    assert not Cocktail.objects.filter(clinic=personas.clinic_a).exists()
    page = signed_in("nurse").get("/treatments/formulary/").content.decode()
    assert "No cocktails yet." not in page
    for item in catalogue.COCKTAILS:
        assert item["name"] in page  # listed, and offered in "Register a vial lot"
        assert page.count(f">{item['name']}</option>") == 1
    assert Cocktail.objects.filter(clinic=personas.clinic_a).count() == len(catalogue.COCKTAILS)
    signed_in("nurse").get("/treatments/formulary/")  # a second look seeds nothing more
    assert Cocktail.objects.filter(clinic=personas.clinic_a).count() == len(catalogue.COCKTAILS)
