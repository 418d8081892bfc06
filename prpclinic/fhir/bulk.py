"""FHIR Bulk Data export: system level (``$export``) and patient level (``Patient/$export``): kick-off, status,
files, cancel; and the task that writes them.

The export runs as a background task (django-tasks). Each resource type is read source by source (a type may be
served from several tables, see ``registry.sources``), each source with a server-side cursor in chunks
(``QuerySet.iterator(chunk_size=...)``), and each resource is written as one NDJSON line to the type's one temporary
file on disk, which is then saved to Django storage: memory holds one chunk of rows, never a whole type, so a clinic
of 100,000 patients exports in the same memory as one of 1,000 (``tests/test_fhir_export_bulk.py`` measures it).

A patient-level export writes only the patient-compartment types (those whose definition has a ``patient_path``),
for every patient of the clinic (``system/*.read``), for the ``patient`` parameters given, or for the token's own
patient (a SMART patient-context token).
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
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
from prpclinic.fhir import registry, search
from prpclinic.fhir.auth import SYSTEM_READ, FhirAccess, FhirAuthError, authenticate, error_response, operation_outcome
from prpclinic.fhir.models import ExportJob, ExportLevel, ExportStatus
from prpclinic.patients.models import Patient

NDJSON = "application/fhir+ndjson"
ACCEPTED_FORMATS = {"application/fhir+ndjson", "application/ndjson", "ndjson"}
CHUNK_SIZE = 500
# How often (in resources) the task writes its progress and looks for a cancellation.
PROGRESS_EVERY = 2000
# Fields that say when a row last changed, tried in order for ``_since``.
CHANGED_FIELDS = ("updated_at", "modified_at")
# At most this many ``patient`` parameters in one kick-off: the ids become one ``IN (...)`` list per source, which
# must stay well under SQLite's bound-parameter limit. More patients: several exports, or all of them (no parameter).
MAX_PATIENTS = 500


class ExportRequestError(ValueError):
    """A kick-off the server cannot honour: 400 (404 with ``status=404`` for a patient it does not know)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# --- starting a job (API and staff page share it) ----------------------------------------------


def parse_types(value: str | None, *, patient_level: bool = False) -> list[str]:
    """The ``_type`` list as type names (sorted, once each); a patient-level export takes compartment types only."""
    if not value:
        return []
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if registry.get(name) is None]
    if unknown:
        raise ExportRequestError(f"This server does not export: {', '.join(unknown)}.")
    if patient_level:
        outside = [name for name in names if registry.get(name).patient_path is None]  # type: ignore[union-attr]
        if outside:
            raise ExportRequestError(
                f"Not in the patient compartment, so not part of a patient-level export: {', '.join(outside)}."
            )
    return sorted(set(names))


def parse_patients(references: list[str], *, clinic: Any, access: FhirAccess | None = None) -> list[int]:
    """The ``patient`` parameters (``Patient/<id>``) as ids of the clinic's patients, sorted, once each.

    A malformed reference is a 400; a patient the clinic does not have (or, for a patient-context token, any other
    patient than its own) is a 404 that names only the reference the client sent. One query for all of them."""
    ids: set[int] = set()
    for reference in references:
        type_name, _, raw_id = reference.strip().partition("/")
        pk = search.as_id(raw_id) if type_name == "Patient" else None
        if pk is None:
            raise ExportRequestError(f"patient must be a reference like Patient/12, not {reference[:40]!r}.")
        ids.add(pk)
    if len(ids) > MAX_PATIENTS:
        raise ExportRequestError(f"At most {MAX_PATIENTS} patients in one export; omit patient to export them all.")
    known = set(Patient.objects.filter(clinic=clinic, pk__in=ids).values_list("pk", flat=True))
    if access is not None and access.patient_id is not None:
        known &= {access.patient_id}
    missing = sorted(ids - known)
    if missing:
        raise ExportRequestError(f"Patient/{missing[0]} is not known.", status=404)
    return sorted(ids)


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
    level: str = ExportLevel.SYSTEM,
    patients: list[int] | None = None,
) -> ExportJob:
    """Create the job (audited) and queue the task. Side effects: an ``ExportJob`` row, an audit event, a task.

    ``level`` is ``system`` (every type) or ``patient`` (compartment types of ``patients``, or of all the clinic's
    patients when ``patients`` is empty); the caller has checked the patients are the clinic's."""
    with transaction.atomic():
        job = ExportJob(
            clinic=clinic,
            token_id=token_id,
            requested_by=requested_by,
            types=types,
            since=since,
            level=level,
            patients=patients or [],
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
            changes={
                "types": types,
                "since": since.isoformat() if since else None,
                "token": token_id,
                "level": level,
                "patients": patients or [],
            },
        )
    # Queued after the commit, so a worker never looks for a job that is not there yet.
    run_export.enqueue(job_id=job.pk)
    return job


# --- the task ----------------------------------------------------------------------------------


def _changed_field(queryset: QuerySet) -> str | None:
    names = {f.name for f in queryset.model._meta.get_fields()}
    return next((name for name in CHANGED_FIELDS if name in names), None)


def export_queryset(
    definition: registry.ResourceDef,
    clinic_id: int,
    since: dt.datetime | None,
    patient_ids: list[int] | None = None,
) -> QuerySet:
    """One source's rows to export: the clinic's, of ``patient_ids`` when given, changed after ``since``."""
    queryset = definition.queryset(clinic_id)
    if patient_ids:
        queryset = queryset.filter(definition.patient_filter(patient_ids))
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
    url = url.rsplit("/$export", 1)[0] if "/$export" in url else url.rstrip("/")
    # Patient/$export: the server's base is above the type.
    return url.removesuffix("/Patient") if job.level == ExportLevel.PATIENT else url


def export_plan(job: ExportJob) -> list[tuple[str, list[registry.ResourceDef]]]:
    """The job's types, each with the sources to walk (all of them, into the type's one file). A patient-level
    job keeps the patient-compartment types, and of those the sources that can say whose a row is."""
    names = job.types or [definition.type_name for definition in registry.all_types()]
    plan: list[tuple[str, list[registry.ResourceDef]]] = []
    for name in names:
        sources = registry.sources(name)
        if job.level == ExportLevel.PATIENT:
            if not sources or sources[0].patient_path is None:
                continue
            sources = [source for source in sources if source.patient_path is not None]
        if sources:
            plan.append((name, sources))
    return plan


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
    patient_ids = job.patients if job.level == ExportLevel.PATIENT else None
    output: list[dict[str, Any]] = []
    written = 0
    # The per-chunk collections below then only walk objects made during the export, not the hundreds of
    # thousands of long-lived ones (models, FHIR schemas): 0.2 s per collection becomes a few milliseconds.
    gc.collect()
    gc.freeze()
    try:
        for index, (type_name, sources) in enumerate(export_plan(job)):
            count = 0
            # One file per type, whatever the number of its sources (Bulk Data: one type per NDJSON file).
            with tempfile.TemporaryFile() as spool:
                for definition in sources:
                    queryset = export_queryset(definition, job.clinic_id, job.since, patient_ids)
                    for line in ndjson_lines(definition, queryset, ctx):
                        spool.write(line)
                        count += 1
                        written += 1
                        if written % PROGRESS_EVERY == 0:
                            if _cancelled(job_id):
                                _discard(output)
                                return
                            ExportJob.objects.filter(pk=job_id).update(
                                progress=f"{type_name}: {count} resources ({written} in all)"
                            )
                if count:
                    spool.seek(0)
                    name = default_storage.save(
                        f"fhir-exports/{job.clinic_id}/{job_id}/{index:02d}-{type_name}.ndjson", File(spool)
                    )
                    output.append({"type": type_name, "name": name, "count": count})
            ExportJob.objects.filter(pk=job_id).update(progress=f"{type_name} done ({written} in all)")
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
    """A token that may follow exports: ``system/*.read``, or a patient-context token (its own patient's
    exports). Which jobs it sees is narrowed further by ``_job_for``."""
    access = authenticate(request)
    if access.patient_id is None:
        access.require(SYSTEM_READ)
    return access


def _job_for(access: FhirAccess, job_id: int) -> ExportJob | None:
    # Only the token that started a job sees it (another token of the same clinic gets 404 too).
    return ExportJob.objects.filter(pk=job_id, clinic=access.clinic, token_id=access.token_id).first()


@dataclass(frozen=True)
class KickoffParams:
    """What a kick-off asks for, from the query string (GET) or a Parameters resource (POST)."""

    types: str | None = None
    since: str | None = None
    output_format: str | None = None
    patients: list[str] = field(default_factory=list)


def _get_params(request: HttpRequest) -> KickoffParams:
    patients = [part for value in request.GET.getlist("patient") for part in value.split(",") if part.strip()]
    return KickoffParams(
        types=request.GET.get("_type"),
        since=request.GET.get("_since"),
        output_format=request.GET.get("_outputFormat"),
        patients=patients,
    )


# The value[x] each kick-off parameter may carry in a POSTed Parameters resource (Bulk Data IG 2.0).
_PARAMETER_VALUES = {
    "_type": ("valueString",),
    "_since": ("valueInstant", "valueDateTime", "valueString"),
    "_outputFormat": ("valueString", "valueCode"),
}


def _post_params(request: HttpRequest) -> KickoffParams:
    """A Parameters resource: ``patient`` as ``valueReference``, ``_type``/``_since``/``_outputFormat`` as values."""
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as error:
        raise ExportRequestError("The body must be a FHIR Parameters resource in JSON.") from error
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise ExportRequestError("The body must be a FHIR Parameters resource in JSON.")
    values: dict[str, list[str]] = {}
    parameters = body.get("parameter") or []
    if not isinstance(parameters, list):
        raise ExportRequestError("The body must be a FHIR Parameters resource in JSON.")
    for parameter in parameters:
        name = parameter.get("name") if isinstance(parameter, dict) else None
        if name == "patient":
            value_reference = parameter.get("valueReference")
            reference = value_reference.get("reference") if isinstance(value_reference, dict) else None
            if not isinstance(reference, str):
                raise ExportRequestError("Each patient parameter needs a valueReference like Patient/12.")
            values.setdefault("patient", []).append(reference)
        elif name in _PARAMETER_VALUES:
            value = next((parameter[key] for key in _PARAMETER_VALUES[name] if key in parameter), None)
            if not isinstance(value, str):
                raise ExportRequestError(f"The parameter {name} needs a text value.")
            values.setdefault(name, []).append(value)
        else:
            raise ExportRequestError(f"This server does not take the parameter {str(name)[:40]!r} in an export.")
    return KickoffParams(
        types=",".join(values.get("_type", [])) or None,
        since=(values.get("_since") or [None])[-1],
        output_format=(values.get("_outputFormat") or [None])[-1],
        patients=values.get("patient", []),
    )


def _kickoff(request: HttpRequest, *, level: str) -> HttpResponse:
    """Shared by both kick-offs: checks (nothing is started on any refusal), then the job, then 202."""
    try:
        access = authenticate(request)
        if level == ExportLevel.SYSTEM or access.patient_id is None:
            # A patient-context token exports its own patient only; everything else needs system/*.read.
            access.require(SYSTEM_READ)
    except FhirAuthError as error:
        return error_response(error)
    if "respond-async" not in request.headers.get("Prefer", ""):
        return operation_outcome(400, "Bulk export is asynchronous: send the header Prefer: respond-async.")
    patient_level = level == ExportLevel.PATIENT
    try:
        params = _post_params(request) if request.method == "POST" else _get_params(request)
        if params.output_format and params.output_format not in ACCEPTED_FORMATS:
            raise ExportRequestError("The only output format is application/fhir+ndjson.")
        types = parse_types(params.types, patient_level=patient_level)
        since = parse_since(params.since)
        patients: list[int] = []
        if patient_level:
            patients = parse_patients(params.patients, clinic=access.clinic, access=access)
            if not patients and access.patient_id is not None:
                patients = [access.patient_id]
    except ExportRequestError as error:
        return operation_outcome(error.status, str(error))
    job = start_export(
        clinic=access.clinic,
        request_url=request.build_absolute_uri(),
        request=request,
        types=types,
        since=since,
        token_id=access.token_id,
        level=level,
        patients=patients,
    )
    response = HttpResponse(status=202)
    response["Content-Location"] = request.build_absolute_uri(reverse("fhir_export_status", args=[job.pk]))
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@require_http_methods(["GET"])
def export_kickoff(request: HttpRequest) -> HttpResponse:
    """``GET /fhir/R4/$export``: every type of the clinic (``system/*.read``)."""
    return _kickoff(request, level=ExportLevel.SYSTEM)


@csrf_exempt  # bearer tokens only, no cookies: CSRF does not apply
@require_http_methods(["GET", "POST"])
def patient_export_kickoff(request: HttpRequest) -> HttpResponse:
    """``GET|POST /fhir/R4/Patient/$export``: the patient-compartment types of the clinic's patients (or of the
    ``patient`` parameters, or of a patient-context token's own patient)."""
    return _kickoff(request, level=ExportLevel.PATIENT)


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
