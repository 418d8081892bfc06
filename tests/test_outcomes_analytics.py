"""Clinic analytics: change from baseline after N sessions per patient, n, mean, 95 % CI, too few patients, CSV;
per protocol, split by PRP dose band, PAW classification and concentration band from the chain of custody."""

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
from prpclinic.prp.models import Application, BloodDraw, Product, Verification
from prpclinic.visits.models import Visit
from tests.conftest import Chain, Personas, make_patient

START = timezone.now() - dt.timedelta(days=200)
URL = "/outcomes/analytics/?scale=hair_density&treatment=prp_scalp&sessions=3"


def apply_prp(
    personas: Personas,
    chain: Chain,
    visit: Visit,
    *,
    platelets: int | None,
    volume: str = "4",
    whole_blood: int | None = None,
) -> Application:
    """PRP applied in ``visit`` as the chain of custody records it: draw, product, bedside scan, application."""
    clinic, patient = personas.clinic_a, visit.patient
    draw = BloodDraw.objects.create(
        clinic=clinic, visit=visit, patient=patient, drawn_by=personas.nurse, drawn_at=visit.started_at,
        site="other", volume_ml=Decimal(9), tube_count=1, tube_lot=chain.tube_lot, anticoagulant="edta",
        identity_check="confirmed", platelets_k_per_ul=whole_blood,
    )  # fmt: skip
    product = Product.objects.create(
        clinic=clinic, patient=patient, draw=draw, status="applied", volume_ml=Decimal(volume),
        platelets_k_per_ul=platelets,
    )  # fmt: skip
    scan = Verification.objects.create(
        clinic=clinic, product=product, patient=patient, scanned_patient_code="p", scanned_product_code="x",
        result="match", by=personas.nurse,
    )  # fmt: skip
    return Application.objects.create(
        clinic=clinic, product=product, verification=scan, patient=patient, visit=visit, applied_by=personas.nurse,
        volume_applied_ml=Decimal(volume),
    )  # fmt: skip


def series(
    personas: Personas,
    chain: Chain | None,
    *,
    before: str,
    after: str,
    platelets: int | str | None = "none",
    volume: str = "4",
    whole_blood: int | None = None,
    sessions: int = 3,
    scored_after: int | None = None,
    treatment: str = "prp_scalp",
) -> Any:
    """A patient scored before session 1 and after ``scored_after`` (default all) of monthly sessions.

    ``platelets``: "none" = no PRP applied; None = PRP applied without a count; a number = its count.
    """
    clinic = personas.clinic_a
    patient = make_patient(clinic)
    visits = [
        Visit.objects.create(
            clinic=clinic,
            patient=patient,
            treatment=treatment,
            clinician=personas.physician,
            started_at=START + dt.timedelta(days=30 * i),
        )
        for i in range(sessions)
    ]
    if platelets != "none" and chain is not None:
        for visit in visits:
            apply_prp(personas, chain, visit, platelets=platelets, volume=volume, whole_blood=whole_blood)  # type: ignore[arg-type]
    after_day = START.date() + dt.timedelta(days=30 * (scored_after or sessions) - 15)
    for on, value in ((START.date(), before), (after_day, after)):
        Score.objects.create(
            clinic=clinic, patient=patient, scale="hair_density", value=Decimal(value), recorded_on=on,
            recorded_by=personas.nurse,
        )  # fmt: skip
    return patient


def analyse(personas: Personas, sessions: int = 3, **kwargs: Any) -> analytics.Analysis:
    return analytics.change_from_baseline(
        clinic_id=personas.clinic_a.pk, scale_code="hair_density", treatment="prp_scalp", sessions=sessions, **kwargs
    )


def groups(result: analytics.Analysis, split: str, section: int = 0) -> dict[str, tuple[int, float | None]]:
    chosen = next(s for s in result.sections[section].splits if s.code == split)
    return {g.label: (g.summary.n, g.summary.mean) for g in chosen.groups}  # type: ignore[union-attr]


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


def test_depa_dose_bands_are_the_default_and_a_dose_on_a_cut_off_goes_to_the_lower_band() -> None:
    cutoffs = analytics.DEPA_DOSE_CUTOFFS
    assert analytics.dose_band_labels(cutoffs) == ["D (≤1 ×10⁹)", "C (>1–3 ×10⁹)", "B (>3–5 ×10⁹)", "A (>5 ×10⁹)"]
    assert [analytics.dose_band(Decimal(x), cutoffs)[0] for x in ("0.5", "1", "2.9", "3", "4.8", "5.01")] == list(
        "DDCCBA"
    )
    assert analytics.dose_band(None, cutoffs) == "not measured"
    # The clinic's own cut-offs carry no DEPA letters.
    assert analytics.dose_band_labels((Decimal(2), Decimal(10))) == ["≤2 ×10⁹", ">2–10 ×10⁹", ">10 ×10⁹"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "at least one"), ("3, 1", "smallest to the largest"), ("0, 2", "above 0"), ("a, b", "Enter numbers"),
     ("1,2,3,4,5,6,7", "At most 6")],
)  # fmt: skip
def test_bad_dose_cut_offs_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        analytics.parse_cutoffs(text)


def test_change_after_three_sessions_is_split_by_dose_band_classification_and_concentration(
    personas: Personas, chain: Chain, signed_in: Any
) -> None:
    # Five patients: 1200 x10^3/µL in 4 mL = 4.8 x10^9 per session (DEPA B); whole blood 200 -> PAW P3.
    for before, after in (("140", "150"), ("120", "140"), ("100", "130"), ("150", "190"), ("130", "180")):
        series(personas, chain, before=before, after=after, platelets=1200, whole_blood=200)
    # One with PRP applied but never counted, one with 1400 x10^3/µL in 1 mL (1.4 x10^9: C; P4).
    series(personas, chain, before="100", after="90", platelets=None)
    series(personas, chain, before="100", after="105", platelets=1400, volume="1", whole_blood=250)
    result = analyse(personas)
    assert result.overall.n == 7
    assert groups(result, "dose") == {
        "C (>1–3 ×10⁹)": (1, None),
        "B (>3–5 ×10⁹)": (5, 30.0),
        "not measured": (1, None),
    }
    assert groups(result, "paw") == {"P3": (5, 30.0), "P4": (1, None), "not measured": (1, None)}
    assert groups(result, "concentration") == {
        "1000–1500 ×10³/µL": (6, pytest.approx((10 + 20 + 30 + 40 + 50 + 5) / 6)),
        "not measured": (1, None),
    }
    page = signed_in("physician").get(URL)
    assert page.status_code == 200
    text = page.content.decode()
    assert 'name="dose_cutoffs" value="1, 3, 5"' in text  # the default cut-offs, shown in their field
    assert "change from baseline after 3 sessions" in text
    assert "PRP dose band (platelets per session)" in text and "B (&gt;3–5 ×10⁹)" in text
    assert "DEPA, Magalon 2016, BMJ Open SEM 2:e000060 [U] (default cut-offs)" in text
    assert "PAW platelet category, DeLong 2012" in text and "P3" in text and "too few patients" in text
    assert AuditEvent.objects.filter(action="outcome.analytics.view").count() == 1


def test_the_clinic_sets_its_own_dose_cut_offs_and_bad_ones_are_refused_next_to_the_field(
    personas: Personas, chain: Chain, signed_in: Any
) -> None:
    series(personas, chain, before="100", after="120", platelets=1200, whole_blood=200)  # 4.8 x10^9
    client = signed_in("physician")
    page = client.get(URL + "&dose_cutoffs=2%2C+10").content.decode()
    assert "&gt;2–10 ×10⁹" in page and "the clinic&#x27;s own cut-offs" in page
    assert analyse(personas, dose_cutoffs=(Decimal(2), Decimal(10))).patients[0].dose == ">2–10 ×10⁹"
    refused = client.get(URL + "&dose_cutoffs=5%2C1")
    assert refused.status_code == 400
    assert 'id="id_dose_cutoffs_error"' in refused.content.decode()
    assert "smallest to the largest" in refused.content.decode()


def test_a_patient_without_prp_is_in_its_own_group_and_mesotherapy_has_no_prp_splits(
    personas: Personas, chain: Chain
) -> None:
    series(personas, chain, before="100", after="120")
    assert groups(analyse(personas), "dose") == {"no PRP applied": (1, None)}
    series(personas, None, before="3", after="2", treatment="mesotherapy")
    meso = analytics.change_from_baseline(
        clinic_id=personas.clinic_a.pk, scale_code="hair_density", treatment="mesotherapy", sessions=3
    )
    assert meso.overall.n == 1 and all(section.splits == [] for section in meso.sections)


def test_products_of_different_classes_make_a_mixed_group(personas: Personas, chain: Chain) -> None:
    patient = series(personas, chain, before="100", after="120")
    visits = list(Visit.objects.filter(patient=patient).order_by("started_at"))
    apply_prp(personas, chain, visits[0], platelets=700, whole_blood=200)  # P2
    apply_prp(personas, chain, visits[1], platelets=1300, whole_blood=200)  # P4
    assert analyse(personas).patients[0].paw == "mixed (P2, P4)"


def test_the_follow_up_is_the_score_after_exactly_n_sessions(personas: Personas) -> None:
    # Scored after the 4th session only: counted after 4 sessions, not after 3.
    series(personas, None, before="100", after="140", sessions=5, scored_after=4)
    assert analyse(personas, sessions=3).overall.n == 0
    four = analyse(personas, sessions=4)
    assert four.overall.n == 1 and four.patients[0].change == 40.0 and four.patients[0].sessions == 4


def test_the_baseline_is_the_last_score_before_the_first_session(personas: Personas) -> None:
    patient = series(personas, None, before="100", after="130")
    Score.objects.create(
        clinic=personas.clinic_a, patient=patient, scale="hair_density", value=Decimal(110),
        recorded_on=START.date(), recorded_by=personas.nurse,
    )  # fmt: skip
    Score.objects.create(
        clinic=personas.clinic_a, patient=patient, scale="hair_density", value=Decimal(90),
        recorded_on=START.date() - dt.timedelta(days=40), recorded_by=personas.nurse,
    )  # fmt: skip
    assert analyse(personas).patients[0].change == 20.0  # 130 - 110, the later of the two scores on day 0


def test_a_patient_without_enough_sessions_is_not_counted(personas: Personas) -> None:
    patient = series(personas, None, before="100", after="120")
    Visit.objects.filter(patient=patient).order_by("-started_at").first().delete()  # type: ignore[union-attr]
    result = analyse(personas)
    assert result.overall.n == 0 and result.overall.too_few


def test_the_csv_export_has_every_protocol_and_split_and_is_audited(
    personas: Personas, chain: Chain, signed_in: Any
) -> None:
    series(personas, chain, before="100", after="110", platelets=600, whole_blood=200)  # 2.4 x10^9: C; P2
    response = signed_in("admin").get(URL.replace("/analytics/", "/analytics.csv"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["protocol"], r["split"], r["group"], r["n"]) for r in rows] == [
        ("no protocol recorded", "all", "all", "1"),
        ("no protocol recorded", "dose", "C (>1–3 ×10⁹)", "1"),
        ("no protocol recorded", "paw", "P2", "1"),
        ("no protocol recorded", "concentration", "500–1000 ×10³/µL", "1"),
    ]
    assert rows[0]["note"] == "too few patients (under 5)" and rows[0]["mean"] == ""
    assert (rows[0]["quantity"], rows[0]["unit"]) == ("change from baseline", "hairs/cm²")
    assert rows[1]["source"].startswith("DEPA") and "[U]" in rows[1]["source"]
    event = AuditEvent.objects.get(action="outcome.analytics.export")
    assert event.changes == {
        "scale": "hair_density", "treatment": "prp_scalp", "sessions": 3, "rater": "clinician", "variant": "",
        "dose_cutoffs": "1, 3, 5",
    }  # fmt: skip
    assert signed_in("nurse").get("/outcomes/analytics/").status_code == 403


def test_the_analytics_page_runs_the_same_queries_for_few_or_many_patients(
    personas: Personas, chain: Chain, signed_in: Any
) -> None:
    client = signed_in("physician")
    series(personas, chain, before="100", after="110", platelets=600)
    with CaptureQueriesContext(connection) as one:
        client.get(URL)
    for _ in range(3):
        series(personas, chain, before="100", after="120", platelets=1600)
    with CaptureQueriesContext(connection) as four:
        client.get(URL)
    assert len(four) == len(one)


def test_patients_are_grouped_by_the_protocol_version_of_their_sessions(personas: Personas) -> None:
    from prpclinic.treatments.models import TreatmentPlan
    from prpclinic.treatments.selectors import current_protocol

    protocol = current_protocol(clinic_id=personas.clinic_a.pk, kind="prp_scalp")
    label = f"{protocol.treatment.name} protocol v{protocol.version}"
    recorded = series(personas, None, before="100", after="130")
    Visit.objects.filter(patient=recorded).update(protocol=protocol)
    planned = series(personas, None, before="100", after="120")
    series(personas, None, before="100", after="110")
    # Older visits without a protocol fall back to the patient's plan.
    TreatmentPlan.objects.create(
        clinic=personas.clinic_a, patient=planned, treatment=protocol.treatment, kind="prp_scalp", protocol=protocol,
        start_date=START.date(), created_by=personas.physician,
    )  # fmt: skip
    result = analyse(personas)
    sections = {(s.protocol, s.overall.n, s.overall.mean) for s in result.sections}
    assert sections == {("all protocols", 3, None), (label, 2, None), ("no protocol recorded", 1, None)}
    assert sorted(p.change for p in result.patients if p.protocol == label) == [20.0, 30.0]


def test_gais_and_satisfaction_report_the_rating_after_n_sessions_without_a_baseline(
    personas: Personas, signed_in: Any
) -> None:
    clinic = personas.clinic_a
    for rating in ("1", "2", "2", "3", "2"):
        patient = make_patient(clinic)
        for i in range(3):
            Visit.objects.create(
                clinic=clinic, patient=patient, treatment="prp_scalp", clinician=personas.physician,
                started_at=START + dt.timedelta(days=30 * i),
            )  # fmt: skip
        # No score before the first session: GAIS rates the change itself.
        Score.objects.create(
            clinic=clinic, patient=patient, scale="gais", variant="standard", level=rating, rater="patient",
            recorded_on=START.date() + dt.timedelta(days=75), recorded_by=personas.nurse,
        )  # fmt: skip
    result = analytics.change_from_baseline(
        clinic_id=clinic.pk, scale_code="gais", treatment="prp_scalp", sessions=3, rater="patient", variant="standard"
    )
    assert result.quantity == "rating" and result.overall.n == 5 and result.overall.mean == 2.0
    assert all(p.baseline is None for p in result.patients)
    page = signed_in("physician").get(
        "/outcomes/analytics/?scale=gais&treatment=prp_scalp&sessions=3&rater=patient&variant=standard"
    )
    text = page.content.decode()
    assert "rating after 3 sessions" in text and "no baseline to subtract" in text and "Mean rating" in text
