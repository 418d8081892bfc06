"""The PRP chain of custody through its services: draw, spin, prepare, verify, apply, and every stop."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from prpclinic.audit.models import AuditEvent
from prpclinic.prp import measures
from prpclinic.prp.models import Incident, Product, ProductEvent, ProductStatus, VerificationResult
from prpclinic.prp.selectors import lot_usage
from prpclinic.prp.services import bedside, draw, inventory, spin
from tests.conftest import Chain, Personas, clinic_request, make_patient

ROOT = Path(__file__).resolve().parent.parent


def ago(minutes: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=minutes)


def do_draw(request: Any, chain: Chain, **overrides: Any) -> Product:
    values: dict[str, Any] = {
        "visit_id": chain.visit.pk,
        "drawn_at": ago(60),
        "site": "antecubital_left",
        "volume_ml": Decimal("18"),
        "tube_count": 2,
        "tube_lot_id": chain.tube_lot.pk,
        "kit_lot_id": chain.kit_lot.pk,
        "anticoagulant": "sodium_citrate_3_2",
        "identity_check": "scan",
        "scanned_code": f"PT-{chain.patient.mrn}",
        "platelets_k_per_ul": Decimal("250"),
        "hematocrit_pct": Decimal("42"),
        "wbc_k_per_ul": Decimal("6.5"),
    }
    values.update(overrides)
    return draw.blood_draw(request=request, **values)


def prepared_product(request: Any, chain: Chain, **prepare: Any) -> Product:
    product = do_draw(request, chain)
    spin.spin_start(
        request=request,
        product_id=product.pk,
        centrifuge_id=chain.centrifuge.pk,
        program_id=chain.program.pk,
        started_at=ago(55),
    )
    spin.spin_start(
        request=request,
        product_id=product.pk,
        centrifuge_id=chain.centrifuge.pk,
        program_id=chain.program.pk,
        started_at=ago(44),
    )
    values: dict[str, Any] = {"prepared_at": ago(30), "volume_ml": Decimal("3"), "platelets_k_per_ul": Decimal("1050")}
    values.update(prepare)
    return spin.product_prepare(request=request, product_id=product.pk, **values)


@pytest.fixture
def nurse(personas: Personas) -> Any:
    return clinic_request(personas.nurse, personas.clinic_a)


def test_the_whole_chain_from_draw_to_application(nurse: Any, chain: Chain) -> None:
    product = prepared_product(nurse, chain)
    assert product.status == ProductStatus.PREPARED
    assert product.expires_at == product.prepared_at + dt.timedelta(hours=4)
    verification = bedside.product_verify_at_bedside(
        request=nurse, patient_code=f"PT-{chain.patient.mrn}", product_code=product.barcode
    )
    assert verification.result == VerificationResult.MATCH
    application = bedside.product_apply(
        request=nurse,
        product_id=product.pk,
        patient_id=chain.patient.pk,
        visit_id=chain.visit.pk,
        zones=[{"zone": "vertex", "volume_ml": "1.5"}, {"zone": "frontal hairline", "volume_ml": "1.2"}],
    )
    product.refresh_from_db()
    assert product.status == ProductStatus.APPLIED
    assert application.volume_applied_ml == Decimal("2.7") and application.remainder_ml == Decimal("0.3")
    assert application.remainder_disposed_by_id == nurse.user.pk
    moves = list(ProductEvent.objects.filter(product=product).values_list("from_status", "to_status"))
    assert moves == [
        ("", "drawn"),
        ("drawn", "spun"),
        ("spun", "prepared"),
        ("prepared", "verified"),
        ("verified", "applied"),
    ]
    assert {"prp.draw", "prp.spin", "prp.prepare", "product.verified", "prp.apply"} <= set(
        AuditEvent.objects.values_list("action", flat=True)
    )


def test_a_wrong_patient_scan_quarantines_the_product_and_records_an_incident(
    nurse: Any, chain: Chain, personas: Personas
) -> None:
    product = prepared_product(nurse, chain)
    other = make_patient(personas.clinic_a, given_name="Paul", family_name="Novak", mrn="A000200")
    result = bedside.product_verify_at_bedside(request=nurse, patient_code="PT-A000200", product_code=product.barcode)
    assert result.result == VerificationResult.MISMATCH
    product.refresh_from_db()
    assert product.status == ProductStatus.QUARANTINED
    incident = Incident.objects.get()
    assert (incident.donor, incident.scanned_patient, incident.reported_by) == (chain.patient, other, personas.nurse)
    # Even the right patient is refused now, until a physician decides.
    again = bedside.product_verify_at_bedside(
        request=nurse, patient_code=f"PT-{chain.patient.mrn}", product_code=product.barcode
    )
    assert again.result == VerificationResult.REFUSED and "quarantined" in again.reason
    with pytest.raises(PermissionDenied):
        bedside.product_release(request=nurse, product_id=product.pk, reason="checked")
    physician = clinic_request(personas.physician, personas.clinic_a)
    bedside.product_release(request=physician, product_id=product.pk, reason="label checked, scan was of the neighbour")
    product.refresh_from_db()
    incident.refresh_from_db()
    assert product.status == ProductStatus.PREPARED and incident.status == "released"
    ok = bedside.product_verify_at_bedside(
        request=nurse, patient_code=f"PT-{chain.patient.mrn}", product_code=product.barcode
    )
    assert ok.result == VerificationResult.MATCH


def test_a_verified_product_cannot_be_applied_to_another_patient(nurse: Any, chain: Chain, personas: Personas) -> None:
    from prpclinic.visits.models import Visit

    product = prepared_product(nurse, chain)
    bedside.product_verify_at_bedside(
        request=nurse, patient_code=f"PT-{chain.patient.mrn}", product_code=product.barcode
    )
    other = make_patient(personas.clinic_a, mrn="A000300")
    other_visit = Visit.objects.create(
        clinic=personas.clinic_a, patient=other, treatment="prp_scalp", clinician=personas.physician
    )
    with pytest.raises(ValidationError, match="verified for another patient"):
        bedside.product_apply(
            request=nurse,
            product_id=product.pk,
            patient_id=other.pk,
            visit_id=other_visit.pk,
            zones=[{"zone": "vertex", "volume_ml": "1"}],
        )
    with pytest.raises(ValidationError, match="another patient's"):
        bedside.product_apply(
            request=nurse,
            product_id=product.pk,
            patient_id=chain.patient.pk,
            visit_id=other_visit.pk,
            zones=[{"zone": "vertex", "volume_ml": "1"}],
        )
    product.refresh_from_db()
    assert product.status == ProductStatus.VERIFIED


def test_an_unverified_product_cannot_be_applied(nurse: Any, chain: Chain) -> None:
    product = prepared_product(nurse, chain)
    with pytest.raises(ValidationError, match="only a product verified at the bedside"):
        bedside.product_apply(
            request=nurse,
            product_id=product.pk,
            patient_id=chain.patient.pk,
            visit_id=chain.visit.pk,
            zones=[{"zone": "vertex", "volume_ml": "1"}],
        )


def test_an_expired_product_is_refused_at_the_bedside_with_the_reason(
    nurse: Any, chain: Chain, personas: Personas
) -> None:
    personas.clinic_a.prp_expiry_minutes = 20
    personas.clinic_a.save()
    nurse.clinic.refresh_from_db()
    product = prepared_product(nurse, chain)  # prepared 30 min ago, limit 20 min
    result = bedside.product_verify_at_bedside(
        request=nurse, patient_code=f"PT-{chain.patient.mrn}", product_code=product.barcode
    )
    assert result.result == VerificationResult.REFUSED and "expired at" in result.reason
    product.refresh_from_db()
    assert product.status == ProductStatus.PREPARED


def test_a_product_that_expires_after_verification_cannot_be_applied(nurse: Any, chain: Chain) -> None:
    product = prepared_product(nurse, chain)
    bedside.product_verify_at_bedside(
        request=nurse, patient_code=f"PT-{chain.patient.mrn}", product_code=product.barcode
    )
    Product.objects.filter(pk=product.pk).update(expires_at=ago(1))
    with pytest.raises(ValidationError, match="expired"):
        bedside.product_apply(
            request=nurse,
            product_id=product.pk,
            patient_id=chain.patient.pk,
            visit_id=chain.visit.pk,
            zones=[{"zone": "vertex", "volume_ml": "1"}],
        )


def test_discarded_products_are_refused(nurse: Any, chain: Chain) -> None:
    product = prepared_product(nurse, chain)
    bedside.product_discard(request=nurse, product_id=product.pk, reason="syringe dropped")
    result = bedside.product_verify_at_bedside(
        request=nurse, patient_code=f"PT-{chain.patient.mrn}", product_code=product.barcode
    )
    assert result.result == VerificationResult.REFUSED and "discarded" in result.reason


@pytest.mark.parametrize(
    ("patient_code", "product_code", "field", "message"),
    [
        ("PT-A000100", "PRP-NOSUCH99", "product_code", "No product of this clinic has this barcode."),
        ("PT-Z999999", "{product}", "patient_code", "No patient of this clinic has this wristband."),
        ("{product}", "{product}", "patient_code", "not a patient wristband"),
        ("PT-A000100", "PT-A000100", "product_code", "not a PRP product barcode"),
        ("PT-A000100", "{product}-T1", "product_code", "This is a tube label"),
    ],
)
def test_unknown_or_misplaced_barcodes_are_refused_and_change_nothing(
    patient_code: str, product_code: str, field: str, message: str, nurse: Any, chain: Chain
) -> None:
    product = prepared_product(nurse, chain)
    before = (ProductEvent.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ValidationError) as error:
        bedside.product_verify_at_bedside(
            request=nurse,
            patient_code=patient_code.format(product=product.barcode),
            product_code=product_code.format(product=product.barcode),
        )
    assert message in " ".join(error.value.message_dict[field])
    product.refresh_from_db()
    assert product.status == ProductStatus.PREPARED
    assert (ProductEvent.objects.count(), AuditEvent.objects.count()) == before


def test_the_draw_refuses_a_wristband_of_another_patient(nurse: Any, chain: Chain) -> None:
    with pytest.raises(ValidationError, match="is not Clara Weber's"):
        do_draw(nurse, chain, scanned_code="PT-A000999")
    assert Product.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"volume_ml": Decimal("0")}, "volume_ml", "more than 0 mL"),
        ({"volume_ml": Decimal("19")}, "volume_ml", "does not fit in 2 tube(s) of 9.0 mL"),
        ({"platelets_k_per_ul": Decimal("25000")}, "platelets_k_per_ul", "is not plausible"),
        ({"hematocrit_pct": Decimal("450")}, "hematocrit_pct", "is not plausible"),
        ({"drawn_at": timezone.now() + dt.timedelta(hours=1)}, "drawn_at", "in the future"),
    ],
)
def test_bad_draw_values_are_refused_with_a_message(
    overrides: dict[str, Any], field: str, message: str, nurse: Any, chain: Chain
) -> None:
    with pytest.raises(ValidationError) as error:
        do_draw(nurse, chain, **overrides)
    assert message in " ".join(error.value.message_dict[field])
    assert Product.objects.count() == 0


def test_an_expired_or_recalled_lot_cannot_be_used(nurse: Any, chain: Chain, personas: Personas) -> None:
    chain.tube_lot.expiry_date = dt.date.today() - dt.timedelta(days=1)
    chain.tube_lot.save()
    with pytest.raises(ValidationError, match="expired on"):
        do_draw(nurse, chain)
    chain.tube_lot.expiry_date = dt.date.today() + dt.timedelta(days=1)
    chain.tube_lot.save()
    physician = clinic_request(personas.physician, personas.clinic_a)
    inventory.lot_recall(request=physician, lot_id=chain.kit_lot.pk, reason="sterility notice 2026-11")
    with pytest.raises(ValidationError, match="was recalled"):
        do_draw(nurse, chain)


def test_the_recall_query_lists_every_patient_and_product_of_a_lot(
    nurse: Any, chain: Chain, personas: Personas
) -> None:
    first = do_draw(nurse, chain)
    from prpclinic.visits.models import Visit

    other = make_patient(personas.clinic_a, mrn="A000400")
    visit = Visit.objects.create(
        clinic=personas.clinic_a, patient=other, treatment="prp_scalp", clinician=personas.physician
    )
    second = do_draw(nurse, chain, visit_id=visit.pk, scanned_code="PT-A000400")
    _lot, draws = lot_usage(request=nurse, lot_id=chain.kit_lot.pk)
    assert {(d.patient.mrn, d.product.code) for d in draws} == {("A000100", first.code), ("A000400", second.code)}


def test_spins_respect_order_device_state_and_maximum_speed(nurse: Any, chain: Chain) -> None:
    product = do_draw(nurse, chain)
    with pytest.raises(ValidationError, match="before the blood was drawn"):
        spin.spin_start(
            request=nurse,
            product_id=product.pk,
            centrifuge_id=chain.centrifuge.pk,
            program_id=chain.program.pk,
            started_at=ago(70),
        )
    with pytest.raises(ValidationError, match="goes up to 6000 RPM"):
        spin.spin_start(
            request=nurse,
            product_id=product.pk,
            centrifuge_id=chain.centrifuge.pk,
            rcf=5000,
            minutes=10,
            started_at=ago(50),
        )
    chain.centrifuge.in_service = False
    chain.centrifuge.out_of_service_reason = "rotor imbalance"
    chain.centrifuge.save()
    with pytest.raises(ValidationError, match="out of service: rotor imbalance"):
        spin.spin_start(
            request=nurse,
            product_id=product.pk,
            centrifuge_id=chain.centrifuge.pk,
            program_id=chain.program.pk,
            started_at=ago(50),
        )
    chain.centrifuge.in_service = True
    chain.centrifuge.save()
    first = spin.spin_start(
        request=nurse,
        product_id=product.pk,
        centrifuge_id=chain.centrifuge.pk,
        rpm=1500,
        minutes=10,
        started_at=ago(50),
    )
    assert (first.rcf, first.rpm) == (round(1.118e-5 * 8.6 * 1500**2), 1500)
    with pytest.raises(ValidationError, match="before spin 1 has finished"):
        spin.spin_start(
            request=nurse,
            product_id=product.pk,
            centrifuge_id=chain.centrifuge.pk,
            rcf=600,
            minutes=10,
            started_at=ago(45),
        )
    with pytest.raises(ValidationError, match="Spin 1 ends at"):
        spin.product_prepare(request=nurse, product_id=product.pk, prepared_at=ago(45), volume_ml=Decimal("3"))


def test_preparation_refuses_more_prp_than_blood_drawn(nurse: Any, chain: Chain) -> None:
    with pytest.raises(ValidationError, match=r"more than the 18\.0 mL of blood drawn"):
        prepared_product(nurse, chain, volume_ml=Decimal("25"))


def test_front_desk_cannot_touch_the_chain(personas: Personas, chain: Chain) -> None:
    desk = clinic_request(personas.front_desk, personas.clinic_a)
    with pytest.raises(PermissionDenied):
        do_draw(desk, chain)


def test_product_measures_follow_the_reference_formulas() -> None:
    # PRP_REFERENCE.md §2 worked example: 250k/µL x 10 mL WB, R = 0.70, V_PRP = 1.5 mL.
    c_prp = Decimal(250) * Decimal(10) * Decimal("0.70") / Decimal("1.5")
    result = measures.product_measures(
        c_wb=Decimal(250),
        v_wb=Decimal(10),
        c_prp=c_prp,
        v_prp=Decimal("1.5"),
        wbc_wb=None,
        wbc_prp=None,
        activated=False,
    )
    assert result.recovery == pytest.approx(Decimal("0.70"))
    assert float(result.dose_billion) == pytest.approx(1.75)
    assert float(result.concentration_factor) == pytest.approx(4.67, abs=0.01)
    assert result.paw == "P3"


@pytest.mark.parametrize(
    ("c_prp", "activated", "wbc", "expected"),
    [
        (200, False, None, "P1"),
        (700, False, None, "P2"),
        (1250, True, None, "P3-x"),
        (1300, False, (6, 9), "P4-A"),
        (900, False, (6, 2), "P3-B"),
    ],
)
def test_paw_classification_bands(c_prp: int, activated: bool, wbc: tuple[int, int] | None, expected: str) -> None:
    assert (
        measures.paw(
            c_wb=Decimal(250),
            c_prp=Decimal(c_prp),
            activated=activated,
            wbc_wb=Decimal(wbc[0]) if wbc else None,
            wbc_prp=Decimal(wbc[1]) if wbc else None,
        )
        == expected
    )


def test_measures_are_never_guessed_without_their_inputs() -> None:
    result = measures.product_measures(
        c_wb=None, v_wb=Decimal(10), c_prp=None, v_prp=Decimal(3), wbc_wb=None, wbc_prp=None, activated=False
    )
    assert (result.recovery, result.concentration_factor, result.dose_billion, result.paw, result.plra) == (None,) * 5


def test_no_code_outside_the_state_service_changes_a_product_status() -> None:
    allowed = ROOT / "prpclinic" / "prp" / "services" / "state.py"
    pattern = re.compile(r"(product\w*\.status\s*=[^=]|\bstatus\s*=\s*ProductStatus\.|\.update\([^)]*\bstatus\s*=)")
    offenders = []
    for path in (ROOT / "prpclinic").rglob("*.py"):
        if path == allowed or "migrations" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            other_model = re.search(r"\b(?!Product\b)[A-Z]\w*\.objects\b", line)  # e.g. ExportJob's own status
            if pattern.search(line) and "Incident" not in line and "incident" not in line and not other_model:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_a_second_scan_of_a_verified_syringe_does_not_block_its_application(nurse: Any, chain: Chain) -> None:
    product = prepared_product(nurse, chain)
    code = f"PT-{chain.patient.mrn}"
    assert (
        bedside.product_verify_at_bedside(request=nurse, patient_code=code, product_code=product.barcode).result
        == "match"
    )
    again = bedside.product_verify_at_bedside(request=nurse, patient_code=code, product_code=product.barcode)
    assert again.result == "refused" and "already verified" in again.reason
    application = bedside.product_apply(
        request=nurse, product_id=product.pk, patient_id=chain.patient.pk, visit_id=chain.visit.pk,
        zones=[{"zone": "vertex", "volume_ml": "1"}],
    )  # fmt: skip
    assert application.verification.result == "match"


def test_a_wrong_scan_of_an_applied_product_is_an_incident_a_physician_can_close(
    nurse: Any, chain: Chain, personas: Personas
) -> None:
    product = prepared_product(nurse, chain)
    bedside.product_verify_at_bedside(
        request=nurse, patient_code=f"PT-{chain.patient.mrn}", product_code=product.barcode
    )
    bedside.product_apply(
        request=nurse, product_id=product.pk, patient_id=chain.patient.pk, visit_id=chain.visit.pk,
        zones=[{"zone": "vertex", "volume_ml": "1"}],
    )  # fmt: skip
    make_patient(personas.clinic_a, mrn="A000777")
    bedside.product_verify_at_bedside(request=nurse, patient_code="PT-A000777", product_code=product.barcode)
    incident = Incident.objects.get()
    product.refresh_from_db()
    assert product.status == ProductStatus.APPLIED and incident.status == "open"
    physician = clinic_request(personas.physician, personas.clinic_a)
    bedside.incident_close(request=physician, incident_id=incident.pk, reason="empty syringe scanned while tidying")
    incident.refresh_from_db()
    assert incident.status == "closed" and incident.resolved_by == personas.physician


def test_no_application_is_recorded_on_a_closed_visit(nurse: Any, chain: Chain) -> None:
    product = prepared_product(nurse, chain)
    bedside.product_verify_at_bedside(
        request=nurse, patient_code=f"PT-{chain.patient.mrn}", product_code=product.barcode
    )
    chain.visit.status = "completed"
    chain.visit.save()
    with pytest.raises(ValidationError, match="This visit is closed"):
        bedside.product_apply(
            request=nurse, product_id=product.pk, patient_id=chain.patient.pk, visit_id=chain.visit.pk,
            zones=[{"zone": "vertex", "volume_ml": "1"}],
        )  # fmt: skip
