"""The starting catalogue, its versions and the catalogue pages."""

from __future__ import annotations

from decimal import Decimal

from prpclinic.audit.models import AuditEvent
from prpclinic.treatments import catalogue
from prpclinic.treatments.models import Cocktail, Protocol, Treatment
from prpclinic.treatments.selectors import current_protocol
from prpclinic.treatments.services import seed_catalogue
from tests.conftest import Personas


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
