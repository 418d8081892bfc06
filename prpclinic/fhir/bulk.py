"""FHIR Bulk Data export (system level ``$export``): kick-off, status, files, cancel; and the task that writes them.

The export runs as a background task (django-tasks). Each resource type is read with a server-side cursor in
chunks (``QuerySet.iterator(chunk_size=...)``) and each resource is written as one NDJSON line to a temporary file on
disk, which is then saved to Django storage: memory holds one chunk of rows, never a whole type, so a clinic of
100,000 patients exports in the same memory as one of 1,000 (``tests/test_fhir_export_bulk.py`` measures it).
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import tempfile
from collections.abc import Iterator
from typing import Any

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django_tasks import task

from prpclinic.audit.services import audit_record
from prpclinic.fhir import registry
from prpclinic.fhir.auth import SYSTEM_READ, FhirAccess, FhirAuthError, authenticate, error_response, operation_outcome
from prpclinic.fhir.models import ExportJob, ExportStatus

NDJSON = "application/fhir+ndjson"
ACCEPTED_FORMATS = {"application/fhir+ndjson", "application/ndjson", "ndjson"}
CHUNK_SIZE = 500
# How often (in resources) the task writes its progress and looks for a cancellation.
PROGRESS_EVERY = 2000
# Fields that say when a row last changed, tried in order for ``_since``.
CHANGED_FIELDS = ("updated_at", "modified_at")


class ExportRequestError(ValueError):
    pass


# --- starting a job (API and staff page share it) ----------------------------------------------


def parse_types(value: str | None) -> list[str]:
    if not value:
        return []
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if registry.get(name) is None]
    if unknown:
        raise ExportRequestError(f"This server does not export: {', '.join(unknown)}.")
    return sorted(set(names))


def parse_since(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        since = parse_datetime(value)
    except ValueError:
        since = None
    if since is None or since.tzinfo is None:
        raise ExportRequestError("_since must be a FHIR instant with a time zone, e.g. 2026-01-01T00:00:00Z.")
    return since


def start_export(
    *,
    clinic: Any,
    request_url: str,
    request: HttpRequest | None,
    types: list[str],
    since: dt.datetime | None,
    token_id: int | None = None,
    requested_by: Any = None,
) -> ExportJob:
    """Create the job (audited) and queue the task. Side effects: an ``ExportJob`` row, an audit event, a task."""
    with transaction.atomic():
        job = ExportJob(
            clinic=clinic,
            token_id=token_id,
            requested_by=requested_by,
            types=types,
            since=since,
            request_url=request_url[:500],
            transaction_time=timezone.now(),
        )
        job.full_clean()
        job.save()
        audit_record(
            action="fhir.export.start",
            request=request,
            actor=requested_by,
            clinic=clinic,
            obj=job,
            changes={"types": types, "since": since.isoformat() if since else None, "token": token_id},
        )
    # Queued after the commit, so a worker never looks for a job that is not there yet.
    run_export.enqueue(job_id=job.pk)
    return job


# --- the task ----------------------------------------------------------------------------------


def _changed_field(queryset: QuerySet) -> str | None:
    names = {f.name for f in queryset.model._meta.get_fields()}
    return next((name for name in CHANGED_FIELDS if name in names), None)


def export_queryset(definition: registry.ResourceDef, clinic_id: int, since: dt.datetime | None) -> QuerySet:
    queryset = definition.queryset(clinic_id)
    if since is not None:
        # Resources changed since then; a type without a change time is exported whole (never silently dropped).
        changed = _changed_field(queryset)
        if changed is not None:
            queryset = queryset.filter(**{f"{changed}__gt": since})
    return queryset.order_by("pk")


def ndjson_lines(definition: registry.ResourceDef, queryset: QuerySet, ctx: registry.BuildContext) -> Iterator[bytes]:
    """One UTF-8 JSON line per resource, built from rows fetched ``CHUNK_SIZE`` at a time."""
    for count, row in enumerate(queryset.iterator(chunk_size=CHUNK_SIZE), start=1):
        resource = definition.build(row, ctx)
        yield resource.model_dump_json(exclude_none=True).encode("utf-8") + b"\n"
        if count % CHUNK_SIZE == 0:
            # Rows with prefetched relations form reference cycles (row <-> related rows), which only the cyclic
            # collector frees, and it rarely runs a full pass: without this, finished chunks pile up.
            del row, resource
            gc.collect()


def _base_url(job: ExportJob) -> str:
    url = job.request_url.split("?", 1)[0]
    return url.rsplit("/$export", 1)[0] if "/$export" in url else url.rstrip("/")


def _cancelled(job_id: int) -> bool:
    return ExportJob.objects.filter(pk=job_id, status=ExportStatus.CANCELLED).exists()


@task()
def run_export(*, job_id: int) -> None:
    """Write the job's NDJSON files. A cancelled job stops at its next progress point and keeps no files."""
    updated = ExportJob.objects.filter(pk=job_id, status=ExportStatus.QUEUED).update(status=ExportStatus.RUNNING)
    if not updated:
        return  # cancelled before it started, or already run
    job = ExportJob.objects.select_related("clinic").get(pk=job_id)
    ctx = registry.BuildContext(base_url=_base_url(job), clinic=job.clinic)
    definitions = [registry.get(name) for name in job.types] if job.types else registry.all_types()
    output: list[dict[str, Any]] = []
    written = 0
    # The per-chunk collections below then only walk objects made during the export, not the hundreds of
    # thousands of long-lived ones (models, FHIR schemas): 0.2 s per collection becomes a few milliseconds.
    gc.collect()
    gc.freeze()
    try:
        for index, definition in enumerate(d for d in definitions if d is not None):
            queryset = export_queryset(definition, job.clinic_id, job.since)
            count = 0
            with tempfile.TemporaryFile() as spool:
                for line in ndjson_lines(definition, queryset, ctx):
                    spool.write(line)
                    count += 1
                    written += 1
                    if written % PROGRESS_EVERY == 0:
                        if _cancelled(job_id):
                            _discard(output)
                            return
                        ExportJob.objects.filter(pk=job_id).update(
                            progress=f"{definition.type_name}: {count} resources ({written} in all)"
                        )
                if count:
                    spool.seek(0)
                    name = default_storage.save(
                        f"fhir-exports/{job.clinic_id}/{job_id}/{index:02d}-{definition.type_name}.ndjson", File(spool)
                    )
                    output.append({"type": definition.type_name, "name": name, "count": count})
            ExportJob.objects.filter(pk=job_id).update(progress=f"{definition.type_name} done ({written} in all)")
    except Exception as error:
        _discard(output)
        ExportJob.objects.filter(pk=job_id).update(
            status=ExportStatus.FAILED, error=f"{type(error).__name__}", finished_at=timezone.now()
        )
        raise
    finally:
        gc.unfreeze()
    finished = ExportJob.objects.filter(pk=job_id, status=ExportStatus.RUNNING).update(
        status=ExportStatus.DONE, output=output, progress=f"{written} resources", finished_at=timezone.now()
    )
    if not finished:  # cancelled during the last type
        _discard(output)


def _discard(output: list[dict[str, Any]]) -> None:
    for item in output:
        default_storage.delete(item["name"])


# --- the API views -----------------------------------------------------------------------------


def _access(request: HttpRequest) -> FhirAccess:
    return authenticate(request, scope=SYSTEM_READ)


def _job_for(access: FhirAccess, job_id: int) -> ExportJob | None:
    # Only the token that started a job sees it (another token of the same clinic gets 404 too).
    return ExportJob.objects.filter(pk=job_id, clinic=access.clinic, token_id=access.token_id).first()


@csrf_exempt
@require_http_methods(["GET"])
def export_kickoff(request: HttpRequest) -> HttpResponse:
    try:
        access = _access(request)
    except FhirAuthError as error:
        return error_response(error)
    if "respond-async" not in request.headers.get("Prefer", ""):
        return operation_outcome(400, "Bulk export is asynchronous: send the header Prefer: respond-async.")
    output_format = request.GET.get("_outputFormat")
    if output_format and output_format not in ACCEPTED_FORMATS:
        return operation_outcome(400, "The only output format is application/fhir+ndjson.")
    try:
        types = parse_types(request.GET.get("_type"))
        since = parse_since(request.GET.get("_since"))
    except ExportRequestError as error:
        return operation_outcome(400, str(error))
    job = start_export(
        clinic=access.clinic,
        request_url=request.build_absolute_uri(),
        request=request,
        types=types,
        since=since,
        token_id=access.token_id,
    )
    response = HttpResponse(status=202)
    response["Content-Location"] = request.build_absolute_uri(reverse("fhir_export_status", args=[job.pk]))
    response["Cache-Control"] = "no-store"
    return response


def manifest(job: ExportJob, request: HttpRequest) -> dict[str, Any]:
    return {
        "transactionTime": job.transaction_time.isoformat().replace("+00:00", "Z"),
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [
            {
                "type": item["type"],
                "url": request.build_absolute_uri(reverse("fhir_export_file", args=[job.pk, index])),
                "count": item["count"],
            }
            for index, item in enumerate(job.output)
        ],
        "error": [],
    }


@csrf_exempt
@require_http_methods(["GET", "DELETE"])
def export_status(request: HttpRequest, job_id: int) -> HttpResponse:
    try:
        access = _access(request)
    except FhirAuthError as error:
        return error_response(error)
    job = _job_for(access, job_id)
    if job is None or job.status == ExportStatus.CANCELLED:
        return operation_outcome(404, "No such export (or it was cancelled).")
    if request.method == "DELETE":
        cancel_export(job=job, request=request)
        response = HttpResponse(status=202)
    elif job.status in (ExportStatus.QUEUED, ExportStatus.RUNNING):
        response = HttpResponse(status=202)
        response["X-Progress"] = job.progress or job.get_status_display()
        response["Retry-After"] = "10"
    elif job.status == ExportStatus.FAILED:
        return operation_outcome(500, "The export failed; start a new one.")
    else:
        response = HttpResponse(json.dumps(manifest(job, request)), content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


def cancel_export(*, job: ExportJob, request: HttpRequest) -> None:
    """Cancel a job: a running task stops at its next progress point; finished files are deleted."""
    with transaction.atomic():
        ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.CANCELLED, finished_at=timezone.now())
        audit_record(action="fhir.export.cancel", request=request, clinic=job.clinic, obj=job)
    _discard(job.output)


def file_response(job: ExportJob, index: int) -> HttpResponse:
    if job.status != ExportStatus.DONE or not 0 <= index < len(job.output):
        return operation_outcome(404, "No such file.")
    response = FileResponse(default_storage.open(job.output[index]["name"], "rb"), content_type=NDJSON)
    response["Content-Disposition"] = f'attachment; filename="{job.output[index]["type"]}.ndjson"'
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET"])
def export_file(request: HttpRequest, job_id: int, index: int) -> HttpResponse:
    try:
        access = _access(request)
    except FhirAuthError as error:
        return error_response(error)
    job = _job_for(access, job_id)
    if job is None:
        return operation_outcome(404, "No such export.")
    return file_response(job, index)
