"""The patient chart's one timeline: every app's items, newest first, bounded, in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from prpclinic.aftercare import services
from prpclinic.aftercare.timeline import CHART_LIMIT, patient_timeline
from prpclinic.prp.models import BloodDraw, Product
from prpclinic.visits.models import Visit
from tests.conftest import Chain, Personas, clinic_request
from tests.factories_consents import consent_signed
from tests.factories_intake import screened_eligible


def kinds_on(page: str) -> list[str]:
    timeline = page.split('data-testid="timeline"')[1].split("</ol>")[0]
    return re.findall(r'data-kind="([^"]+)"', timeline)


def one_of_each(personas: Personas, chain: Chain) -> None:
    """Plan, screening, consent, visit, PRP product, adverse event, aftercare: in this order of time."""
    from prpclinic.treatments.plans import plan_create

    clinic, patient, nurse = personas.clinic_a, chain.patient, personas.nurse
    request = clinic_request(nurse, clinic)
    plan_create(request=request, patient_id=patient.pk, kind="prp_scalp", start_date=timezone.localdate())
    screened_eligible(clinic=clinic, patient=patient, treatment="prp_scalp", by=nurse)
    consent_signed(clinic=clinic, patient=patient, treatment="prp_scalp", by=nurse)
    visit = Visit.objects.create(clinic=clinic, patient=patient, treatment="prp_scalp", clinician=personas.physician)
    draw = BloodDraw.objects.create(
        clinic=clinic, visit=visit, patient=patient, drawn_by=nurse, drawn_at=timezone.now(), site="other",
        volume_ml=Decimal(9), tube_count=1, tube_lot=chain.tube_lot, anticoagulant="edta", identity_check="scan",
    )  # fmt: skip
    Product.objects.create(clinic=clinic, patient=patient, draw=draw)
    services.adverse_event_record(
        request=request, visit_id=visit.pk, type="pain", severity="mild", serious=False, onset_at=timezone.now(),
        action_taken="Reassured", outcome="resolved",
    )  # fmt: skip
    services.aftercare_print(request=request, visit_id=visit.pk)


def test_the_chart_shows_every_kind_of_item_newest_first(personas: Personas, signed_in: Any, chain: Chain) -> None:
    # The chain fixture's own visit is the oldest item: move it back so that the order is certain.
    Visit.objects.filter(pk=chain.visit.pk).update(started_at=timezone.now() - dt.timedelta(days=30))
    one_of_each(personas, chain)
    page = signed_in("nurse").get(f"/patients/{chain.patient.pk}/").content.decode()
    kinds = kinds_on(page)
    seen = list(dict.fromkeys(kinds))  # first appearance of each kind, top to bottom
    assert seen[:4] == ["aftercare", "adverse event", "PRP", "visit"]
    assert {"plan", "screening", "consent"} <= set(seen)
    assert kinds.index("visit") < kinds.index("consent") < kinds.index("screening") < kinds.index("plan")
    assert kinds[-1] == "visit"  # the chain's visit of a month ago
    assert "Adverse event: Pain" in page and "Aftercare printed" in page


def test_front_desk_sees_what_happened_but_not_the_clinical_details(
    personas: Personas, signed_in: Any, chain: Chain
) -> None:
    one_of_each(personas, chain)
    nurse_page = signed_in("nurse").get(f"/patients/{chain.patient.pk}/").content.decode()
    desk_page = signed_in("front_desk").get(f"/patients/{chain.patient.pk}/").content.decode()
    assert "mild; outcome resolved" in nurse_page
    assert "Adverse event: Pain" in desk_page and "mild; outcome resolved" not in desk_page


def test_the_chart_shows_the_latest_fifty_and_the_whole_timeline_has_a_page_of_its_own(
    personas: Personas, signed_in: Any, chain: Chain
) -> None:
    request = clinic_request(personas.nurse, personas.clinic_a)
    Visit.objects.filter(pk=chain.visit.pk).update(started_at=timezone.now() - dt.timedelta(days=3))
    start = timezone.now() - dt.timedelta(days=2)
    for n in range(CHART_LIMIT + 5):
        services.adverse_event_record(
            request=request, visit_id=chain.visit.pk, type="erythema", severity="mild", serious=False,
            onset_at=start + dt.timedelta(minutes=n), action_taken=f"Note {n}", outcome="resolving",
        )  # fmt: skip
    timeline = patient_timeline(clinic_id=personas.clinic_a.pk, patient_id=chain.patient.pk)
    assert len(timeline.items) == CHART_LIMIT and timeline.more
    assert [i["at"] for i in timeline.items] == sorted((i["at"] for i in timeline.items), reverse=True)
    client = signed_in("physician")
    assert len(kinds_on(client.get(f"/patients/{chain.patient.pk}/").content.decode())) == CHART_LIMIT
    whole = client.get(f"/aftercare/patients/{chain.patient.pk}/timeline/").content.decode()
    assert len(kinds_on(whole)) == CHART_LIMIT + 5 + 1  # the events and the chain's visit


def test_the_chart_runs_the_same_number_of_queries_with_one_or_many_items_of_each_kind(
    personas: Personas, signed_in: Any, chain: Chain
) -> None:
    client = signed_in("nurse")
    url = f"/patients/{chain.patient.pk}/"
    client.get(url)  # the first opening seeds the clinic's catalogue

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    one_of_each(personas, chain)
    once = queries()
    request = clinic_request(personas.nurse, personas.clinic_a)
    for _ in range(3):
        services.adverse_event_record(
            request=request, visit_id=chain.visit.pk, type="oedema", severity="moderate", serious=False,
            onset_at=timezone.now(), action_taken="Cold compress", outcome="resolving",
        )  # fmt: skip
        services.aftercare_print(request=request, visit_id=chain.visit.pk)
        consent_signed(
            clinic=personas.clinic_a, patient=chain.patient, treatment="microneedling_prp", by=personas.nurse
        )
    assert queries() == once


def test_each_item_shows_its_time_in_the_clinics_zone(personas: Personas, signed_in: Any, chain: Chain) -> None:
    """Clinic A is in Vienna: a visit started at 23:30 UTC on 31 January shows 1 February, 00:30."""
    Visit.objects.filter(pk=chain.visit.pk).update(started_at=dt.datetime(2026, 1, 31, 23, 30, tzinfo=dt.UTC))
    page = signed_in("nurse").get(f"/patients/{chain.patient.pk}/").content.decode()
    visit = re.search(r'data-kind="visit"><span class="when">([^<]+)</span>', page)
    assert visit is not None and visit.group(1) == "2026-02-01 00:30"
