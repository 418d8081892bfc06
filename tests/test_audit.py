"""The audit trail: append-only, HMAC-chained per clinic, verifiable, filterable, exportable."""

from __future__ import annotations

import csv
import io
import threading
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, close_old_connections, connection, transaction

from prpclinic.audit.models import AuditChain, AuditEvent, AuditSeal
from prpclinic.audit.services import audit_record, audit_seal_all, audit_verify_all
from tests.conftest import Personas, make_patient


def _verify() -> str:
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


def _write_events(personas: Personas, n: int) -> list[AuditEvent]:
    return [
        audit_record(
            action="patient.view", actor=personas.nurse, clinic=personas.clinic_a, object_type="x", object_id=i
        )
        for i in range(n)
    ]


def test_a_clean_trail_verifies(personas: Personas) -> None:
    _write_events(personas, 5)
    out = _verify()
    assert "clinic:" in out and "OK: 5 events in 1 chains" in out


def test_each_clinic_has_its_own_chain(personas: Personas) -> None:
    audit_record(action="a", clinic=personas.clinic_a)
    audit_record(action="b", clinic=personas.clinic_b)
    audit_record(action="c")
    audit_seal_all()
    assert sorted(AuditSeal.objects.values_list("chain_key", "seq")) == [
        (f"clinic:{personas.clinic_a.pk}", 1),
        (f"clinic:{personas.clinic_b.pk}", 1),
        ("global", 1),
    ]


def _tamper(sql: str, params: list[Any]) -> None:
    """Change the table behind the app's back, as an intruder with database access would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")  # skips the append-only trigger
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = DEFAULT")


def test_an_event_edited_with_raw_sql_is_reported(personas: Personas) -> None:
    events = _write_events(personas, 5)
    audit_seal_all()
    _tamper("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["patient.update", events[2].pk])
    with pytest.raises(CommandError):
        _verify()
    report = next(r for r in audit_verify_all() if not r.ok)
    assert report.problem == f"event #3 (id {events[2].pk}, patient.update) was changed after it was sealed"
    assert report.verified == 2


def test_a_deleted_event_is_reported_as_missing(personas: Personas) -> None:
    events = _write_events(personas, 4)
    audit_seal_all()
    _tamper("DELETE FROM audit_auditseal WHERE event_id = %s", [events[1].pk])
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    report = next(r for r in audit_verify_all() if not r.ok)
    assert report.problem.startswith("event #2 of the chain is missing")


def test_events_cut_from_the_end_are_reported(personas: Personas) -> None:
    events = _write_events(personas, 3)
    audit_seal_all()
    _tamper("DELETE FROM audit_auditseal WHERE event_id = %s", [events[2].pk])
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[2].pk])
    report = next(r for r in audit_verify_all() if not r.ok)
    assert "events are missing at the end" in report.problem


def test_a_forged_seal_without_the_key_is_reported(personas: Personas) -> None:
    events = _write_events(personas, 2)
    audit_seal_all()
    _tamper("UPDATE audit_auditseal SET hmac = %s WHERE event_id = %s", ["0" * 64, events[0].pk])
    assert not all(r.ok for r in audit_verify_all())


@pytest.mark.postgres
def test_postgres_refuses_update_and_delete_of_audit_rows(personas: Personas) -> None:
    event = _write_events(personas, 1)[0]
    audit_seal_all()
    for sql in (
        "UPDATE audit_auditevent SET action = 'x' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
        "UPDATE audit_auditseal SET hmac = 'x' WHERE event_id = %s",
        "DELETE FROM audit_auditseal WHERE event_id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_all_land_in_one_gapless_chain(personas: Personas) -> None:
    """Eight writers in their own transactions; sealing after each commit orders them all."""
    clinic = personas.clinic_a
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for i in range(25):
                with transaction.atomic():
                    audit_record(action="patient.view", clinic=clinic, object_type="x", object_id=i)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    key = f"clinic:{clinic.pk}"
    assert AuditEvent.objects.filter(chain_key=key).count() == 200
    assert list(AuditSeal.objects.filter(chain_key=key).order_by("seq").values_list("seq", flat=True)) == list(
        range(1, 201)
    )
    assert AuditChain.objects.get(key=key).last_seq == 200
    assert all(r.ok for r in audit_verify_all())


def test_sealing_runs_when_the_writing_transaction_commits(
    personas: Personas, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        event = audit_record(action="login", clinic=personas.clinic_a)
    assert AuditSeal.objects.get(event=event).seq == 1


def test_admin_filters_the_audit_page_by_action_and_person(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    signed_in("nurse").get(f"/patients/{patient.pk}/")
    signed_in("physician").get(f"/patients/{patient.pk}/")
    audit_record(action="patient.view", clinic=personas.clinic_b, actor=personas.other_physician)
    admin = signed_in("admin")
    page = admin.get("/audit/", {"action": "patient.view"}).content.decode()
    assert page.count("<td>patient.view</td>") == 2
    page = admin.get("/audit/", {"action": "patient.view", "actor": personas.nurse.pk}).content.decode()
    assert page.count("<td>patient.view</td>") == 1 and personas.nurse.email in page


def test_the_csv_export_has_every_matching_event_and_is_itself_audited(personas: Personas, signed_in: Any) -> None:
    _write_events(personas, 3)
    audit_record(action="patient.view", clinic=personas.clinic_b)
    response = signed_in("admin").get("/audit/export.csv", {"action": "patient.view"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 3 and {r["action"] for r in rows} == {"patient.view"}
    assert AuditEvent.objects.filter(action="audit.export", actor=personas.admin).exists()


def test_every_event_says_who_role_clinic_what_when_and_from_where(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    signed_in("physician").get(f"/patients/{patient.pk}/", REMOTE_ADDR="10.1.2.3")
    event = AuditEvent.objects.get(action="patient.view")
    assert event.actor == personas.physician
    assert event.actor_label == personas.physician.email
    assert event.role == "physician"
    assert event.clinic == personas.clinic_a
    assert (event.object_type, event.object_id) == ("patients.patient", str(patient.pk))
    assert event.source_ip == "10.1.2.3"
    assert event.created_at.tzinfo is not None and event.created_at.utcoffset().total_seconds() == 0


def test_the_audit_page_runs_the_same_queries_for_few_or_many_events(personas: Personas, signed_in: Any) -> None:
    from django.test.utils import CaptureQueriesContext

    admin = signed_in("admin")
    _write_events(personas, 2)
    with CaptureQueriesContext(connection) as few:
        admin.get("/audit/")
    _write_events(personas, 60)
    with CaptureQueriesContext(connection) as many:
        admin.get("/audit/")
    assert len(few.captured_queries) == len(many.captured_queries)


# PostgreSQL only: the test suite's SQLite is an in-memory shared-cache database, whose table
# locks make a second thread's writer collide with the test's (production SQLite is a WAL file).
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_in_production_a_background_thread_seals_after_commit(personas: Personas, settings: Any) -> None:
    """Requests only insert events; the per-process sealer numbers and HMACs them shortly after."""
    import time

    settings.AUDIT_SEAL_INLINE = False
    events = []
    for i in range(5):
        with transaction.atomic():
            events.append(audit_record(action="patient.view", clinic=personas.clinic_a, object_type="x", object_id=i))
    deadline = time.monotonic() + 10
    while AuditSeal.objects.filter(event__in=events).count() < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(AuditSeal.objects.filter(event__in=events).values_list("seq", flat=True)) == [1, 2, 3, 4, 5]
    assert all(r.ok for r in audit_verify_all())


@pytest.mark.postgres  # a second thread writes: see the test above
@pytest.mark.django_db(transaction=True)
def test_the_sealer_gathers_a_burst_of_events_into_one_batch(personas: Personas, settings: Any) -> None:
    """Events written within the delay wait together and are sealed in one transaction, in order."""
    import time

    settings.AUDIT_SEAL_INLINE = False
    settings.AUDIT_SEAL_DELAY_SECONDS = 1.5
    started = time.monotonic()
    events = [
        audit_record(action="patient.view", clinic=personas.clinic_a, object_type="x", object_id=i) for i in range(5)
    ]
    if time.monotonic() - started < 1.0:  # on a stalled machine the first may already be sealed
        assert not AuditSeal.objects.filter(event__in=events).exists(), "sealed before the delay was over"
    deadline = time.monotonic() + 15
    while AuditSeal.objects.filter(event__in=events).count() < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    seals = list(AuditSeal.objects.filter(event__in=events).order_by("seq"))
    assert [s.event_id for s in seals] == [e.pk for e in events] and [s.seq for s in seals] == [1, 2, 3, 4, 5]
    assert all(r.ok for r in audit_verify_all())


def test_the_database_marks_every_inserted_event_pending_whoever_writes_it(personas: Personas) -> None:
    """An event inserted outside the app (here with raw SQL) is still sealed and verified, not lost."""
    from prpclinic.audit.models import AuditPending, chain_key_for

    key = chain_key_for(personas.clinic_a.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (clinic_id, chain_key, actor_label, role, action, object_type, object_id,"
            " changes, created_at) VALUES (%s, %s, '', '', 'patient.view', 'x', '1', '{}', CURRENT_TIMESTAMP)",
            [personas.clinic_a.pk, key],
        )
    event = AuditEvent.objects.get(chain_key=key)
    assert AuditPending.objects.filter(event=event, chain_key=key).exists()
    assert audit_seal_all() == 1 and AuditSeal.objects.get(event=event).seq == 1
    assert not AuditPending.objects.exists() and all(r.ok for r in audit_verify_all())


def test_a_chart_opening_writes_its_audit_event_in_one_statement(personas: Personas, signed_in: Any) -> None:
    from django.test.utils import CaptureQueriesContext

    patient = make_patient(personas.clinic_a)
    client = signed_in("nurse")
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(f"/patients/{patient.pk}/").status_code == 200
    audit = [q["sql"] for q in ctx.captured_queries if "audit_" in q["sql"]]
    assert len(audit) == 2 and audit[0].startswith('INSERT INTO "audit_auditevent"'), audit  # the event...
    assert 'FROM "audit_auditevent"' in audit[1]  # ...and the chart's own record history
    assert not [q for q in ctx.captured_queries if "SAVEPOINT" in q["sql"]]
    assert AuditEvent.objects.filter(action="patient.view", object_id=str(patient.pk)).count() == 1


def test_behind_the_proxy_the_audit_records_the_clients_address(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    signed_in("nurse").get(f"/patients/{patient.pk}/", REMOTE_ADDR="127.0.0.1", HTTP_X_REAL_IP="192.0.2.44")
    signed_in("nurse").get(f"/patients/{patient.pk}/", REMOTE_ADDR="203.0.113.9", HTTP_X_REAL_IP="192.0.2.99")
    addresses = list(
        AuditEvent.objects.filter(action="patient.view").order_by("id").values_list("source_ip", flat=True)
    )
    assert addresses == ["192.0.2.44", "203.0.113.9"]  # a header from outside the proxy is ignored
