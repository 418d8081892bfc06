"""FHIR Bulk Data export: kick-off, status, NDJSON files for the same token, cancel, bounded memory."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone
from fhir.resources.R4B.patient import Patient as FhirPatient

from prpclinic.audit.models import AuditEvent
from prpclinic.fhir import bulk, registry
from prpclinic.fhir.models import ExportJob, ExportStatus
from prpclinic.patients.models import Patient
from tests.conftest import make_patient
from tests.fhir_export_support import ensure_patient_type, many_patients
from tests.fhir_tokens import bearer, issue_token

KICKOFF = "/fhir/R4/$export"


@pytest.fixture(autouse=True)
def _patient_type(db: Any) -> None:
    ensure_patient_type()


def _kickoff(client: Client, raw: str, query: str = "?_type=Patient") -> Any:
    return client.get(KICKOFF + query, headers={**bearer(raw), "Prefer": "respond-async"})


def test_an_export_runs_to_a_manifest_whose_files_hold_only_this_clinics_patients_as_valid_ndjson(
    personas: Any,
) -> None:
    for name in ("Anna", "Berta", "Clara"):
        make_patient(personas.clinic_a, given_name=name)
    make_patient(personas.clinic_b, given_name="Other")
    raw = issue_token(personas.clinic_a, by=personas.admin)
    client = Client()

    kickoff = _kickoff(client, raw)
    assert kickoff.status_code == 202
    status_url = kickoff["Content-Location"]
    assert status_url.startswith("http://testserver/fhir/R4/$export-status/")

    status = client.get(status_url, headers=bearer(raw))
    assert status.status_code == 200 and status["Cache-Control"] == "no-store"
    manifest = status.json()
    assert manifest["requiresAccessToken"] is True
    assert manifest["request"].endswith("/fhir/R4/$export?_type=Patient")
    assert manifest["transactionTime"].endswith("Z")
    assert [(o["type"], o["count"]) for o in manifest["output"]] == [("Patient", 3)]

    file = client.get(manifest["output"][0]["url"], headers=bearer(raw))
    assert file.status_code == 200 and file["Content-Type"] == "application/fhir+ndjson"
    lines = b"".join(file.streaming_content).decode().splitlines()
    patients = [FhirPatient.model_validate_json(line) for line in lines]
    own = set(Patient.objects.filter(clinic=personas.clinic_a).values_list("pk", flat=True))
    assert {int(p.id) for p in patients} == own
    assert {p.name[0].given[0] for p in patients} == {"Anna", "Berta", "Clara"}
    assert AuditEvent.objects.filter(action="fhir.export.start").count() == 1


def test_the_status_and_files_of_an_export_answer_404_to_another_token(personas: Any) -> None:
    make_patient(personas.clinic_a)
    raw = issue_token(personas.clinic_a, by=personas.admin)
    other_b = issue_token(personas.clinic_b, by=personas.other_physician)
    other_a = issue_token(personas.clinic_a, by=personas.admin, label="Another client")
    client = Client()
    status_url = _kickoff(client, raw)["Content-Location"]
    file_url = client.get(status_url, headers=bearer(raw)).json()["output"][0]["url"]
    for other in (other_a, other_b):
        assert client.get(status_url, headers=bearer(other)).status_code == 404
        assert client.get(file_url, headers=bearer(other)).status_code == 404
    assert client.get(file_url).status_code == 401


def test_kickoff_without_a_token_is_401_with_www_authenticate_and_an_operation_outcome(db: Any) -> None:
    response = Client().get(KICKOFF, headers={"Prefer": "respond-async"})
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["resourceType"] == "OperationOutcome"


def test_a_patient_scoped_token_may_not_start_a_system_export(personas: Any) -> None:
    raw = issue_token(personas.clinic_a, scopes=("patient/*.read",), by=personas.admin)
    response = _kickoff(Client(), raw)
    assert response.status_code == 403
    assert not ExportJob.objects.exists()


@pytest.mark.parametrize(
    ("query", "headers", "message"),
    [
        ("?_type=Patient", {}, "Prefer: respond-async"),
        ("?_type=Nonsense", {"Prefer": "respond-async"}, "does not export: Nonsense"),
        ("?_since=yesterday", {"Prefer": "respond-async"}, "_since"),
        ("?_outputFormat=text/csv", {"Prefer": "respond-async"}, "ndjson"),
    ],
)
def test_a_kickoff_the_server_cannot_honour_is_refused_with_400_and_starts_nothing(
    personas: Any, query: str, headers: dict[str, str], message: str
) -> None:
    raw = issue_token(personas.clinic_a, by=personas.admin)
    response = Client().get(KICKOFF + query, headers={**bearer(raw), **headers})
    assert response.status_code == 400
    assert message in response.json()["issue"][0]["diagnostics"]
    assert not ExportJob.objects.exists()


def test_since_exports_only_patients_changed_after_it(personas: Any) -> None:
    old = make_patient(personas.clinic_a, given_name="Old")
    Patient.objects.filter(pk=old.pk).update(updated_at=timezone.now() - dt.timedelta(days=10))
    make_patient(personas.clinic_a, given_name="New")
    raw = issue_token(personas.clinic_a, by=personas.admin)
    client = Client()
    since = (timezone.now() - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status_url = _kickoff(client, raw, f"?_type=Patient&_since={since}")["Content-Location"]
    output = client.get(status_url, headers=bearer(raw)).json()["output"]
    assert [o["count"] for o in output] == [1]


def test_a_running_export_answers_202_with_progress(personas: Any) -> None:
    raw = issue_token(personas.clinic_a, by=personas.admin)
    client = Client()
    status_url = _kickoff(client, raw)["Content-Location"]
    ExportJob.objects.update(status=ExportStatus.RUNNING, progress="Patient: 2000 resources")
    response = client.get(status_url, headers=bearer(raw))
    assert response.status_code == 202
    assert response["X-Progress"] == "Patient: 2000 resources"


def test_delete_cancels_an_export_and_removes_its_files(personas: Any) -> None:
    make_patient(personas.clinic_a)
    raw = issue_token(personas.clinic_a, by=personas.admin)
    client = Client()
    status_url = _kickoff(client, raw)["Content-Location"]
    name = ExportJob.objects.get().output[0]["name"]
    assert default_storage.exists(name)
    assert client.delete(status_url, headers=bearer(raw)).status_code == 202
    assert ExportJob.objects.get().status == ExportStatus.CANCELLED
    assert not default_storage.exists(name)
    assert client.get(status_url, headers=bearer(raw)).status_code == 404


def test_an_empty_clinic_exports_an_empty_output_list(personas: Any) -> None:
    raw = issue_token(personas.clinic_b, by=personas.other_physician)
    client = Client()
    status_url = _kickoff(client, raw)["Content-Location"]
    assert client.get(status_url, headers=bearer(raw)).json()["output"] == []


def _export_peak(personas: Any) -> tuple[int, int]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        job = bulk.start_export(
            clinic=personas.clinic_a,
            request_url="http://t/fhir/R4/$export",
            request=None,
            types=["Patient"],
            since=None,
        )
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    job.refresh_from_db()
    return job.output[0]["count"], peak


def test_export_memory_does_not_grow_with_the_number_of_patients(
    personas: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small chunks so that both sizes span many chunks; the peak is then one chunk's worth, whatever the total.
    monkeypatch.setattr(bulk, "CHUNK_SIZE", 50)
    many_patients(personas.clinic_a, 200)
    small_count, small_peak = _export_peak(personas)
    many_patients(personas.clinic_a, 1800, start=200)
    large_count, large_peak = _export_peak(personas)
    assert (small_count, large_count) == (200, 2000)
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)


def test_a_full_export_has_a_file_per_type_with_records_and_every_line_validates_as_its_type(
    personas: Any,
) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    from tests.matrix_fhir_core import admin_records

    admin_records(personas)
    raw = issue_token(personas.clinic_a, by=personas.admin)
    client = Client()
    status_url = _kickoff(client, raw, "")["Content-Location"]
    manifest = client.get(status_url, headers=bearer(raw)).json()
    assert {"Patient", "Appointment", "Consent"} <= {o["type"] for o in manifest["output"]}
    # Every source of every type (a type may be served from several tables) lands in that type's one file.
    expected: dict[str, int] = {}
    for source in registry.all_sources():
        expected[source.type_name] = expected.get(source.type_name, 0) + source.queryset(personas.clinic_a.pk).count()
    assert {o["type"]: o["count"] for o in manifest["output"]} == {k: v for k, v in expected.items() if v}
    for output in manifest["output"]:
        body = b"".join(client.get(output["url"], headers=bearer(raw)).streaming_content).decode()
        lines = body.splitlines()
        assert len(lines) == output["count"] > 0
        model = get_fhir_model_class(output["type"])
        for line in lines:
            assert model.model_validate_json(line).get_resource_type() == output["type"]
