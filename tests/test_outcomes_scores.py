"""Outcome scales: definitions beside the input, values checked against the scale, corrections, progress charts."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from prpclinic.audit.models import AuditEvent
from prpclinic.outcomes import charts, scales
from prpclinic.outcomes.models import Score
from prpclinic.visits.models import Visit
from tests.conftest import Personas, make_patient

TODAY = dt.date.today()


def record(client: Any, patient: Any, scale: str, **fields: Any) -> Any:
    data = {"rater": "clinician", "recorded_on": TODAY.isoformat(), "visit": "", "session_number": "", "site": ""}
    return client.post(f"/outcomes/patients/{patient.pk}/scores/{scale}/", data | fields)


def test_every_scale_has_a_definition_a_source_and_an_evidence_tag() -> None:
    assert set(scales.SCALES) >= {
        "hair_density", "hair_count", "shaft_thickness", "norwood", "ludwig", "sinclair", "fitzpatrick_wrinkle",
        "glogau", "lemperle", "goodman_baron", "gais", "satisfaction",
    }  # fmt: skip
    for scale in scales.SCALES.values():
        assert scale.definition and scale.source and scale.tag in {"V", "S", "U", "clinic"}, scale.code


def test_the_scales_have_the_levels_of_the_reference() -> None:
    norwood = [level.value for level in scales.SCALES["norwood"].levels()]
    assert norwood[0] == "I" and norwood[-1] == "VII" and "III-vertex" in norwood and "IIIa" in norwood
    assert [level.value for level in scales.SCALES["ludwig"].levels()] == ["I", "II", "III"]
    assert [level.value for level in scales.SCALES["sinclair"].levels()] == ["1", "2", "3", "4", "5"]
    assert [level.value for level in scales.SCALES["lemperle"].levels()] == ["0", "1", "2", "3", "4", "5"]
    assert [level.value for level in scales.SCALES["glogau"].levels()] == ["I", "II", "III", "IV"]
    fitz = scales.SCALES["fitzpatrick_wrinkle"]
    assert [level.label for level in fitz.levels()][2:4] == ["3 (class I)", "4 (class II)"]
    assert fitz.level("9").label == "9 (class III)"  # type: ignore[union-attr]
    gais = scales.SCALES["gais"]
    assert gais.level("1", "standard").label == "1 Very much improved"  # type: ignore[union-attr]
    assert gais.level("4", "reversed").label == "4 Very much improved"  # type: ignore[union-attr]
    assert gais.raters == ("clinician", "patient")


@pytest.mark.parametrize(
    ("scale", "raw", "message"),
    [
        ("lemperle", "6", "not on the Lemperle wrinkle assessment scale"),
        ("sinclair", "0", "not on the Sinclair scale"),
        ("hair_density", "-3", "cannot be below 0"),
        ("hair_density", "abc", "Enter a number"),
        ("hair_density", "NaN", "Enter a number"),
        ("hair_count", "12.5", "at most 0 decimal places"),
        ("gais", "0", "not on the Global Aesthetic Improvement Scale"),
    ],
)
def test_a_value_outside_the_scale_is_refused(scale: str, raw: str, message: str) -> None:
    with pytest.raises(scales.ScaleValueError, match=message):
        scales.parse_value(scales.SCALES[scale], raw, variant="standard" if scale == "gais" else "")


def test_the_form_shows_the_scale_definition_with_its_source_beside_the_input(
    personas: Personas, signed_in: Any
) -> None:
    patient = make_patient(personas.clinic_a)
    page = signed_in("nurse").get(f"/outcomes/patients/{patient.pk}/scores/glogau/").content.decode()
    assert 'data-testid="scale-definition"' in page
    assert "Wrinkles at rest (typically 50s and older)." in page and "evidence tag [S]" in page
    page = signed_in("nurse").get(f"/outcomes/patients/{patient.pk}/scores/hair_count/").content.decode()
    assert "Target area (cm²)" in page and "Cervelli 2014" in page


def test_every_scales_form_shows_its_definition_levels_and_source_beside_the_input(
    personas: Personas, signed_in: Any
) -> None:
    from html import escape

    patient = make_patient(personas.clinic_a)
    client = signed_in("nurse")
    for scale in scales.SCALES.values():
        page = client.get(f"/outcomes/patients/{patient.pk}/scores/{scale.code}/").content.decode()
        form, aside = page.split('data-testid="scale-definition"')
        assert 'name="value"' in form, scale.code
        assert escape(scale.definition) in aside and escape(scale.source) in aside, scale.code
        assert f"evidence tag [{scale.tag}]" in aside, scale.code
        for variant in scale.variants:
            for level in variant.levels:
                assert escape(level.label) in aside, (scale.code, level.value)
        assert 'name="rater"' in form and all(f'value="{rater}"' in form for rater in scale.raters), scale.code


def test_hair_density_recorded_twice_is_charted_with_session_markers(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    visit = Visit.objects.create(
        clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", clinician=personas.physician,
        started_at=timezone.now() - dt.timedelta(days=60),
    )  # fmt: skip
    client = signed_in("nurse")
    first = record(
        client, patient, "hair_density", value="141.9", recorded_on=(TODAY - dt.timedelta(days=60)).isoformat(),
        visit=str(visit.pk), session_number="1", site="vertex tattoo dot",
    )  # fmt: skip
    assert first.status_code == 302 and first.url == f"/outcomes/patients/{patient.pk}/"
    record(client, patient, "hair_density", value="177.5", session_number="3")
    scores = list(Score.objects.order_by("id"))
    assert [s.value for s in scores] == [Decimal("141.9"), Decimal("177.5")]
    assert (scores[0].visit, scores[0].session_number, scores[0].recorded_by) == (visit, 1, personas.nurse)
    page = client.get(f"/outcomes/patients/{patient.pk}/progress/").content.decode()
    chart = re.search(r'data-testid="chart-hair_density".*?</svg>', page, re.S).group(0)  # type: ignore[union-attr]
    assert "<svg" in chart and 'class="series"' in chart and chart.count('class="point"') == 2
    assert ">141.9<" in chart and ">177.5<" in chart and ">S1<" in chart
    assert AuditEvent.objects.filter(action="outcome.progress.view").count() == 1
    assert AuditEvent.objects.filter(action="outcome.score.record").count() == 2


def test_a_value_outside_the_scale_is_refused_next_to_the_field_and_nothing_is_saved(
    personas: Personas, signed_in: Any
) -> None:
    patient = make_patient(personas.clinic_a)
    client = signed_in("physician")
    response = record(client, patient, "lemperle", value="6")
    assert response.status_code == 400
    text = response.content.decode()
    assert 'id="id_value_error"' in text and "6 is not on the Lemperle wrinkle assessment scale" in text
    response = record(client, patient, "hair_count", value="120")
    assert response.status_code == 400 and 'id="id_area_cm2_error"' in response.content.decode()
    response = record(
        client, patient, "hair_density", value="150", recorded_on=(TODAY + dt.timedelta(days=2)).isoformat()
    )
    assert response.status_code == 400 and "cannot be in the future" in response.content.decode()
    assert Score.objects.count() == 0


def test_gais_stores_its_rater_and_variant(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    client = signed_in("physician")
    assert record(client, patient, "gais", value="2", variant="standard", rater="clinician").status_code == 302
    assert record(client, patient, "gais", value="4", variant="reversed", rater="patient").status_code == 302
    assert record(client, patient, "gais", value="2", variant="", rater="patient").status_code == 400
    rows = list(Score.objects.order_by("id").values_list("variant", "rater", "level"))
    assert rows == [("standard", "clinician", "2"), ("reversed", "patient", "4")]
    page = client.get(f"/outcomes/patients/{patient.pk}/").content.decode()
    assert "2 Much improved" in page and "4 Very much improved" in page
    charts_page = client.get(f"/outcomes/patients/{patient.pk}/progress/").content.decode()
    assert "rated by the clinician, Standard 1–5" in charts_page and "rated by the patient, Reversed 0–4" in charts_page


def test_satisfaction_is_rated_by_the_patient_only(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    response = record(signed_in("nurse"), patient, "satisfaction", value="4", rater="clinician")
    assert response.status_code == 400 and Score.objects.count() == 0
    assert record(signed_in("nurse"), patient, "satisfaction", value="4", rater="patient").status_code == 302


def test_a_correction_supersedes_the_score_and_keeps_it(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    client = signed_in("nurse")
    record(client, patient, "hair_count", value="120", area_cm2="1")
    old = Score.objects.get()
    form = client.get(f"/outcomes/scores/{old.pk}/correct/").content.decode()
    assert "120 hairs in 1 cm²" in form
    refused = client.post(
        f"/outcomes/scores/{old.pk}/correct/",
        {"value": "-1", "rater": "clinician", "recorded_on": TODAY.isoformat(), "area_cm2": "1", "reason": "typo"},
    )
    assert refused.status_code == 400 and Score.objects.count() == 1
    response = client.post(
        f"/outcomes/scores/{old.pk}/correct/",
        {"value": "126", "rater": "clinician", "recorded_on": TODAY.isoformat(), "area_cm2": "1", "reason": "typo"},
    )
    assert response.status_code == 302
    old.refresh_from_db()
    new = Score.objects.get(status="current")
    assert old.status == "superseded" and old.value == 120 and new.value == 126 and new.corrects == old
    event = AuditEvent.objects.get(action="outcome.score.correct")
    assert event.changes["value"] == ["120", "126"] and event.changes["reason"] == "typo"
    page = client.get(f"/outcomes/patients/{patient.pk}/").content.decode()
    assert "126 hairs in 1 cm²" in page and "120 hairs" not in page and "corrected" in page
    again = client.post(f"/outcomes/scores/{old.pk}/correct/", {"value": "1", "rater": "clinician",
                        "recorded_on": TODAY.isoformat(), "area_cm2": "1", "reason": "again"})  # fmt: skip
    assert again.status_code == 400 and "already corrected" in again.content.decode()


def test_another_clinics_scores_answer_404(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    record(signed_in("nurse"), patient, "ludwig", value="II")
    score = Score.objects.get()
    other = signed_in("other_physician")
    assert other.get(f"/outcomes/scores/{score.pk}/correct/").status_code == 404
    assert other.get(f"/outcomes/patients/{patient.pk}/progress/").status_code == 404
    assert record(other, patient, "ludwig", value="I").status_code == 404
    assert signed_in("admin").get(f"/outcomes/patients/{patient.pk}/scores/ludwig/").status_code == 403


@pytest.mark.parametrize("page", ["", "progress/"])
def test_score_pages_run_the_same_queries_for_one_or_three_scales(
    personas: Personas, signed_in: Any, page: str
) -> None:
    patient = make_patient(personas.clinic_a)
    Visit.objects.create(clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", clinician=personas.physician)
    client = signed_in("nurse")
    record(client, patient, "hair_density", value="150")
    url = f"/outcomes/patients/{patient.pk}/{page}"
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    record(client, patient, "hair_density", value="160")
    record(client, patient, "norwood", value="III-vertex")
    record(client, patient, "gais", value="2", variant="standard")
    with CaptureQueriesContext(connection) as three:
        assert client.get(url).status_code == 200
    assert len(three) == len(one)


def test_the_chart_panel_shows_the_latest_scores_in_a_bounded_number_of_queries(
    personas: Personas, signed_in: Any, rf: Any
) -> None:
    from django.template import Context, Template

    from tests.conftest import clinic_request

    patient = make_patient(personas.clinic_a)
    client = signed_in("nurse")
    record(client, patient, "hair_density", value="150")
    record(client, patient, "hair_density", value="165")
    record(client, patient, "sinclair", value="3")
    request = clinic_request(personas.nurse, personas.clinic_a, "get")
    template = Template("{% load outcomes_tags %}{% outcomes_chart_panel patient %}")
    with CaptureQueriesContext(connection) as queries:
        html = template.render(Context({"request": request, "patient": patient}))
    assert len(queries) == 2
    assert "165 hairs/cm²" in html and "150 hairs" not in html and "Sinclair" in html
    desk = clinic_request(personas.front_desk, personas.clinic_a, "get")
    assert "Outcomes" not in template.render(Context({"request": desk, "patient": patient}))


def test_the_svg_chart_escapes_what_it_prints_and_spans_the_markers() -> None:
    svg = charts.svg_line_chart(
        title="<script>",
        points=[charts.Point(dt.date(2026, 1, 1), 1.0, "<b>")],
        markers=[charts.Marker(dt.date(2026, 3, 1), "S2")],
        y_ticks=[(0.0, "I"), (1.0, "II")],
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&lt;b&gt;" in svg
    assert "2026-01-01" in svg and "2026-03-01" in svg and ">S2<" in svg


def test_the_pure_outcome_modules_import_no_django() -> None:
    import ast
    from pathlib import Path

    root = Path(__file__).parent.parent / "prpclinic" / "outcomes"
    for name in ("scales", "charts", "images", "stats"):
        tree = ast.parse((root / f"{name}.py").read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not any(module.startswith(("django", "prpclinic")) for module in imported), name


def test_the_timeline_lists_photo_days_and_scores_newest_first(personas: Personas, signed_in: Any) -> None:
    from prpclinic.outcomes.models import Photo
    from prpclinic.outcomes.selectors import timeline_items

    patient = make_patient(personas.clinic_a)
    for view in ("scalp_vertex", "scalp_top"):
        Photo.objects.create(
            clinic=personas.clinic_a, patient=patient, area="scalp", view=view, file_name="x", thumb_name="x",
            content_type="image/jpeg", width=1, height=1, byte_size=1, source_format="jpeg",
            uploaded_by=personas.nurse, taken_at=timezone.now() - dt.timedelta(hours=1),
        )  # fmt: skip
    record(signed_in("nurse"), patient, "ludwig", value="II")
    with CaptureQueriesContext(connection) as queries:
        items = timeline_items(clinic_id=personas.clinic_a.pk, patient_id=patient.pk)
    assert len(queries) == 2
    assert [(i["kind"], i["title"]) for i in items] == [("score", "Ludwig"), ("photos", "2 photos")]
    assert (
        items[1]["detail"] == "Scalp, top; Scalp, vertex."
        and items[0]["url"] == f"/outcomes/patients/{patient.pk}/progress/"
    )
    assert timeline_items(clinic_id=personas.clinic_b.pk, patient_id=patient.pk) == []


def test_no_new_score_for_a_deactivated_patient(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    patient.is_active = False
    patient.save()
    response = record(signed_in("nurse"), patient, "hair_density", value="150")
    assert response.status_code == 400 and "record is deactivated" in response.content.decode()
    assert Score.objects.count() == 0
