"""The patient registry: register, edit, search as you type, chart, deactivate, merge."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from prpclinic.audit.models import AuditEvent
from prpclinic.patients.models import Patient
from tests.conftest import Personas, make_patient

NEW_PATIENT = {
    "given_name": "Zoë",
    "family_name": "Müller-Lüdenscheidt",
    "date_of_birth": "1979-02-14",
    "sex": "female",
    "phone": "+43 660 1234567",
    "email": "zoe@example.org",
    "address": "Lindengasse 3\n1070 Wien",
    "fitzpatrick_skin_type": "III",
    "allergies": "Lidocaine",
    "current_medications": "",
    "notes": "",
    "mrn": "",
}


def test_registering_a_patient_generates_the_next_record_number(personas: Personas, signed_in: Any) -> None:
    client = signed_in("nurse")
    response = client.post("/patients/new/", NEW_PATIENT)
    patient = Patient.objects.get(family_name="Müller-Lüdenscheidt")
    assert response.status_code == 302 and response.url == f"/patients/{patient.pk}/"
    assert patient.mrn == "A000001" and patient.clinic == personas.clinic_a
    second = client.post("/patients/new/", NEW_PATIENT | {"given_name": "Hans", "email": ""})
    assert second.status_code == 302
    assert Patient.objects.get(given_name="Hans").mrn == "A000002"
    event = AuditEvent.objects.filter(action="patient.create", object_id=str(patient.pk)).get()
    assert event.actor == personas.nurse and event.role == "nurse"
    assert event.changes["family_name"] == [None, "Müller-Lüdenscheidt"]


def test_a_record_number_can_be_given_and_generation_skips_it(personas: Personas, signed_in: Any) -> None:
    client = signed_in("nurse")
    client.post("/patients/new/", NEW_PATIENT | {"mrn": "A000001"})
    client.post("/patients/new/", NEW_PATIENT | {"given_name": "Hans"})
    assert Patient.objects.get(given_name="Hans").mrn == "A000002"


def test_the_chart_shows_the_record_and_audits_the_view(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a, given_name="Clara", family_name="Weber", allergies="Latex")
    page = signed_in("nurse").get(f"/patients/{patient.pk}/")
    text = page.content.decode()
    assert "Clara Weber" in text and "1985-04-30" in text and patient.mrn in text and "Latex" in text
    assert page["Cache-Control"] == "no-store, private"
    view = AuditEvent.objects.get(action="patient.view")
    assert (view.actor, view.object_id, view.clinic) == (personas.nurse, str(patient.pk), personas.clinic_a)


def test_front_desk_sees_demographics_but_not_clinical_fields(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a, allergies="Penicillin", notes="Prefers mornings")
    text = signed_in("front_desk").get(f"/patients/{patient.pk}/").content.decode()
    assert patient.mrn in text and "Penicillin" not in text and "Prefers mornings" not in text
    form = signed_in("front_desk").get(f"/patients/{patient.pk}/edit/").content.decode()
    assert 'name="allergies"' not in form


def test_front_desk_edit_keeps_clinical_fields_unchanged(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a, allergies="Penicillin")
    data = NEW_PATIENT | {"mrn": patient.mrn, "phone": "+43 1 555"}
    response = signed_in("front_desk").post(f"/patients/{patient.pk}/edit/", data)
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.phone == "+43 1 555" and patient.allergies == "Penicillin"


def test_editing_audits_old_and_new_values(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a, phone="+43 1 111")
    data = dict(NEW_PATIENT.items()) | {"mrn": patient.mrn, "phone": "+43 1 222"}
    signed_in("nurse").post(f"/patients/{patient.pk}/edit/", data)
    event = AuditEvent.objects.get(action="patient.update")
    assert event.changes["phone"] == ["+43 1 111", "+43 1 222"]
    assert event.changes["given_name"] == ["Anna", "Zoë"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("mül", ["Müller"]),
        ("MULLER", ["Müller"]),
        ("an mül", ["Müller"]),
        ("berg", ["Berger", "Steinberg"]),
        ("be", ["Berger"]),
        ("A000002", ["Müller"]),
        ("1979-02-14", ["Müller"]),
        ("14.02.1979", ["Müller"]),
        ("zz", []),
    ],
)
def test_search_finds_by_part_of_a_name_mrn_or_date_of_birth(
    query: str, expected: list[str], personas: Personas, signed_in: Any
) -> None:
    make_patient(personas.clinic_a, family_name="Berger")
    make_patient(personas.clinic_a, family_name="Müller", given_name="Anna", date_of_birth=dt.date(1979, 2, 14))
    make_patient(personas.clinic_a, family_name="Steinberg", given_name="Paul")
    make_patient(personas.clinic_b, family_name="Bergmann", given_name="Other")
    response = signed_in("front_desk").post("/patients/search/", {"q": query}, HTTP_HX_REQUEST="true")
    text = response.content.decode()
    found = [name for name in ("Berger", "Müller", "Steinberg", "Bergmann") if f">{name}," in text]
    assert found == expected


def test_search_hides_inactive_records_unless_asked(personas: Personas, signed_in: Any) -> None:
    make_patient(personas.clinic_a, family_name="Hofer", is_active=False)
    client = signed_in("nurse")
    assert ">Hofer," not in client.post("/patients/search/", {"q": "hofer"}).content.decode()
    assert ">Hofer," in client.post("/patients/search/", {"q": "hofer", "inactive": "1"}).content.decode()


def test_a_search_keeps_the_typed_name_out_of_the_url(personas: Personas, signed_in: Any) -> None:
    page = signed_in("nurse").get("/patients/").content.decode()
    assert 'hx-post="/patients/search/"' in page and "hx-get" not in page


def test_another_clinics_patient_answers_404_everywhere(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_b)
    client = signed_in("physician")
    for url in (f"/patients/{patient.pk}/", f"/patients/{patient.pk}/edit/", f"/patients/{patient.pk}/merge/"):
        assert client.get(url).status_code == 404
    assert client.post(f"/patients/{patient.pk}/deactivate/", {"reason": "x"}).status_code == 404


def test_deactivation_needs_a_reason_keeps_the_record_and_is_audited(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    client = signed_in("physician")
    client.post(f"/patients/{patient.pk}/deactivate/", {"reason": ""})
    patient.refresh_from_db()
    assert patient.is_active
    client.post(f"/patients/{patient.pk}/deactivate/", {"reason": "moved abroad"})
    patient.refresh_from_db()
    assert not patient.is_active
    assert "This record is deactivated." in client.get(f"/patients/{patient.pk}/").content.decode()
    assert AuditEvent.objects.get(action="patient.deactivate").changes["reason"] == "moved abroad"
    client.post(f"/patients/{patient.pk}/reactivate/", {"reason": "back"})
    patient.refresh_from_db()
    assert patient.is_active


def test_merging_a_duplicate_keeps_both_allergy_lists_and_deactivates_it(personas: Personas, signed_in: Any) -> None:
    survivor = make_patient(personas.clinic_a, family_name="Novak", allergies="Latex", phone="")
    duplicate = make_patient(personas.clinic_a, family_name="Nowak", allergies="Lidocaine", phone="+43 1 999")
    response = signed_in("physician").post(
        f"/patients/{duplicate.pk}/merge/", {"survivor": survivor.pk, "reason": "registered twice"}
    )
    assert response.status_code == 302 and response.url == f"/patients/{survivor.pk}/"
    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    assert "Latex" in survivor.allergies and "Lidocaine" in survivor.allergies
    assert survivor.phone == "+43 1 999"
    assert duplicate.merged_into == survivor and not duplicate.is_active
    assert Patient.objects.count() == 2  # nothing deleted
    assert {e.action for e in AuditEvent.objects.all()} >= {"patient.merge", "patient.merged_away"}
    chart = signed_in("physician").get(f"/patients/{duplicate.pk}/").content.decode()
    assert "This record was merged into" in chart


def test_merging_into_another_clinics_patient_is_404(personas: Personas, signed_in: Any) -> None:
    duplicate = make_patient(personas.clinic_a)
    foreign = make_patient(personas.clinic_b)
    response = signed_in("physician").post(f"/patients/{duplicate.pk}/merge/", {"survivor": foreign.pk, "reason": "x"})
    assert response.status_code == 404
    duplicate.refresh_from_db()
    assert duplicate.merged_into is None and duplicate.is_active


def _queries(client: Any, method: str, url: str, data: dict[str, str] | None = None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = getattr(client, method)(url, data or {})
        assert response.status_code == 200
    return len(ctx.captured_queries)


def test_search_runs_the_same_number_of_queries_for_one_or_many_results(personas: Personas, signed_in: Any) -> None:
    client = signed_in("nurse")
    make_patient(personas.clinic_a, family_name="Fischer")
    one = _queries(client, "post", "/patients/search/", {"q": "fisch"})
    for n in range(20):
        make_patient(personas.clinic_a, family_name="Fischer", given_name=f"Kind{'a' * (n + 1)}")
    many = _queries(client, "post", "/patients/search/", {"q": "fisch"})
    assert one == many


def test_the_chart_runs_a_bounded_number_of_queries_whatever_the_history(personas: Personas, signed_in: Any) -> None:
    client = signed_in("nurse")
    patient = make_patient(personas.clinic_a)
    first = _queries(client, "get", f"/patients/{patient.pk}/")
    for n in range(30):
        data = NEW_PATIENT | {"mrn": patient.mrn, "phone": f"+43 1 {n}"}
        client.post(f"/patients/{patient.pk}/edit/", data)
    later = _queries(client, "get", f"/patients/{patient.pk}/")
    assert first == later
    # The chart: patient, audit (one INSERT), history, other numbers, and each table of a panel or
    # the timeline once.
    assert later <= 17, later


@pytest.mark.postgres
def test_on_postgres_name_search_is_served_by_the_trigram_index(personas: Personas) -> None:
    import random

    from prpclinic.patients.models import fold

    rng = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyz"
    rows = []
    for n in range(5000):
        family = "".join(rng.choice(letters) for _ in range(9)).capitalize()
        mrn = f"A{n:06d}"
        rows.append(
            Patient(
                clinic=personas.clinic_a,
                mrn=mrn,
                given_name="Test",
                family_name=family,
                date_of_birth=dt.date(1980, 1, 1),
                sex="female",
                search_text=fold(f"{family} test {mrn}"),
            )
        )
    Patient.objects.bulk_create(rows)
    with connection.cursor() as cursor:
        # Fresh rows wait in the GIN's pending list, which the planner counts as cost: flush it.
        cursor.execute("SELECT gin_clean_pending_list('patient_search_trgm')")
        cursor.execute("ANALYZE patients_patient")
    fragment = rows[1234].search_text[2:6]
    plan = Patient.objects.filter(clinic=personas.clinic_a, is_active=True, search_text__contains=fragment).explain()
    assert "patient_search_trgm" in plan


def test_search_rows_link_each_chart_or_offer_it_for_a_merge_with_its_birth_date(
    personas: Personas, signed_in: Any
) -> None:
    kept = make_patient(personas.clinic_a, family_name="Horváth", given_name="Eva", date_of_birth=dt.date(1979, 2, 3))
    gone = make_patient(personas.clinic_a, family_name="Horvath", given_name="Eva", is_active=False)
    client = signed_in("physician")
    found = client.post("/patients/search/", {"q": "horv", "inactive": "1"}, HTTP_HX_REQUEST="true")
    page = found.content.decode()
    assert f'<a href="/patients/{kept.pk}/">Horváth, Eva</a>' in page and "<td>1979-02-03</td>" in page
    assert f'<a href="/patients/{gone.pk}/">Horvath, Eva</a>' in page and "<td>inactive</td>" in page
    assert "data-merge-pick" not in page and "<html" not in page  # the fragment only
    merge = client.post(
        "/patients/search/", {"q": "horv", "mode": "merge", "exclude": str(gone.pk)}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert f'data-merge-pick="{kept.pk}"' in merge
    assert f'data-merge-label="Horváth, Eva ({kept.mrn}, born 1979-02-03)"' in merge
    assert "<a href=" not in merge and f'data-merge-pick="{gone.pk}"' not in merge
