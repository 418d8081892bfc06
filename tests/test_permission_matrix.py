"""Every URL x method x persona answers as tests/permission_matrix.csv says; no URL is unlisted."""

from __future__ import annotations

import csv
import importlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from prpclinic.clinics.models import Membership
from tests.conftest import Personas, make_patient

# permission_matrix.csv plus one permission_matrix_<area>.csv per capability (same columns), so
# that each area lists its own URLs; tests/matrix_<area>.py makes that area's placeholder rows.
HERE = Path(__file__).parent
MATRICES = sorted(HERE.glob("permission_matrix*.csv"))
PERSONAS = ["anonymous", "admin", "physician", "nurse", "front_desk", "other_physician"]


def _rows() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for matrix in MATRICES:
        lines = [line for line in matrix.read_text().splitlines() if line and not line.startswith("#")]
        rows += csv.DictReader(lines)
    return rows


def _area_placeholders(personas: Personas, patient: Any) -> dict[str, Any]:
    """Each tests/matrix_<area>.py has ``placeholders(personas, patient) -> dict`` of clinic A's rows."""
    values: dict[str, Any] = {}
    for module_path in sorted(HERE.glob("matrix_*.py")):
        module = importlib.import_module(f"tests.{module_path.stem}")
        values.update(module.placeholders(personas, patient))
    return values


ROWS = _rows()
CASES = [
    pytest.param(row, persona, id=f"{row['method']} {row['url']} {row['data']} as {persona}")
    for row in ROWS
    for persona in PERSONAS
]


def _placeholders(personas: Personas) -> dict[str, Any]:
    patient = make_patient(personas.clinic_a)
    chain = _chain_rows(personas, patient)
    return {
        **chain,
        **_area_placeholders(personas, patient),
        "patient_a": patient.pk,
        "membership_nurse_a": Membership.objects.get(user=personas.nurse).pk,
        "membership_b": Membership.objects.get(user=personas.other_physician).pk,
        "clinic_b": personas.clinic_b.pk,
    }


def _chain_rows(personas: Personas, patient: Any) -> dict[str, int]:
    """One of each PRP object in clinic A, made directly: the matrix tests access, not the chain."""
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from prpclinic.prp.models import BloodDraw, Centrifuge, ConsumableLot, Incident, Product, Verification
    from prpclinic.visits.models import Visit

    clinic, today = personas.clinic_a, dt.date.today()
    centrifuge = Centrifuge.objects.create(
        clinic=clinic, name="C", make="M", model="X", serial_number="S1", rotor_radius_cm=Decimal(8), max_rpm=5000,
        calibration_due=today,
    )  # fmt: skip
    lot = ConsumableLot.objects.create(
        clinic=clinic, kind="tube", product_name="Tube", lot_number="L1", expiry_date=today, tube_capacity_ml=Decimal(9)
    )
    visit = Visit.objects.create(clinic=clinic, patient=patient, treatment="prp_scalp", clinician=personas.physician)
    draw = BloodDraw.objects.create(
        clinic=clinic, visit=visit, patient=patient, drawn_by=personas.nurse, drawn_at=timezone.now(), site="other",
        volume_ml=Decimal(9), tube_count=1, tube_lot=lot, anticoagulant="edta", identity_check="confirmed",
    )  # fmt: skip
    product = Product.objects.create(clinic=clinic, patient=patient, draw=draw)
    verification = Verification.objects.create(
        clinic=clinic, product=product, patient=patient, scanned_patient_code="PT-X", scanned_product_code="PRP-X",
        result="mismatch", by=personas.nurse,
    )  # fmt: skip
    incident = Incident.objects.create(
        clinic=clinic, product=product, verification=verification, donor=patient, scanned_patient=patient,
        reported_by=personas.nurse,
    )  # fmt: skip
    return {
        "product_a": product.pk, "visit_a": visit.pk, "centrifuge_a": centrifuge.pk, "lot_a": lot.pk,
        "incident_a": incident.pk,
    }  # fmt: skip


@pytest.mark.parametrize(("row", "persona"), CASES)
def test_each_url_answers_each_persona_as_the_matrix_says(
    row: dict[str, str], persona: str, personas: Personas, signed_in: Any
) -> None:
    values = _placeholders(personas)
    url = row["url"].format(**values)
    data = dict(pair.split("=", 1) for pair in row["data"].format(**values).split("&") if pair)
    client = signed_in(persona)
    response = client.get(url) if row["method"] == "GET" else client.post(url, data)
    assert response.status_code == int(row[persona]), f"{row['method']} {url} as {persona}"


def _all_url_names(patterns: list[Any], prefix: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            names |= _all_url_names(pattern.url_patterns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(pattern.name)
    return names


def test_the_matrix_lists_every_url_of_the_app() -> None:
    placeholders: defaultdict[str, int] = defaultdict(lambda: 1)  # any id resolves the URL
    listed = {resolve(row["url"].format_map(placeholders)).url_name for row in ROWS}
    missing = _all_url_names(get_resolver().url_patterns) - listed
    assert missing == set(), f"URLs missing from the permission_matrix*.csv files: {sorted(missing)}"
