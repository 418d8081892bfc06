"""Measure the FHIR bulk export: resources per second and peak memory, on the benchmark clinic.

    python -m bench.fhir_export [--patients 100000] [--types Patient,Procedure] [--chunk-size 500]

Uses ``bench.generate``'s database (``BENCH_DATABASE_URL``; generated first if missing or of another size) and
exports its largest clinic exactly as ``$export`` does: ``prpclinic.fhir.bulk.run_export`` called in this process,
with DEBUG off, writing NDJSON files to a scratch folder under ``bench/results/`` (deleted afterwards).
Prints, per type and in all, resources and resources per second, and the process's peak resident memory before
and after the export (``ru_maxrss``, reset just before the export where Linux allows it): memory bounded by the
chunk size shows as a peak that does not move with the number of patients.
``--tracemalloc`` also reports the Python heap's peak (slower: about 2x).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import resource
import secrets
import shutil
import time
import tracemalloc

from bench.env import RESULTS, database_url, default_patients, django_env, read_meta
from bench.generate import ensure


def _rss_mib() -> float:
    """The process's peak resident memory so far (VmHWM; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak_rss() -> None:
    # Linux: writing 5 to clear_refs resets the peak (VmHWM), so that data generation earlier in this process
    # does not hide the export's own peak. Elsewhere the "before" figure is simply the process's peak so far.
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=default_patients(), help="patients of the main clinic")
    parser.add_argument("--types", default="", help="comma-separated resource types (default: all served)")
    parser.add_argument("--chunk-size", type=int, default=0, help="rows per database fetch (default: bulk.CHUNK_SIZE)")
    parser.add_argument("--tracemalloc", action="store_true", help="also measure the Python heap's peak")
    args = parser.parse_args(argv)

    ensure(args.patients)
    url = database_url()
    meta = read_meta(url) or {}
    media = RESULTS / "fhir-export-media"
    os.environ.update(
        django_env(url=url, secret_key=secrets.token_urlsafe(50), audit_key=meta.get("audit_key", "x" * 48))
    )
    os.environ["MEDIA_ROOT"] = str(media)

    import django

    django.setup()
    from django.core.files.storage import default_storage
    from django.core.management import call_command
    from django.db.models import Count

    from prpclinic.clinics.models import Clinic
    from prpclinic.fhir import bulk, registry
    from prpclinic.fhir.models import ExportJob

    call_command("migrate", interactive=False, verbosity=0)  # apps' migrations newer than the generated data
    if args.chunk_size:
        bulk.CHUNK_SIZE = args.chunk_size
    clinic = Clinic.objects.annotate(n=Count("patients")).order_by("-n").first()
    assert clinic is not None
    types = bulk.parse_types(args.types) if args.types else [d.type_name for d in registry.all_types()]
    job = ExportJob.objects.create(clinic=clinic, types=types, request_url="http://127.0.0.1/fhir/R4/$export")

    gc.collect()
    _reset_peak_rss()
    rss_before = _rss_mib()
    if args.tracemalloc:
        tracemalloc.start()
    started = time.perf_counter()
    bulk.run_export.call(job_id=job.pk)
    elapsed = time.perf_counter() - started
    heap_peak = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
    tracemalloc.stop()
    rss_after = _rss_mib()

    job.refresh_from_db()
    total = sum(item["count"] for item in job.output)
    result = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "patients_in_clinic": clinic.n,  # type: ignore[attr-defined]
        "status": job.status,
        "error": job.error,
        "types": {item["type"]: item["count"] for item in job.output},
        "resources": total,
        "seconds": round(elapsed, 1),
        "resources_per_second": round(total / elapsed) if elapsed else None,
        "chunk_size": bulk.CHUNK_SIZE,
        "peak_rss_mib_before_export": round(rss_before, 1),
        "peak_rss_mib_after_export": round(rss_after, 1),
        "python_heap_peak_mib": round(heap_peak, 1) if heap_peak is not None else None,
        "ndjson_mib": round(sum(default_storage.size(i["name"]) for i in job.output) / 2**20, 1),
        "load_average_1min": round(os.getloadavg()[0], 1),
    }
    bulk._discard(job.output)
    ExportJob.objects.filter(pk=job.pk).delete()  # the benchmark's own job: not a clinic record
    shutil.rmtree(media, ignore_errors=True)
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fhir_export.json").write_text(json.dumps(result, indent=2))
    return 0 if job.status == "done" else 1


if __name__ == "__main__":
    raise SystemExit(main())
