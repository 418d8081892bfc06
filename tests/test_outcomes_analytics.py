"""Clinic analytics: change from baseline after N sessions, n, mean, 95 % CI, PRP bands, too few patients, CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from prpclinic.audit.models import AuditEvent
from prpclinic.outcomes import analytics
from prpclinic.outcomes.models import Score
from prpclinic.outcomes.stats import mean_change
from prpclinic.prp.models import BloodDraw, Product
from prpclinic.visits.models import Visit
from tests.conftest import Chain, Personas, make_patient

START = timezone.now() - dt.timedelta(days=200)


def series(personas: Personas, chain: Chain | None, *, before: str, after: str, platelets: int | None = None) -> Any:
    """A patient scored before session 1 and after three monthly PRP scalp sessions."""
    clinic = personas.clinic_a
    patient = make_patient(clinic)
    visits = [
        Visit.objects.create(
            clinic=clinic,
            patient=patient,
            treatment="prp_scalp",
            clinician=personas.physician,
            started_at=START + dt.timedelta(days=30 * i),
        )
        for i in range(3)
    ]
    if platelets is not None and chain is not None:
        for visit in visits:
            draw = BloodDraw.objects.create(
                clinic=clinic, visit=visit, patient=patient, drawn_by=personas.nurse, drawn_at=visit.started_at,
                site="other", volume_ml=Decimal(9), tube_count=1, tube_lot=chain.tube_lot, anticoagulant="edta",
                identity_check="confirmed",
            )  # fmt: skip
            Product.objects.create(
                clinic=clinic, patient=patient, draw=draw, status="applied", platelets_k_per_ul=Decimal(platelets)
            )
    for on, value in ((START.date(), before), (START.date() + dt.timedelta(days=90), after)):
        Score.objects.create(
            clinic=clinic, patient=patient, scale="hair_density", value=Decimal(value), recorded_on=on,
            recorded_by=personas.nurse,
        )  # fmt: skip
    return patient


def test_the_confidence_interval_uses_the_t_distribution() -> None:
    summary = mean_change([10, 20, 30, 40, 50], min_n=5)
    assert (summary.n, summary.mean, round(summary.sd, 3)) == (5, 30.0, 15.811)  # type: ignore[arg-type]
    # t(0.975, 4) = 2.776; 2.776 x 15.811 / sqrt(5) = 19.63
    assert (round(summary.ci_low, 2), round(summary.ci_high, 2)) == (10.37, 49.63)  # type: ignore[arg-type]
    assert mean_change([1.0, 2.0], min_n=5).too_few


def test_everts_bands() -> None:
    assert analytics.everts_band(Decimal(450)) == "0–500 ×10³/µL"
    assert analytics.everts_band(Decimal(1200)) == "1000–1500 ×10³/µL"
    assert analytics.everts_band(Decimal(1600)) == ">1500 ×10³/µL"
    assert analytics.everts_band(None) == "not measured"


def test_change_after_three_sessions_is_summarised_per_prp_band(
    personas: Personas, chain: Chain, signed_in: Any
) -> None:
    for before, after in (("140", "150"), ("120", "140"), ("100", "130"), ("150", "190"), ("130", "180")):
        series(personas, chain, before=before, after=after, platelets=1200)
    series(personas, chain, before="100", after="90", platelets=None)
    page = signed_in("physician").get("/outcomes/analytics/?scale=hair_density&treatment=prp_scalp&sessions=3")
    assert page.status_code == 200
    text = page.content.decode()
    assert "change from baseline after 3 sessions" in text
    assert "1000–1500 ×10³/µL" in text and "not measured" in text and "too few patients" in text
    result = analytics.change_from_baseline(
        clinic_id=personas.clinic_a.pk, scale_code="hair_density", treatment="prp_scalp", sessions=3
    )
    assert result.overall.n == 6 and result.overall.mean == pytest.approx((10 + 20 + 30 + 40 + 50 - 10) / 6)
    band = next(g for g in result.groups if g.band.startswith("1000"))
    assert band.summary.n == 5 and band.summary.mean == 30.0 and not band.summary.too_few  # type: ignore[union-attr]
    assert AuditEvent.objects.filter(action="outcome.analytics.view").count() == 1


def test_a_patient_without_enough_sessions_is_not_counted(personas: Personas) -> None:
    patient = series(personas, None, before="100", after="120")
    Visit.objects.filter(patient=patient).order_by("-started_at").first().delete()  # type: ignore[union-attr]
    result = analytics.change_from_baseline(
        clinic_id=personas.clinic_a.pk, scale_code="hair_density", treatment="prp_scalp", sessions=3
    )
    assert result.overall.n == 0 and result.overall.too_few


def test_the_csv_export_has_the_groups_and_is_audited(personas: Personas, chain: Chain, signed_in: Any) -> None:
    series(personas, chain, before="100", after="110", platelets=600)
    response = signed_in("admin").get("/outcomes/analytics.csv?scale=hair_density&treatment=prp_scalp&sessions=3")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["protocol"], r["prp_band"], r["n"]) for r in rows] == [
        ("all", "all", "1"),
        ("no plan", "500–1000 ×10³/µL", "1"),
    ]
    assert rows[0]["note"] == "too few patients (under 5)" and rows[0]["mean_change"] == ""
    assert AuditEvent.objects.filter(action="outcome.analytics.export").count() == 1
    assert signed_in("nurse").get("/outcomes/analytics/").status_code == 403


def test_the_analytics_page_runs_the_same_queries_for_few_or_many_patients(
    personas: Personas, chain: Chain, signed_in: Any
) -> None:
    client = signed_in("physician")
    url = "/outcomes/analytics/?scale=hair_density&treatment=prp_scalp&sessions=3"
    series(personas, chain, before="100", after="110", platelets=600)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for _ in range(3):
        series(personas, chain, before="100", after="120", platelets=1600)
    with CaptureQueriesContext(connection) as four:
        client.get(url)
    assert len(four) == len(one)


def test_patients_are_grouped_by_the_protocol_version_of_their_plan(personas: Personas) -> None:
    from prpclinic.treatments.models import TreatmentPlan
    from prpclinic.treatments.selectors import current_protocol

    protocol = current_protocol(clinic_id=personas.clinic_a.pk, kind="prp_scalp")
    planned = series(personas, None, before="100", after="120")
    series(personas, None, before="100", after="110")
    TreatmentPlan.objects.create(
        clinic=personas.clinic_a, patient=planned, treatment=protocol.treatment, kind="prp_scalp", protocol=protocol,
        start_date=START.date(), created_by=personas.physician,
    )  # fmt: skip
    result = analytics.change_from_baseline(
        clinic_id=personas.clinic_a.pk, scale_code="hair_density", treatment="prp_scalp", sessions=3
    )
    labels = {(g.protocol, g.summary.n) for g in result.groups}  # type: ignore[union-attr]
    assert labels == {(f"{protocol.treatment.name} protocol v{protocol.version}", 1), ("no plan", 1)}
