"""Adverse events and their outcome history, aftercare handouts (printed and e-mailed), the visit summary PDF."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import zoneinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from prpclinic.aftercare import instructions, services
from prpclinic.aftercare.models import AdverseEvent, AdverseEventOutcome, AftercareContact, AftercareHandout
from prpclinic.audit.models import AuditEvent
from prpclinic.treatments.selectors import current_protocol
from prpclinic.visits.models import Visit
from tests.conftest import Personas, clinic_request, make_patient


@pytest.fixture
def visit(personas: Personas) -> Visit:
    patient = make_patient(personas.clinic_a, given_name="Clara", family_name="Weber", email="clara@example.org")
    return Visit.objects.create(
        clinic=personas.clinic_a, patient=patient, treatment="prp_scalp", clinician=personas.physician
    )


def local_input(when: dt.datetime, zone: str = "Europe/Vienna") -> str:
    # What the form's datetime-local field holds: the clinic's wall-clock time (clinic A is in Vienna), not the
    # server's UTC. Written in UTC, an onset typed between midnight and 01:00 in Vienna fell before the visit's day.
    return when.astimezone(zoneinfo.ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def event_data(**changes: Any) -> dict[str, Any]:
    data = {
        "type": "bruising",
        "type_other": "",
        "severity": "mild",
        "onset_at": local_input(timezone.now() - dt.timedelta(minutes=5)),
        "description": "Small bruise at the second injection point",
        "action_taken": "Cold compress",
        "outcome": "resolving",
        "outcome_note": "",
    }
    data.update(changes)
    return data


def pdf_text(pdf: bytes, tmp_path: Path) -> str | None:
    """The PDF's text through pdftotext, or None where poppler is not installed."""
    if shutil.which("pdftotext") is None:
        return None
    source = tmp_path / "doc.pdf"
    source.write_bytes(pdf)
    return subprocess.run(["pdftotext", str(source), "-"], capture_output=True, text=True, check=True).stdout


# --- adverse events ---------------------------------------------------------------------------


def test_a_nurse_records_an_adverse_event_and_it_shows_on_the_visit_with_its_outcome(
    personas: Personas, signed_in: Any, visit: Visit
) -> None:
    client = signed_in("nurse")
    response = client.post(f"/aftercare/visits/{visit.pk}/adverse-events/new/", event_data())
    assert response.status_code == 302 and response["Location"] == f"/visits/{visit.pk}/"
    event = AdverseEvent.objects.get()
    assert (event.patient, event.type, event.severity, event.serious) == (visit.patient, "bruising", "mild", False)
    assert [o.outcome for o in event.outcomes.all()] == ["resolving"]
    audit = AuditEvent.objects.get(action="adverse_event.record")
    assert audit.actor == personas.nurse and audit.changes["type"] == "bruising"
    page = client.get(f"/visits/{visit.pk}/").content.decode()
    panel = page.split('data-testid="aftercare-panel"')[1]
    assert "Bruising" in panel and "Resolving" in panel and "Record an adverse event" in panel


def test_the_visit_panel_runs_the_same_queries_for_one_or_many_events(
    personas: Personas, signed_in: Any, visit: Visit
) -> None:
    client = signed_in("nurse")
    client.post(f"/aftercare/visits/{visit.pk}/adverse-events/new/", event_data())

    def queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/visits/{visit.pk}/").status_code == 200
        return len(ctx.captured_queries)

    once = queries()
    for _ in range(3):
        client.post(f"/aftercare/visits/{visit.pk}/adverse-events/new/", event_data(type="pain"))
        client.post(f"/aftercare/visits/{visit.pk}/print/")
    event = AdverseEvent.objects.first()
    client.post(f"/aftercare/adverse-events/{event.pk}/outcome/", {"outcome": "resolved"})  # type: ignore[union-attr]
    assert queries() == once


def test_follow_up_outcomes_are_added_and_the_earlier_ones_kept(
    personas: Personas, signed_in: Any, visit: Visit
) -> None:
    client = signed_in("physician")
    client.post(
        f"/aftercare/visits/{visit.pk}/adverse-events/new/", event_data(type="erythema", outcome="not_resolved")
    )
    event = AdverseEvent.objects.get()
    response = client.post(f"/aftercare/adverse-events/{event.pk}/outcome/", {"outcome": "resolving", "note": "Paler"})
    assert response.status_code == 302
    client.post(f"/aftercare/adverse-events/{event.pk}/outcome/", {"outcome": "resolved", "note": ""})
    history = list(AdverseEventOutcome.objects.filter(event=event).order_by("recorded_at", "id"))
    assert [o.outcome for o in history] == ["not_resolved", "resolving", "resolved"]
    assert history[1].note == "Paler" and history[1].recorded_by == personas.physician
    page = client.get(f"/aftercare/adverse-events/{event.pk}/").content.decode()
    assert page.index("Not resolved") < page.index("Resolving") < page.index("Resolved<")
    audits = AuditEvent.objects.filter(action="adverse_event.outcome").order_by("id")
    assert [a.changes["outcome"] for a in audits] == [["not_resolved", "resolving"], ["resolving", "resolved"]]


def test_an_event_reported_days_after_the_visit_is_accepted(personas: Personas, visit: Visit) -> None:
    Visit.objects.filter(pk=visit.pk).update(started_at=timezone.now() - dt.timedelta(days=4))
    request = clinic_request(personas.nurse, personas.clinic_a)
    event = services.adverse_event_record(
        request=request, visit_id=visit.pk, type="infection", severity="moderate", serious=False,
        onset_at=timezone.now() - dt.timedelta(days=2), action_taken="Referred to the physician", outcome="resolving",
    )  # fmt: skip
    assert event.onset_at < timezone.now() and event.visit == visit


def test_an_onset_in_the_future_is_refused_next_to_the_field_and_nothing_is_saved(
    personas: Personas, signed_in: Any, visit: Visit
) -> None:
    future = local_input(timezone.now() + dt.timedelta(hours=3))
    response = signed_in("nurse").post(f"/aftercare/visits/{visit.pk}/adverse-events/new/", event_data(onset_at=future))
    assert response.status_code == 400
    assert "The onset cannot be in the future." in response.content.decode()
    assert AdverseEvent.objects.count() == 0 and AdverseEventOutcome.objects.count() == 0


def test_a_missing_type_is_refused(personas: Personas, signed_in: Any, visit: Visit) -> None:
    response = signed_in("nurse").post(f"/aftercare/visits/{visit.pk}/adverse-events/new/", event_data(type=""))
    assert response.status_code == 400
    assert 'id="id_type_error"' in response.content.decode()
    assert AdverseEvent.objects.count() == 0


def test_other_needs_a_description_of_what_happened(personas: Personas, signed_in: Any, visit: Visit) -> None:
    client = signed_in("nurse")
    response = client.post(f"/aftercare/visits/{visit.pk}/adverse-events/new/", event_data(type="other"))
    assert response.status_code == 400 and "Say what the event was." in response.content.decode()
    client.post(f"/aftercare/visits/{visit.pk}/adverse-events/new/", event_data(type="other", type_other="Headache"))
    assert AdverseEvent.objects.get().type_label == "Other: Headache"


def test_the_service_refuses_an_onset_before_the_visit_and_another_clinics_visit(
    personas: Personas, visit: Visit
) -> None:
    request = clinic_request(personas.nurse, personas.clinic_a)
    common = {"type": "pain", "severity": "mild", "serious": False, "action_taken": "None", "outcome": "resolved"}
    with pytest.raises(ValidationError, match="before the visit"):
        services.adverse_event_record(
            request=request, visit_id=visit.pk, onset_at=visit.started_at - dt.timedelta(days=3), **common
        )
    other = clinic_request(personas.other_physician, personas.clinic_b)
    from django.http import Http404

    with pytest.raises(Http404):
        services.adverse_event_record(request=other, visit_id=visit.pk, onset_at=timezone.now(), **common)
    assert AdverseEvent.objects.count() == 0


def test_the_clinic_list_filters_by_type_severity_seriousness_and_current_outcome(
    personas: Personas, signed_in: Any, visit: Visit, django_assert_max_num_queries: Any
) -> None:
    request = clinic_request(personas.nurse, personas.clinic_a)
    now = timezone.now()

    def record(type: str, severity: str, serious: bool, outcome: str) -> AdverseEvent:
        return services.adverse_event_record(
            request=request, visit_id=visit.pk, type=type, severity=severity, serious=serious,
            onset_at=now - dt.timedelta(minutes=1), action_taken="Observed", outcome=outcome,
        )  # fmt: skip

    record("bruising", "mild", False, "resolved")
    syncope = record("vasovagal", "severe", True, "not_resolved")
    services.adverse_event_add_outcome(request=request, event_id=syncope.pk, outcome="resolved")
    client = signed_in("admin")

    def listed(query: str) -> str:
        page = client.get(f"/aftercare/adverse-events/?{query}")
        assert page.status_code == 200
        return page.content.decode().split('data-testid="adverse-events"')[1]

    assert "Bruising" in listed("") and "Vasovagal" in listed("")
    assert "Bruising" not in listed("serious=on") and "Vasovagal" in listed("serious=on")
    assert "Bruising" in listed("type=bruising") and "Vasovagal" not in listed("type=bruising")
    assert "Vasovagal" in listed("severity=severe") and "Bruising" not in listed("severity=severe")
    # The current outcome is the latest: the syncope is resolved now, not "not resolved".
    assert "Vasovagal" in listed("outcome=resolved") and "No adverse events match." in listed("outcome=not_resolved")
    for _ in range(10):
        record("pain", "mild", False, "resolved")
    with django_assert_max_num_queries(8):
        client.get("/aftercare/adverse-events/")


def test_the_list_shows_only_this_clinics_events(personas: Personas, signed_in: Any, visit: Visit) -> None:
    request = clinic_request(personas.nurse, personas.clinic_a)
    services.adverse_event_record(
        request=request, visit_id=visit.pk, type="hematoma", severity="mild", serious=False,
        onset_at=timezone.now(), action_taken="Pressure", outcome="resolving",
    )  # fmt: skip

    def table(persona: str) -> str:
        return signed_in(persona).get("/aftercare/adverse-events/").content.decode().split('"adverse-events"')[1]

    assert "Hematoma" in table("physician") and "Hematoma" not in table("other_physician")
    event = AdverseEvent.objects.get()
    assert signed_in("other_physician").get(f"/aftercare/adverse-events/{event.pk}/").status_code == 404


# --- aftercare handouts -----------------------------------------------------------------------


def test_aftercare_e_mail_carries_the_protocols_text_and_is_recorded(
    personas: Personas, signed_in: Any, visit: Visit, django_capture_on_commit_callbacks: Any
) -> None:
    protocol_text = current_protocol(clinic_id=personas.clinic_a.pk, kind="prp_scalp").aftercare
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in("front_desk").post(f"/aftercare/visits/{visit.pk}/email/")
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["clara@example.org"] and "Clinic A" in message.subject
    assert protocol_text.strip() in message.body and "What to watch for" in message.body
    handout = AftercareHandout.objects.get()
    assert (handout.method, handout.to_address, handout.by) == ("email", "clara@example.org", personas.front_desk)
    assert handout.text == message.body and handout.source.startswith("PRP for hair loss")
    audit = AuditEvent.objects.get(action="aftercare.send")
    assert audit.changes == {"visit": visit.pk, "to": "clara@example.org"}  # the address, never the body


def test_no_e_mail_without_an_address_on_file(
    personas: Personas, signed_in: Any, visit: Visit, django_capture_on_commit_callbacks: Any
) -> None:
    visit.patient.email = ""
    visit.patient.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in("nurse").post(f"/aftercare/visits/{visit.pk}/email/", follow=True)
    assert "no e-mail address on file" in response.content.decode()
    assert mail.outbox == [] and AftercareHandout.objects.count() == 0


def test_the_printed_handout_contains_the_instructions_and_whom_to_call(
    personas: Personas, signed_in: Any, visit: Visit, tmp_path: Path
) -> None:
    AftercareContact.objects.create(clinic=personas.clinic_a, phone="+43 1 234 56 78", hours="Mon–Fri 8–18")
    protocol_text = current_protocol(clinic_id=personas.clinic_a.pk, kind="prp_scalp").aftercare
    response = signed_in("nurse").post(f"/aftercare/visits/{visit.pk}/print/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF") and response["Cache-Control"] == "no-store, private"
    handout = AftercareHandout.objects.get()
    assert handout.method == "print" and protocol_text.strip() in handout.text
    assert AuditEvent.objects.filter(action="aftercare.print").count() == 1
    text = pdf_text(response.content, tmp_path)
    if text is not None:
        flat = " ".join(text.split())
        assert "Clinic A" in flat and "+43 1 234 56 78" in flat
        assert " ".join(protocol_text.split("\n")[0].split()) in flat
    html = instructions.handout_html(instructions.handout_for(visit))  # type: ignore[arg-type]
    assert "+43 1 234 56 78 (Mon–Fri 8–18)" in html and "PRP for hair loss".lower() in html
    assert protocol_text.split("\n")[0] in html.replace("&#x27;", "'")


def test_a_protocol_without_aftercare_text_refuses_to_hand_out(
    personas: Personas, signed_in: Any, visit: Visit
) -> None:
    from prpclinic.treatments.models import Protocol

    protocol = current_protocol(clinic_id=personas.clinic_a.pk, kind="prp_scalp")
    Protocol.objects.filter(pk=protocol.pk).update(aftercare="")
    response = signed_in("nurse").post(f"/aftercare/visits/{visit.pk}/print/", follow=True)
    assert "No aftercare instructions are written" in response.content.decode()
    assert AftercareHandout.objects.count() == 0


def test_the_clinic_sets_whom_to_call_and_what_to_watch_for(personas: Personas, signed_in: Any, visit: Visit) -> None:
    client = signed_in("physician")
    data = {"phone": "+43 1 999", "hours": "daily", "out_of_hours": "Call 144.", "watch_for": "Fever or pus."}
    assert client.post("/aftercare/contact/", data).status_code == 302
    handout = instructions.handout_for(visit)
    assert handout is not None
    assert handout.watch_for == "Fever or pus." and handout.contact_lines == ("+43 1 999 (daily)", "Call 144.")
    assert AuditEvent.objects.get(action="aftercare.contact").changes["phone"] == ["", "+43 1 999"]
    assert signed_in("nurse").get("/aftercare/contact/").status_code == 403


# --- the visit summary ------------------------------------------------------------------------


def applied_product(personas: Personas, chain: Any) -> Any:
    """A product drawn, applied to two zones, at the chain's visit: rows made directly (the chain has its tests)."""
    from prpclinic.prp.models import Application, BloodDraw, Product, Verification

    clinic, now = personas.clinic_a, timezone.now()
    draw = BloodDraw.objects.create(
        clinic=clinic, visit=chain.visit, patient=chain.patient, drawn_by=personas.nurse, drawn_at=now,
        site="antecubital_left", volume_ml=Decimal(18), tube_count=2, tube_lot=chain.tube_lot, kit_lot=chain.kit_lot,
        anticoagulant="sodium_citrate_3_2", identity_check="scan",
    )  # fmt: skip
    product = Product.objects.create(clinic=clinic, patient=chain.patient, draw=draw, status="applied")
    check = Verification.objects.create(
        clinic=clinic, product=product, patient=chain.patient, scanned_patient_code="PT-A000100",
        scanned_product_code=product.barcode, result="match", by=personas.nurse,
    )  # fmt: skip
    Application.objects.create(
        clinic=clinic, product=product, verification=check, patient=chain.patient, visit=chain.visit,
        applied_by=personas.physician, zones=[{"zone": "vertex", "volume_ml": "2.0"}], volume_applied_ml=Decimal(2),
    )  # fmt: skip
    return product


def test_the_visit_summary_lists_products_events_and_aftercare_and_is_not_cached(
    personas: Personas, signed_in: Any, chain: Any, tmp_path: Path
) -> None:
    from prpclinic.aftercare.summary import visit_summary_html

    request = clinic_request(personas.nurse, personas.clinic_a)
    from prpclinic.visits.models import ZoneEntry

    product = applied_product(personas, chain)
    ZoneEntry.objects.create(
        clinic=personas.clinic_a, visit=chain.visit, map="scalp", zone="vertex", zone_label="Vertex",
        depth_mm=Decimal("2.5"), injections=12, prp_volume_ml=Decimal("2.00"), entered_by=personas.physician,
    )  # fmt: skip
    visit = Visit.objects.select_related("clinic", "patient", "clinician").get(pk=chain.visit.pk)
    services.adverse_event_record(
        request=request, visit_id=visit.pk, type="vasovagal", severity="moderate", serious=False,
        onset_at=timezone.now(), action_taken="Lay flat, legs raised", outcome="resolved",
    )  # fmt: skip
    services.aftercare_print(request=request, visit_id=visit.pk)
    response = signed_in("physician").get(f"/aftercare/visits/{visit.pk}/summary/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "no-store, private"
    assert AuditEvent.objects.filter(action="visit.summary_print", object_id=str(visit.pk)).count() == 1
    html = visit_summary_html(visit)
    for expected in ("PRP for hair loss", "Phil Physician", "Vasovagal reaction / syncope", "Lay flat, legs raised",
                     "Printed", "lot T-2026-01", "lot K-77", product.barcode, "vertex: 2.0 mL",
                     "Vertex", "2.50 mm", "12 injections", "2.00 mL PRP"):  # fmt: skip
        assert expected in html, expected
    text = pdf_text(response.content, tmp_path)
    if text is not None:
        assert "Vasovagal" in text and product.barcode in text


def test_another_clinics_visit_summary_answers_404(personas: Personas, signed_in: Any, visit: Visit) -> None:
    assert signed_in("other_physician").get(f"/aftercare/visits/{visit.pk}/summary/").status_code == 404
    assert signed_in("other_physician").post(f"/aftercare/visits/{visit.pk}/print/").status_code == 404
    assert signed_in("other_physician").post(f"/aftercare/visits/{visit.pk}/email/").status_code == 404
