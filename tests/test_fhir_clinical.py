"""FHIR clinical resources: the PRP chain (Specimen, BiologicallyDerivedProduct), Procedure, Observation, Media,
Device and MedicationAdministration, built from the rows a clinic records.

The builders are tested through the registry (the definitions the server, search and exports use): every served
resource validates with the R4B models, its codes are the ones STANDARDS.md lists or local concepts of our
CodeSystem, and every reference resolves to a resource the server serves.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from prpclinic.fhir import registry, search
from prpclinic.fhir.registry import BuildContext
from prpclinic.fhir.resources import clinical, clinical_chain, clinical_codes
from tests.conftest import Personas, make_patient

CLINICAL_TYPES = (
    "Specimen",
    "BiologicallyDerivedProduct",
    "Procedure",
    "Observation",
    "Media",
    "Device",
    "MedicationAdministration",
)
ALLOWED_SNOMED = {"122555007", "28520004", "41695006"}  # the codes STANDARDS.md lists for these resources
CTX = BuildContext(base_url="https://clinic.example/fhir/R4")


def _draw(personas: Personas, chain: Any, patient: Any, **fields: Any) -> Any:
    from prpclinic.prp.models import BloodDraw

    values: dict[str, Any] = {
        "clinic": personas.clinic_a, "visit": chain.visit, "patient": patient, "drawn_by": personas.nurse,
        "drawn_at": timezone.now() - dt.timedelta(hours=1), "site": "antecubital_left", "volume_ml": Decimal(18),
        "tube_count": 2, "tube_lot": chain.tube_lot, "kit_lot": chain.kit_lot, "anticoagulant": "sodium_citrate_3_2",
        "identity_check": "scan",
    }  # fmt: skip
    return BloodDraw.objects.create(**(values | fields))


def _applied(personas: Personas, chain: Any, *, donor: Any = None, visit: Any = None) -> Any:
    """A product drawn from ``donor`` (default: the chain's patient), spun twice and applied at ``visit``."""
    from prpclinic.prp.models import Application, Product, Spin, Verification

    clinic, now = personas.clinic_a, timezone.now()
    visit = visit or chain.visit
    donor = donor or chain.patient
    draw = _draw(
        personas, chain, donor, visit=visit, platelets_k_per_ul=Decimal("250.0"), hematocrit_pct=Decimal("41.5"),
        wbc_k_per_ul=Decimal("6.20"),
    )  # fmt: skip
    product = Product.objects.create(
        clinic=clinic, patient=donor, draw=draw, status="applied", prepared_at=now, volume_ml=Decimal("4.00"),
        platelets_k_per_ul=Decimal("1100.0"), wbc_k_per_ul=Decimal("1.10"), rbc_m_per_ul=Decimal("0.020"),
        expires_at=now + dt.timedelta(hours=4),
    )  # fmt: skip
    for number, rcf in ((1, 200), (2, 600)):
        Spin.objects.create(
            clinic=clinic, product=product, number=number, centrifuge=chain.centrifuge, program=chain.program,
            rcf=rcf, rpm=1441 if number == 1 else 2496, minutes=10, temperature_c=22,
            started_at=now - dt.timedelta(minutes=40 - 15 * number),
            ends_at=now - dt.timedelta(minutes=30 - 15 * number), started_by=personas.nurse,
        )  # fmt: skip
    check = Verification.objects.create(
        clinic=clinic, product=product, patient=visit.patient, scanned_patient_code="PT-X",
        scanned_product_code=product.barcode, result="match", by=personas.nurse,
    )  # fmt: skip
    Application.objects.create(
        clinic=clinic, product=product, verification=check, patient=visit.patient, visit=visit,
        applied_by=personas.physician, zones=[{"zone": "vertex", "volume_ml": "2.0"}], volume_applied_ml=Decimal(2),
    )  # fmt: skip
    return product


@pytest.fixture
def record(personas: Personas, chain: Any) -> dict[str, Any]:
    return make_record(personas, chain)


def make_record(personas: Personas, chain: Any) -> dict[str, Any]:
    """A patient's chain and record in clinic A: a scalp PRP visit with zones, a mesotherapy visit, scores, a photo."""
    from prpclinic.outcomes.models import Photo, Score
    from prpclinic.treatments.models import Cocktail, VialLot
    from prpclinic.visits.models import Visit, ZoneEntry

    clinic, patient = personas.clinic_a, chain.patient
    product = _applied(personas, chain)
    for zone, label in (("vertex", "Vertex"), ("frontal", "Frontal")):
        ZoneEntry.objects.create(
            clinic=clinic, visit=chain.visit, map="scalp", zone=zone, zone_label=label, depth_mm=Decimal("2.5"),
            injections=12, prp_volume_ml=Decimal("2.00"), application=product.application,
            entered_by=personas.physician,
        )  # fmt: skip
    meso = Visit.objects.create(
        clinic=clinic, patient=patient, treatment="mesotherapy", clinician=personas.physician, status="completed",
        completed_at=timezone.now(),
    )  # fmt: skip
    cocktail = Cocktail.objects.create(clinic=clinic, name="HA 1 %", ingredients=["Hyaluronic acid"])
    lot = VialLot.objects.create(
        clinic=clinic, cocktail=cocktail, lot_number="V-9", expiry_date=dt.date.today() + dt.timedelta(days=100),
        registered_by=personas.physician,
    )  # fmt: skip
    entry = ZoneEntry.objects.create(
        clinic=clinic, visit=meso, map="face", zone="forehead", zone_label="Forehead", cocktail=cocktail,
        vial_lot=lot, volume_ml=Decimal("1.00"), technique="nappage", technique_label="Nappage",
        entered_by=personas.physician,
    )  # fmt: skip
    density = Score.objects.create(
        clinic=clinic, patient=patient, visit=chain.visit, scale="hair_density", value=Decimal("132.5"),
        site="vertex dot", recorded_by=personas.physician,
    )  # fmt: skip
    Score.objects.create(
        clinic=clinic, patient=patient, scale="norwood", level="III-vertex", recorded_by=personas.physician
    )
    Score.objects.create(
        clinic=clinic, patient=patient, scale="hair_count", value=Decimal(80), area_cm2=Decimal("1.00"),
        recorded_by=personas.physician,
    )  # fmt: skip
    photo = Photo.objects.create(
        clinic=clinic, patient=patient, visit=chain.visit, area="scalp", view="scalp_vertex", file_name="p/1.jpg",
        thumb_name="p/1t.jpg", content_type="image/jpeg", width=1200, height=900, byte_size=123456,
        source_format="JPEG", uploaded_by=personas.nurse,
    )  # fmt: skip
    return {"product": product, "meso_entry": entry, "density": density, "photo": photo, "meso": meso}


def served(type_name: str, clinic_id: int) -> list[Any]:
    """Every resource of the type the clinic serves, from every source (PRPs and whole blood, visits and spins)."""
    sources = registry.sources(type_name)
    assert sources, type_name
    return [source.build(row, CTX) for source in sources for row in source.queryset(clinic_id)]


def served_json(type_name: str, clinic_id: int) -> dict[str, dict[str, Any]]:
    return {resource.id: json.loads(resource.model_dump_json()) for resource in served(type_name, clinic_id)}


def every_resource(clinic_id: int) -> list[dict[str, Any]]:
    return [json.loads(resource.model_dump_json()) for name in CLINICAL_TYPES for resource in served(name, clinic_id)]


def walk(node: Any, key: str) -> list[Any]:
    """Every value under ``key`` anywhere in a JSON tree."""
    found: list[Any] = []
    if isinstance(node, dict):
        for k, value in node.items():
            if k == key:
                found.append(value)
            found += walk(value, key)
    elif isinstance(node, list):
        for item in node:
            found += walk(item, key)
    return found


def test_every_clinical_type_is_registered_and_every_resource_validates_with_r4b(
    personas: Personas, record: dict[str, Any]
) -> None:
    import importlib

    for name in CLINICAL_TYPES:
        resources = served(name, personas.clinic_a.pk)
        assert resources, f"no {name} served"
        module = importlib.import_module(f"fhir.resources.R4B.{name.lower()}")
        for resource in resources:
            # The JSON served parses again with the R4B model of its type: what a client receives is valid.
            getattr(module, name).model_validate_json(resource.model_dump_json())
            assert resource.get_resource_type() == name and resource.id


def test_codes_are_the_listed_snomed_and_loinc_ones_or_concepts_of_our_codesystem(
    personas: Personas, record: dict[str, Any]
) -> None:
    from prpclinic.fhir import codesystems

    local = {concept["code"] for concept in codesystems.concepts()}
    seen_systems: set[str] = set()
    for resource in every_resource(personas.clinic_a.pk):
        for coding in walk(resource, "coding"):
            for c in coding:
                seen_systems.add(c["system"])
                if c["system"] == clinical_codes.SNOMED:
                    assert c["code"] in ALLOWED_SNOMED, c
                elif c["system"] == clinical_codes.LOINC:
                    assert c["code"] == "777-3", c
                elif c["system"] == clinical_codes.SYSTEM:
                    assert c["code"] in local, c
                else:
                    assert c["system"].startswith("http://terminology.hl7.org/CodeSystem/"), c
    assert {clinical_codes.SNOMED, clinical_codes.LOINC, clinical_codes.SYSTEM} <= seen_systems


def test_the_platelet_count_in_whole_blood_is_loinc_777_3_in_10_3_per_microlitre(
    personas: Personas, record: dict[str, Any]
) -> None:
    product = record["product"]
    observations = served_json("Observation", personas.clinic_a.pk)
    platelets = [o for o in observations.values() if o["code"]["coding"][0]["code"] == "777-3"]
    assert [o["id"] for o in platelets] == [f"plt-{product.draw_id}"]
    quantity = platelets[0]["valueQuantity"]
    assert quantity == {"value": 250.0, "unit": "10*3/uL", "system": "http://unitsofmeasure.org", "code": "10*3/uL"}
    assert platelets[0]["specimen"] == {"reference": f"Specimen/{product.draw_id}"}
    assert platelets[0]["subject"] == {"reference": f"Patient/{product.patient_id}"}
    assert observations[f"hct-{product.draw_id}"]["valueQuantity"]["value"] == 41.5
    # PRP counts are not whole blood: they carry local codes, never 777-3, and their focus is the PRP.
    prp = {key: o for key, o in observations.items() if key.startswith("prp-")}
    assert {o["code"]["coding"][0]["code"] for o in prp.values()} == {"prp-platelets", "prp-wbc", "prp-rbc"}
    assert prp[f"prp-plt-{product.pk}"]["valueQuantity"]["value"] == 1100.0
    assert {str(o["focus"]) for o in prp.values()} == {str([{"reference": f"BiologicallyDerivedProduct/{product.pk}"}])}


def test_the_draw_is_a_venous_blood_specimen_with_its_lots_and_volume(
    personas: Personas, record: dict[str, Any]
) -> None:
    (specimen,) = [json.loads(s.model_dump_json()) for s in served("Specimen", personas.clinic_a.pk)]
    assert specimen["type"]["coding"][0]["code"] == "122555007"
    assert specimen["collection"]["method"]["coding"][0]["code"] == "28520004"
    assert specimen["collection"]["quantity"]["value"] == 18 and specimen["collection"]["quantity"]["unit"] == "mL"
    assert specimen["container"][0]["additiveCodeableConcept"]["text"] == "Sodium citrate 3.2 %"
    assert specimen["container"][0]["extension"][0]["valueIdentifier"]["value"] == "T-2026-01"
    assert specimen["extension"][0]["valueIdentifier"]["value"] == "K-77"
    assert specimen["identifier"] == [{"system": "urn:prpclinic:product", "value": record["product"].barcode}]
    assert specimen["subject"] == {"reference": f"Patient/{record['product'].patient_id}"}


def test_the_prp_has_its_whole_blood_as_parent_and_both_come_from_the_patient(
    personas: Personas, record: dict[str, Any]
) -> None:
    made = record["product"]
    products = served_json("BiologicallyDerivedProduct", personas.clinic_a.pk)
    assert set(products) == {str(made.pk), f"wb-{made.draw_id}"}
    product, whole_blood = products[str(made.pk)], products[f"wb-{made.draw_id}"]
    patient = f"Patient/{made.patient_id}"
    assert product["parent"] == [{"reference": f"BiologicallyDerivedProduct/wb-{made.draw_id}"}]
    assert "contained" not in product
    assert whole_blood["productCode"]["coding"][0]["code"] == "whole-blood" and whole_blood["quantity"] == 2
    assert whole_blood["productCategory"] == "fluid" and whole_blood["status"] == "unavailable"  # it became the PRP
    lots = {e["valueIdentifier"]["value"] for e in whole_blood["extension"] if "valueIdentifier" in e}
    assert lots == {"T-2026-01", "K-77"}
    volume = {"value": 18.0, "unit": "mL", "system": "http://unitsofmeasure.org", "code": "mL"}
    assert {"url": clinical_codes.VOLUME_EXTENSION, "valueQuantity": volume} in whole_blood["extension"]
    assert product["collection"]["source"]["reference"] == patient == whole_blood["collection"]["source"]["reference"]
    assert product["status"] == "unavailable"  # applied
    assert [step["description"] for step in product["processing"]] == [
        "Spin 1: 200 x g (1441 RPM) for 10 min at 22 °C",
        "Spin 2: 600 x g (2496 RPM) for 10 min at 22 °C",
    ]
    spin_rows = sorted(made.spins.all(), key=lambda spin: spin.number)
    step_url = clinical_codes.PROCESSING_PROCEDURE_EXTENSION
    assert [step["extension"] for step in product["processing"]] == [
        [{"url": step_url, "valueReference": {"reference": f"Procedure/spin-{s.pk}"}}] for s in spin_rows
    ]
    procedures = served_json("Procedure", personas.clinic_a.pk)
    spins = [procedures[f"spin-{s.pk}"] for s in spin_rows]
    assert [s["code"]["coding"][0]["code"] for s in spins] == ["centrifugation", "centrifugation"]
    assert spins[0]["usedReference"] == [{"reference": f"Device/{spin_rows[0].centrifuge_id}"}]
    assert spins[0]["subject"] == {"reference": patient} and spins[0]["status"] == "completed"
    assert spins[0]["partOf"] == [{"reference": f"Procedure/{made.draw.visit_id}"}]
    settings = {e["url"].rsplit("/", 1)[1]: e for e in spins[1]["extension"]}
    assert settings["spin-rcf"]["valueQuantity"] == {
        "value": 600, "unit": "x g", "system": "http://unitsofmeasure.org", "code": "[g]"}  # fmt: skip
    assert settings["spin-duration"]["valueDuration"]["value"] == 10
    assert settings["spin-duration"]["valueDuration"]["code"] == "min"
    assert settings["spin-temperature"]["valueQuantity"]["code"] == "Cel"
    assert settings["spin-rpm"]["valueQuantity"]["value"] == 2496
    assert settings["prp-product"]["valueReference"] == {"reference": f"BiologicallyDerivedProduct/{made.pk}"}


def test_every_reference_resolves_to_a_served_resource_or_a_contained_one(
    personas: Personas, record: dict[str, Any]
) -> None:
    clinic_id = personas.clinic_a.pk
    for resource in every_resource(clinic_id):
        contained = {r["id"] for r in resource.get("contained", [])}
        for ref in walk(resource, "reference"):
            if ref.startswith("#"):
                assert ref == "#" or ref[1:] in contained, (resource["resourceType"], ref)
                continue
            type_name, _, fhir_id = ref.partition("/")
            assert registry.sources(type_name), f"{ref} points at a type the server does not serve"
            found = search.resolve_id(registry.sources(type_name), fhir_id)
            assert found is not None, f"{ref} names no source of {type_name}"
            source, pk = found
            assert source.queryset(clinic_id).filter(pk=pk).exists(), f"{ref} does not resolve"


def test_the_autologous_rule_holds_for_every_procedure_served(personas: Personas, record: dict[str, Any]) -> None:
    clinic_id = personas.clinic_a.pk
    products = {p.id: json.loads(p.model_dump_json()) for p in served("BiologicallyDerivedProduct", clinic_id)}
    linked = 0
    for procedure in served("Procedure", clinic_id):
        for extension in procedure.extension or []:
            if extension.url == clinical_codes.PRP_PRODUCT_EXTENSION:
                product = products[extension.valueReference.reference.split("/")[1]]
                assert product["collection"]["source"]["reference"] == procedure.subject.reference
                linked += 1
    assert linked == 3  # the visit's application and the product's two spins


def test_a_product_of_another_patient_linked_to_a_visit_is_refused_not_served(
    personas: Personas, chain: Any, record: dict[str, Any]
) -> None:
    from prpclinic.visits.models import Visit

    other = make_patient(personas.clinic_a, given_name="Otto", family_name="Other")
    visit = Visit.objects.create(
        clinic=personas.clinic_a, patient=other, treatment="prp_scalp", clinician=personas.physician
    )
    _applied(personas, chain, donor=chain.patient, visit=visit)  # the chain's patient's blood, given to Otto
    definition = registry.get("Procedure")
    assert definition is not None
    with pytest.raises(clinical.AutologousRuleViolation):
        definition.build(definition.queryset(personas.clinic_a.pk).get(pk=visit.pk), CTX)


def test_a_product_whose_draw_names_another_patient_is_refused(personas: Personas, chain: Any) -> None:
    from prpclinic.prp.models import Product

    other = make_patient(personas.clinic_a, given_name="Otto", family_name="Other")
    product = Product.objects.create(
        clinic=personas.clinic_a, patient=other, draw=_draw(personas, chain, chain.patient)
    )
    product.draw.platelets_k_per_ul = Decimal(250)
    with pytest.raises(clinical.AutologousRuleViolation):
        clinical.build_product(product, CTX)
    with pytest.raises(clinical.AutologousRuleViolation):
        clinical.build_specimen(product.draw, CTX)
    with pytest.raises(clinical.AutologousRuleViolation):
        clinical_chain.build_whole_blood(product.draw, CTX)
    with pytest.raises(clinical.AutologousRuleViolation):
        clinical_chain.build_lab_observation(clinical_chain.LAB_VALUES[0], product.draw)


def test_the_scalp_procedure_has_snomed_scalp_its_zones_and_the_prp_extension(
    personas: Personas, record: dict[str, Any], chain: Any
) -> None:
    definition = registry.get("Procedure")
    assert definition is not None
    procedure = json.loads(
        definition.build(definition.queryset(personas.clinic_a.pk).get(pk=chain.visit.pk), CTX).model_dump_json()
    )
    assert procedure["code"]["coding"][0]["code"] == "prp-scalp-injection" and procedure["status"] == "in-progress"
    sites = [site["coding"][0]["code"] for site in procedure["bodySite"]]
    assert sites == ["41695006", "zone-vertex", "zone-frontal"]
    assert procedure["performer"] == [{"actor": {"display": "Phil Physician"}}]
    assert procedure["extension"] == [
        {
            "url": "https://prpclinic.org/fhir/StructureDefinition/prp-product",
            "valueReference": {"reference": f"BiologicallyDerivedProduct/{record['product'].pk}"},
        }
    ]


def test_mesotherapy_is_a_medication_administration_with_lot_expiry_and_intradermal_route(
    personas: Personas, record: dict[str, Any]
) -> None:
    (administration,) = [
        json.loads(m.model_dump_json()) for m in served("MedicationAdministration", personas.clinic_a.pk)
    ]
    medication = administration["contained"][0]
    assert administration["medicationReference"]["reference"] == "#med" and medication["code"]["text"] == "HA 1 %"
    assert medication["batch"]["lotNumber"] == "V-9"
    assert medication["batch"]["expirationDate"] == str(record["meso_entry"].vial_lot.expiry_date)
    assert administration["dosage"]["route"] == {"text": "Intradermal"}
    assert administration["dosage"]["dose"]["value"] == 1 and administration["status"] == "completed"
    assert administration["partOf"] == [{"reference": f"Procedure/{record['meso'].pk}"}]


def test_scores_are_observations_with_a_local_concept_per_scale(personas: Personas, record: dict[str, Any]) -> None:
    by_code = {
        o["code"]["coding"][0]["code"]: o
        for o in (json.loads(r.model_dump_json()) for r in served("Observation", personas.clinic_a.pk))
    }
    assert by_code["scale-hair_density"]["valueQuantity"] == {"value": 132.5, "unit": "hairs/cm²"}
    assert by_code["scale-norwood"]["valueCodeableConcept"] == {"text": "III vertex"}
    assert by_code["scale-hair_count"]["component"][0]["valueQuantity"]["code"] == "cm2"
    from prpclinic.outcomes.scales import SCALES

    assert {clinical_codes.scale_code(code) for code in SCALES} <= clinical_codes.CODES


def test_a_photo_is_media_with_metadata_and_the_fhir_binary_url(personas: Personas, record: dict[str, Any]) -> None:
    (media,) = [json.loads(m.model_dump_json()) for m in served("Media", personas.clinic_a.pk)]
    photo = record["photo"]
    assert media["content"]["url"] == f"https://clinic.example/fhir/R4/Binary/photo-{photo.pk}"
    assert media["content"]["contentType"] == "image/jpeg" and media["content"]["size"] == 123456
    assert media["view"]["coding"][0]["code"] == "view-scalp_vertex"
    assert media["bodySite"]["coding"][0]["code"] == "41695006"
    assert "data" not in media["content"]  # metadata only: the file is read from the Binary with the token


def test_a_withdrawn_photo_and_a_superseded_score_are_not_served(personas: Personas, record: dict[str, Any]) -> None:
    from prpclinic.outcomes.models import Photo, Score

    Photo.objects.filter(pk=record["photo"].pk).update(status="withdrawn")
    Score.objects.filter(pk=record["density"].pk).update(status="superseded")
    assert served("Media", personas.clinic_a.pk) == []
    assert str(record["density"].pk) not in {o.id for o in served("Observation", personas.clinic_a.pk)}


def test_a_centrifuge_is_a_device_active_until_taken_out_of_service(personas: Personas, chain: Any) -> None:
    (device,) = served("Device", personas.clinic_a.pk)
    assert (device.status, device.manufacturer, device.modelNumber, device.serialNumber) == (
        "active", "Hettich", "EBA 200", "SN-1001",
    )  # fmt: skip
    type(chain.centrifuge).objects.filter(pk=chain.centrifuge.pk).update(in_service=False)
    assert served("Device", personas.clinic_a.pk)[0].status == "inactive"


def test_another_clinics_rows_are_not_reachable(personas: Personas, record: dict[str, Any]) -> None:
    for name in CLINICAL_TYPES:
        assert served(name, personas.clinic_b.pk) == [], name


def test_product_identifier_search_accepts_the_printed_code_and_refuses_another_system(
    personas: Personas, record: dict[str, Any]
) -> None:
    product = record["product"]
    queryset = clinical.product_queryset(personas.clinic_a.pk)
    assert list(clinical._product_code_filter(queryset, product.barcode, CTX)) == [product]
    assert list(clinical._product_code_filter(queryset, f"urn:prpclinic:product|{product.code}", CTX)) == [product]
    assert not clinical._product_code_filter(queryset, f"urn:other|{product.barcode}", CTX).exists()


@pytest.mark.parametrize("type_name", CLINICAL_TYPES)
def test_a_page_of_resources_costs_the_same_queries_whatever_its_size(
    personas: Personas, chain: Any, record: dict[str, Any], type_name: str
) -> None:

    def cost() -> int:
        with CaptureQueriesContext(connection) as queries:
            served(type_name, personas.clinic_a.pk)
        return len(queries)

    before = cost()
    add_second_chain(personas, chain, record)
    assert len(served(type_name, personas.clinic_a.pk)) >= 2
    assert cost() == before


def add_second_chain(personas: Personas, chain: Any, record: dict[str, Any]) -> None:
    """Another patient's visit with a product, zones, a meso entry, a score and a photo; another centrifuge."""
    from prpclinic.outcomes.models import Score
    from prpclinic.prp.models import Centrifuge
    from prpclinic.visits.models import Visit, ZoneEntry

    patient = make_patient(personas.clinic_a)
    visit = Visit.objects.create(
        clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", clinician=personas.physician
    )
    _applied(personas, chain, donor=patient, visit=visit)
    entry = record["meso_entry"]
    ZoneEntry.objects.create(
        clinic=personas.clinic_a, visit=visit, map="face", zone="chin", zone_label="Chin", cocktail=entry.cocktail,
        vial_lot=entry.vial_lot, entered_by=personas.nurse,
    )  # fmt: skip
    Score.objects.create(
        clinic=personas.clinic_a, patient=patient, scale="hair_density", value=1, recorded_by=personas.nurse
    )
    photo = record["photo"]
    photo.pk = None
    photo.patient = patient
    photo.save()
    Centrifuge.objects.create(
        clinic=personas.clinic_a, name="Room 2", make="X", model="Y", serial_number="SN-2", rotor_radius_cm=10,
        max_rpm=5000, calibration_due=dt.date.today(),
    )  # fmt: skip
