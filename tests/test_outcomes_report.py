"""The outcome report PDF: first and latest photo of each view and the progress charts, no-store, audited."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from prpclinic.audit.models import AuditEvent
from prpclinic.outcomes.report import report_context
from tests.conftest import Personas, make_patient
from tests.factories_consents import consent_signed
from tests.test_outcomes_photos import jpeg, upload


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def consented(personas: Personas) -> Any:
    patient = make_patient(personas.clinic_a)
    consent_signed(clinic=personas.clinic_a, patient=patient, treatment="photography", by=personas.nurse)
    return patient


def test_the_report_shows_before_and_after_photos_and_the_charts(
    personas: Personas,
    signed_in: Any,
    consented: Any,
    tmp_path: Path,
) -> None:
    client = signed_in("nurse")
    upload(client, consented, jpeg(color="#111111"), view="scalp_vertex", session_number="1")
    upload(client, consented, jpeg(color="#333333"), view="scalp_vertex", session_number="3")
    client.post(
        f"/outcomes/patients/{consented.pk}/scores/hair_density/",
        {
            "value": "150",
            "rater": "clinician",
            "recorded_on": "2026-01-05",
            "visit": "",
            "session_number": "",
            "site": "",
        },
    )
    response = signed_in("admin").get(f"/outcomes/patients/{consented.pk}/report.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF") and "no-store" in response["Cache-Control"]
    assert response.content.count(b"/Subtype /Image") >= 2  # both photos are in the PDF
    html = render_to_string("outcomes/report_pdf.html", report_context(clinic=personas.clinic_a, patient=consented))
    assert "Outcome report" in html and consented.mrn in html
    assert "Scalp, vertex — " in html and "session 1" in html and "session 3" in html
    assert html.count('src="data:image/jpeg;base64,') == 2 and html.count('src="data:image/svg+xml;base64,') == 1
    assert "Hair density" in html and "150 hairs/cm²" in html
    event = AuditEvent.objects.get(action="outcome.report.view")
    assert (event.actor, event.object_id) == (personas.admin, str(consented.pk))
    assert signed_in("other_physician").get(f"/outcomes/patients/{consented.pk}/report.pdf").status_code == 404


def test_the_report_reads_a_fixed_number_of_queries(personas: Personas, signed_in: Any, consented: Any) -> None:
    client = signed_in("nurse")
    upload(client, consented, jpeg(), view="scalp_vertex")
    with CaptureQueriesContext(connection) as one:
        client.get(f"/outcomes/patients/{consented.pk}/report.pdf")
    upload(client, consented, jpeg(), view="scalp_vertex")
    upload(client, consented, jpeg(), view="face_front")
    with CaptureQueriesContext(connection) as three:
        client.get(f"/outcomes/patients/{consented.pk}/report.pdf")
    assert len(three) == len(one)


def test_a_series_report_shows_that_series_sessions_area_and_scales_only(
    personas: Personas, signed_in: Any, consented: Any
) -> None:
    from prpclinic.treatments.models import PlannedSession, TreatmentPlan
    from prpclinic.treatments.selectors import current_protocol
    from prpclinic.visits.models import Visit

    clinic = personas.clinic_a
    protocol = current_protocol(clinic_id=clinic.pk, kind="prp_scalp")
    plan = TreatmentPlan.objects.create(
        clinic=clinic, patient=consented, treatment=protocol.treatment, kind="prp_scalp", protocol=protocol,
        start_date=dt.date(2026, 1, 5), created_by=personas.physician,
    )  # fmt: skip
    for number in (1, 2):
        visit = Visit.objects.create(
            clinic=clinic, patient=consented, treatment="prp_scalp", clinician=personas.physician,
            started_at=timezone.make_aware(dt.datetime(2026, number, 5, 10)),
        )  # fmt: skip
        PlannedSession.objects.create(
            clinic=clinic, plan=plan, number=number, due_date=visit.started_at.date(), visit=visit
        )
    # A face visit outside the series.
    Visit.objects.create(clinic=clinic, patient=consented, treatment="microneedling_prp", clinician=personas.physician)
    client = signed_in("nurse")
    upload(client, consented, jpeg(color="#111111"), view="scalp_vertex", session_number="1")
    upload(client, consented, jpeg(color="#222222"), view="face_front")
    for scale, value in (("hair_density", "150"), ("glogau", "II"), ("gais", "2")):
        client.post(
            f"/outcomes/patients/{consented.pk}/scores/{scale}/",
            {"value": value, "rater": "clinician", "recorded_on": "2026-01-05", "variant": "standard"},
        )
    html = render_to_string("outcomes/report_pdf.html", report_context(clinic=clinic, patient=consented, plan=plan))
    assert f"Series: {protocol.treatment.name}</strong>, protocol v{protocol.version}, from 2026-01-05" in html
    assert "2 sessions done" in html
    assert "Scalp, vertex — " in html and "Face, front" not in html
    assert "Hair density" in html and "Global Aesthetic Improvement Scale" in html and "Glogau" not in html
    page = client.get(f"/outcomes/patients/{consented.pk}/progress/").content.decode()
    assert f'/outcomes/patients/{consented.pk}/report.pdf?plan={plan.pk}"' in page
    response = signed_in("physician").get(f"/outcomes/patients/{consented.pk}/report.pdf?plan={plan.pk}")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert AuditEvent.objects.filter(action="outcome.report.view", changes__plan=plan.pk).count() == 1
    other = make_patient(clinic)
    assert client.get(f"/outcomes/patients/{other.pk}/report.pdf?plan={plan.pk}").status_code == 404
    assert client.get(f"/outcomes/patients/{consented.pk}/report.pdf?plan=x").status_code == 404
