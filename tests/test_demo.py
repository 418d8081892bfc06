"""The demo clinic that `make run` loads (`prpclinic demo`): what a newcomer sees after signing in.

The demo is loaded into the test database through the command itself, then the pages are read as
the demo's staff would read them.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import zoneinfo
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from prpclinic.audit.models import AuditEvent
from prpclinic.clinics.models import Clinic, User
from prpclinic.consents.models import SignedConsent
from prpclinic.consents.services import consent_document_open
from prpclinic.intake.models import Screening, Submission
from prpclinic.patients.models import Patient
from prpclinic.treatments.models import Treatment, TreatmentPlan, VialLot
from prpclinic.visits.models import Visit
from tests.conftest import clinic_request, sign_in

pytestmark = pytest.mark.django_db


def load_demo() -> str:
    out = io.StringIO()
    with override_settings(DEBUG=True):  # the command refuses to print passwords without DEBUG
        call_command("demo", stdout=out)
    return out.getvalue()


@pytest.fixture
def demo() -> str:
    return load_demo()


def staff(handle: str) -> User:
    return User.objects.get(email=f"{handle}@demo.prpclinic.test")


def client_for(handle: str) -> Client:
    return sign_in(Client(), staff(handle))


def patient(mrn: str) -> Patient:
    return Patient.objects.get(clinic__slug="linden", mrn=mrn)


def page_text(response: Any) -> str:
    """What the reader sees: the page without tags, entities decoded, spaces collapsed."""
    assert response.status_code == 200, response.status_code
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def test_the_physician_sees_the_anticoagulant_patient_to_review_and_the_nurse_the_questionnaire(demo: str) -> None:
    waiting = patient("L000005")
    review = page_text(client_for("physician").get("/screening/review/"))
    assert f"{waiting.family_name}, {waiting.given_name} ({waiting.mrn})" in review
    assert "PRP for hair loss" in review
    assert "nticoagulant" in review  # the rule that fired, in its own words
    inbox = page_text(client_for("nurse").get("/screening/inbox/"))
    assert "Hofer, Greta" in inbox
    assert "Micro-needling with PRP" in inbox
    assert Submission.objects.filter(clinic__slug="linden", status="pending").count() == 1


def test_the_plans_show_session_1_of_3_done_today_and_the_next_one_due(demo: str) -> None:
    nurse = client_for("nurse")
    today = timezone.localdate()
    for mrn, name in (("L000002", "Micro-needling with PRP"), ("L000004", "PRP for hair loss")):
        plan = TreatmentPlan.objects.get(clinic__slug="linden", patient=patient(mrn))
        text = page_text(nurse.get(f"/treatments/plans/{plan.pk}/"))
        assert f"{name} plan" in text
        assert "Progress session 1 of 3" in text
        # The next session is due one protocol interval later (30 days in the starting catalogue).
        due = today + dt.timedelta(days=plan.protocol.interval_days)
        assert f"Next session 2, due {due:%Y-%m-%d}" in text
        chart = page_text(nurse.get(f"/patients/{patient(mrn).pk}/"))
        assert f"{name} · Active · session 1 of 3 · next due {due:%Y-%m-%d}" in chart


def test_the_face_visit_is_charted_on_the_face_map_with_the_prp_applied_adding_up(demo: str) -> None:
    visit = Visit.objects.get(clinic__slug="linden", patient=patient("L000002"))
    text = page_text(client_for("nurse").get(f"/visits/{visit.pk}/"))
    assert "Completed" in text
    assert "PRP charted on the zones: 2.50 mL PRP applied in this visit: 2.50 mL ✓ They add up" in text
    for zone in ("Forehead", "Cheek, left", "Cheek, right", "Chin"):
        assert zone in text
    assert visit.zone_entries.filter(map="face", is_current=True, application__isnull=False).count() == 4
    assert visit.zone_entries.filter(warnings=[]).count() == 4  # within the catalogue's ranges: nothing warned


def test_the_chart_timeline_shows_the_day_of_the_face_patient(demo: str) -> None:
    chart = page_text(client_for("nurse").get(f"/patients/{patient('L000002').pk}/"))
    timeline = chart[chart.index("Timeline") :]
    for item in (
        "Micro-needling with PRP plan made",
        "Screening for Micro-needling with PRP: Eligible",
        "Consent signed: ",
        "Micro-needling with PRP visit",
        "applied",
        "Adverse event: Erythema (redness)",
        "outcome resolved",
        "Aftercare printed",
    ):
        assert item in timeline, item


def test_the_compare_and_progress_pages_show_two_drawn_scalp_photos_and_hair_density_twice(demo: str) -> None:
    scalp = patient("L000004")
    nurse = client_for("nurse")
    response = nurse.get(f"/outcomes/patients/{scalp.pk}/compare/")
    compare = page_text(response)
    assert "Before:" in compare and "After:" in compare
    photo_ids = sorted(set(re.findall(r"/outcomes/photos/(\d+)/full/", response.content.decode())))
    assert len(photo_ids) == 2
    picture = nurse.get(f"/outcomes/photos/{photo_ids[0]}/full/")
    assert picture.status_code == 200
    assert picture["Content-Type"] == "image/jpeg"
    assert "no-store" in picture["Cache-Control"]
    progress = nurse.get(f"/outcomes/patients/{scalp.pk}/progress/")
    text = page_text(progress)
    assert 'data-testid="chart-hair_density"' in progress.content.decode()
    assert "118.5" in text and "119" in text


def test_the_day_board_has_a_product_spinning_and_the_second_clinic_is_set_up(demo: str) -> None:
    board = page_text(client_for("nurse").get("/prp/board/"))
    spinning = patient("L000001")
    assert re.search(rf"{re.escape(spinning.family_name)}, {spinning.given_name} [0-9-]+ Spun 1:", board)
    riverside = Clinic.objects.get(slug="riverside")
    assert Treatment.objects.filter(clinic=riverside).count() == 3
    assert VialLot.objects.filter(clinic__slug="linden").count() == 1


def test_the_demo_records_through_the_services_with_few_pdfs_and_keeps_its_data_on_a_second_run(demo: str) -> None:
    linden = Clinic.objects.get(slug="linden")
    consents = list(SignedConsent.objects.filter(clinic=linden))
    assert len(consents) <= 8  # each PDF costs WeasyPrint time at every first `make run`
    assert {c.kind for c in consents} == {"microneedling_prp", "prp_scalp", "photography"}
    request = clinic_request(staff("nurse"), linden, method="get")
    for consent in consents:  # the stored PDF still matches the fingerprint taken at signing
        consent_document_open(request=request, consent_id=consent.pk)
    actions = set(AuditEvent.objects.filter(clinic=linden).values_list("action", flat=True))
    assert {
        "screening.record", "consent.sign", "plan.create", "visit.start", "prp.apply", "visit.chart",
        "visit.complete", "adverse_event.record", "adverse_event.outcome", "aftercare.print",
        "outcome.photo.upload", "outcome.score.record", "catalogue.vial_lot_register",
    } <= actions  # fmt: skip
    counts = (Screening.objects.count(), SignedConsent.objects.count(), Visit.objects.count())
    again = load_demo()
    assert "already loaded; keeping its data" in again
    assert (Screening.objects.count(), SignedConsent.objects.count(), Visit.objects.count()) == counts
    assert "/screening/review/" in demo and f"/outcomes/patients/{patient('L000004').pk}/compare/" in demo


def test_every_page_the_demo_points_to_opens_for_the_physician(demo: str) -> None:
    physician = client_for("physician")
    paths = re.findall(r"(/[a-z_/0-9]+/)", demo[demo.index("Things to look at") :])
    assert len(paths) >= 7
    for path in paths:
        assert physician.get(path).status_code == 200, path


def test_every_role_opens_the_charts_of_the_demo_patients(demo: str) -> None:
    for handle in ("admin", "physician", "nurse", "frontdesk"):
        client = client_for(handle)
        for mrn in ("L000001", "L000002", "L000003", "L000004", "L000005"):
            assert client.get(f"/patients/{patient(mrn).pk}/").status_code == 200, (handle, mrn)


def test_the_rest_of_each_series_is_booked_and_the_next_working_day_has_first_visits(demo: str) -> None:
    from prpclinic.scheduling.models import Appointment
    from prpclinic.treatments.models import TreatmentPlan

    for plan in TreatmentPlan.objects.filter(clinic__slug="linden"):
        remaining = plan.sessions.filter(visit__isnull=True, status="planned")
        booked = Appointment.objects.filter(plan_session__in=remaining, status="booked")
        assert booked.count() == remaining.count() > 0
    firsts = Appointment.objects.filter(clinic__slug="linden", plan_session__isnull=True)
    assert sorted(a.treatment for a in firsts) == ["mesotherapy", "microneedling_prp", "prp_scalp"]
    nxt = Appointment.objects.filter(patient=patient("L000002"), status="booked").order_by("starts_at").first()
    assert nxt is not None
    chart = page_text(client_for("frontdesk").get(f"/patients/{patient('L000002').pk}/"))
    shown = timezone.localtime(nxt.starts_at, zoneinfo.ZoneInfo("Europe/Vienna")).strftime("%a %d %b %Y %H:%M")
    assert shown in chart and "Nils Nurse, Treatment room" in chart


def test_a_referred_demo_patient_shows_the_hospitals_number_on_the_chart(demo: str) -> None:
    text = page_text(client_for("frontdesk").get(f"/patients/{patient('L000001').pk}/"))
    assert "Other IDs H-204100 https://hospital.example/mrn" in text
