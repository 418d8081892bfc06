"""The chart reads each table its panels and its timeline share once (ChartReads), and the panels still
show what they showed when each read its own rows: the latest screening of every treatment, the
latest-rated score of every scale, the next appointments."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from prpclinic.intake.models import Screening
from prpclinic.intake.selectors import SCREENINGS_READ
from tests.conftest import Chain, Personas, make_patient
from tests.factories_intake import screened_eligible
from tests.test_chart_timeline import one_of_each

SHARED_TABLES = (
    "visits_visit",
    "treatments_treatmentplan",
    "scheduling_appointment",
    "intake_screening",
    "consents_signedconsent",
    "outcomes_photo",
    "outcomes_score",
)


def panel(page: str, testid: str) -> str:
    """The HTML of the chart panel ``data-testid=testid``."""
    return page.split(f'data-testid="{testid}"')[1].split("</section>")[0]


def test_the_chart_reads_each_table_of_a_panel_and_the_timeline_once(
    personas: Personas, signed_in: Any, chain: Chain
) -> None:
    one_of_each(personas, chain)
    client = signed_in("nurse")
    url = f"/patients/{chain.patient.pk}/"
    client.get(url)  # the first opening seeds the clinic's catalogue
    with CaptureQueriesContext(connection) as ctx:
        page = client.get(url).content.decode()
    # A statement reads the table of its FROM (a subquery in its WHERE, as the plan sessions' "of
    # these plans", is part of that statement, not another read).
    heads = [q["sql"].split(" WHERE ")[0] for q in ctx.captured_queries]
    reads = {table: sum(f'FROM "{table}"' in head for head in heads) for table in SHARED_TABLES}
    assert reads == dict.fromkeys(SHARED_TABLES, 1)
    # No row reads a column left out by .only() (each would cost a query): with a plan, its
    # sessions and its changes are the two statements more than the bound in tests/test_patients.py.
    assert len(ctx.captured_queries) == 18, "\n".join(q["sql"][:90] for q in ctx.captured_queries)
    # ...and what was read shows in both places: the plan in its panel and in the timeline.
    assert "session 0 of" in panel(page, "treatments-panel")
    assert 'data-kind="plan"' in page and 'data-kind="visit"' in page and 'data-kind="consent"' in page


def test_the_screening_panel_shows_a_treatments_latest_screening_older_than_fifty_others(
    personas: Personas, signed_in: Any
) -> None:
    """A contraindication state must not vanish from the chart because newer screenings of another
    treatment fill the rows the timeline reads: the panel then asks the database."""
    patient = make_patient(personas.clinic_a)
    old = screened_eligible(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", by=personas.nurse)
    Screening.objects.filter(pk=old.pk).update(recorded_at=timezone.now() - dt.timedelta(days=10))
    old.refresh_from_db()
    newer = screened_eligible(
        clinic=personas.clinic_a, patient=patient, treatment="microneedling_prp", by=personas.nurse
    )
    for _ in range(SCREENINGS_READ):
        newer.pk = None
        newer.save()
    page = signed_in("nurse").get(f"/patients/{patient.pk}/").content.decode()
    intake = panel(page, "intake-panel")
    rows = re.findall(r"<tr>\s*<td>(.*?)</tr>", intake, re.S)
    scalp = next(row for row in rows if "PRP for hair loss" in row)
    assert f"/screening/{old.pk}/" in scalp and old.state_label in scalp


def test_the_outcomes_panel_shows_the_latest_rated_score_though_it_was_entered_first(
    personas: Personas, signed_in: Any
) -> None:
    """The shared rows are in the order of entry; the panel's "latest" is by the date rated."""
    patient = make_patient(personas.clinic_a)
    client = signed_in("nurse")
    base = {"rater": "clinician", "visit": "", "session_number": "", "site": ""}
    today = timezone.localdate()
    url = f"/outcomes/patients/{patient.pk}/scores/glogau/"
    assert client.post(url, base | {"value": "III", "recorded_on": today.isoformat()}).status_code == 302
    earlier = (today - dt.timedelta(days=30)).isoformat()
    assert client.post(url, base | {"value": "I", "recorded_on": earlier}).status_code == 302
    outcomes = panel(client.get(f"/patients/{patient.pk}/").content.decode(), "outcomes-panel")
    assert "III" in outcomes and f"{today:%Y-%m-%d}" in outcomes and earlier not in outcomes


def test_the_appointments_panel_from_the_shared_rows_lists_what_its_own_query_lists(personas: Personas) -> None:
    """Upcoming (a long one still running, a cancelled one left out), past, and a plan to book the series of."""
    from django.template import Context, Template

    from prpclinic.aftercare.timeline import ChartReads
    from tests.conftest import clinic_request
    from tests.matrix_scheduling import VIENNA, make_appointment, make_plan, schedule_setup

    setup = schedule_setup(personas)
    patient = make_patient(personas.clinic_a)
    make_plan(personas, patient, start=dt.date.today() + dt.timedelta(days=30), sessions=2)
    soon = dt.datetime.now(tz=VIENNA).replace(hour=10, minute=0, second=0, microsecond=0) + dt.timedelta(days=7)
    for days in (-30, 1, 3, 5, 8, 9, 12):
        make_appointment(personas, patient, setup, starts_at=soon + dt.timedelta(days=days))
    make_appointment(personas, patient, setup, starts_at=soon + dt.timedelta(days=2), status="cancelled")
    request = clinic_request(personas.front_desk, personas.clinic_a, method="get")
    reads = ChartReads(clinic_id=personas.clinic_a.pk, patient_id=patient.pk)

    def render(source: str, **extra: Any) -> str:
        html = Template("{% load scheduling_tags %}" + source).render(
            Context({"request": request, "patient": patient, **extra})
        )
        return re.sub(r"\s+", " ", html)

    own = render("{% scheduling_chart_panel patient %}")
    shared = render(
        "{% scheduling_chart_panel patient appointments=reads.appointments plans=reads.plans %}", reads=reads
    )
    assert shared == own
    assert own.count("/schedule/appointments/") == 5 and "Book the PRP for hair loss series" in own
