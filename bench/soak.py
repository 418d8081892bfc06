"""A bounded soak: a mix of the clinic's day under steady load, for minutes, with memory watched.

    python -m bench.soak [--minutes 10] [--clients 16] [--server gunicorn|granian] [--patients N]

Serves the app as bench/run.py does (production settings, gunicorn with 4 sync workers by
default) on a copy of the bench database (``prpclinic_soak``, made from ``prpclinic_bench``
with ``CREATE DATABASE ... TEMPLATE``, so the benchmark's data stay as generated; dropped at
the end unless ``--keep-db``). Logs are on at INFO in JSON, as in production, and written to
bench/results/soak-server.log.

Each client is a thread with its own signed-in nurse session that sends, one request after
another, a weighted mix: patient search (htmx POST), chart, the PRP day board, a visit page, a
product's trace, and steps of a PRP chain of its own: screen the patient (the screening form),
take their consent on the tablet (the signing form with a drawn PNG signature; the server
renders and stores the signed PDF), start a visit (page), draw blood, two spins and
preparation (JSON API), the bedside verification (page POST) and the application (page POST),
then a new chain. There are no outcome pages yet. Signed consents' PDFs go to
bench/results/soak-media/, emptied at the start of each run.

Every few seconds it samples the resident memory (RSS) of the server's processes. It ends
with requests per second, p50/p95/p99 latency per request type and overall, and two checks:
zero errors (any status other than the expected one, a missing page marker, a timeout or a
connection error; and no ERROR line in the server's log), and a steady memory footprint
(mean RSS of the last minute within 10 % of the second minute's; for runs under 3 minutes,
the last quarter against the second quarter). Exit status 1 if a check fails. Results go to
bench/results/soak-<time>.json.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import http.client
import io
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bench.env import RESULTS, ROOT, database_url, default_patients, django_env, is_ready, read_meta
from bench.run import cpu_busy, git_revision, make_queries, make_sessions, server_specs, serving

SOAK_DATABASE = "prpclinic_soak"
# What a client does next, by weight: reads dominate, as in a clinic; "chain" is one write step.
MIX = {"search": 30, "chart": 25, "board": 10, "visit": 10, "trace": 10, "chain": 15}
MEMORY_TOLERANCE = 0.10
REQUEST_TIMEOUT_S = 10.0
ACTIVE_PATIENT_SAMPLE = 5000
MEDIA = RESULTS / "soak-media"  # the signed consents' PDFs of a run
TREATMENT = "prp_scalp"


# --- The soak database and its data ----------------------------------------------------------------


def copy_bench_database(source_url: str, name: str) -> str:
    """``name`` afresh as a copy of the bench database; its URL."""
    maintenance = urlunsplit(urlsplit(source_url)._replace(path="/postgres"))
    source = urlsplit(source_url).path.lstrip("/")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        for attempt in range(30):  # the template must have no other session (a benchmark running)
            try:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(source))
                )
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 29:
                    raise SystemExit(f"{source} stays in use by another session; cannot copy it.") from None
                time.sleep(2)
    return urlunsplit(urlsplit(source_url)._replace(path=f"/{name}"))


def drop_database(url: str) -> None:
    maintenance = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        name = urlsplit(url).path.lstrip("/")
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@dataclass
class Plan:
    """What the clients need: sessions, search texts, ids to open, the clinic's devices and lots."""

    csrf: str
    sessions: list[str]
    queries: list[str]
    patient_ids: list[int]  # active patients of the main clinic
    open_visit_ids: list[int]
    centrifuge_id: int
    program_id: int
    tube_lot_id: int
    kit_lot_id: int
    consent_template_id: int  # the current consent form of TREATMENT, as the tablet page shows it
    screening_form: dict[str, str]  # answers that fire no rule of TREATMENT: the patient is eligible
    signature: str  # a drawn signature as the tablet's canvas posts it (PNG data URL)


def eligible_screening_form(treatment: str) -> dict[str, str]:
    """The screening form's POST with the harmless answer to every yes/no question; no dates, no labs."""
    from prpclinic.intake import rules

    form: dict[str, str] = {}
    for question in rules.questions_for(treatment):
        if question.kind == "yes_no":
            firing = {rule.fires_on for rule in rules.rules_for(treatment) if rule.question == question.key}
            form[question.key] = "yes" if firing == {False} else "no"  # "yes" only where "no" fires a rule
    return form


def signature_data_url() -> str:
    """A small real PNG with a stroke of ink on a transparent ground, as the signature canvas exports it."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (300, 100), (0, 0, 0, 0))
    ImageDraw.Draw(image).line((10, 50, 290, 60), fill=(17, 17, 17, 255), width=4)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def prepare(url: str, meta: dict[str, str], env: dict[str, str]) -> Plan:
    """Migrate and collect static files like bench.run; add a centrifuge and lots to the main clinic."""
    os.environ.update(env)
    import django
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)

    from prpclinic.clinics.models import Clinic
    from prpclinic.consents.selectors import current_template
    from prpclinic.patients.models import Patient
    from prpclinic.prp.models import Centrifuge, ConsumableLot, SpinProgram
    from prpclinic.visits.models import Visit

    clinic = Clinic.objects.get(pk=int(meta["main_clinic_id"]))
    today = timezone.localdate()
    centrifuge, _ = Centrifuge.objects.get_or_create(
        clinic=clinic, serial_number="SOAK-1",
        defaults={"name": "Soak room", "make": "Hettich", "model": "EBA 200", "rotor_radius_cm": Decimal("8.6"),
                  "max_rpm": 6000, "calibration_due": today + dt.timedelta(days=90)},
    )  # fmt: skip
    program, _ = SpinProgram.objects.get_or_create(
        clinic=clinic, centrifuge=centrifuge, name="Soak double spin",
        defaults={"spin1_rcf": 200, "spin1_rpm": 1441, "spin1_minutes": 10, "spin2_rcf": 600, "spin2_rpm": 2496,
                  "spin2_minutes": 10},
    )  # fmt: skip
    lots = {}
    for kind, name in (("tube", "Soak citrate tube 9 mL"), ("kit", "Soak PRP kit")):
        lots[kind], _ = ConsumableLot.objects.get_or_create(
            clinic=clinic, kind=kind, product_name=name, lot_number="SOAK-1",
            defaults={"expiry_date": today + dt.timedelta(days=365), "tube_capacity_ml": Decimal("9")},
        )  # fmt: skip
    patient_ids = list(
        Patient.objects.filter(clinic=clinic, is_active=True)
        .order_by("?")
        .values_list("pk", flat=True)[:ACTIVE_PATIENT_SAMPLE]
    )
    open_visits = list(Visit.objects.filter(clinic=clinic, status="open").values_list("pk", flat=True)[:500])
    plan = Plan(
        csrf=get_random_string(32),
        sessions=make_sessions(clinic.pk),
        queries=make_queries(clinic.pk),
        patient_ids=patient_ids,
        open_visit_ids=open_visits,
        centrifuge_id=centrifuge.pk,
        program_id=program.pk,
        tube_lot_id=lots["tube"].pk,
        kit_lot_id=lots["kit"].pk,
        # Written on the clinic's first use of consents, as the tablet page would.
        consent_template_id=current_template(clinic_id=clinic.pk, kind=TREATMENT).pk,
        screening_form=eligible_screening_form(TREATMENT),
        signature=signature_data_url(),
    )
    connection.close()
    return plan


# --- The clients ---------------------------------------------------------------------------------


@dataclass
class Sample:
    op: str
    ms: float


@dataclass
class Shared:
    """What the clients write and the main thread reads."""

    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    product_ids: list[int] = field(default_factory=list)
    visit_ids: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)


class Failed(Exception):
    pass


def iso_ago(minutes: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)).isoformat()


class Client(threading.Thread):
    def __init__(self, number: int, port: int, plan: Plan, shared: Shared) -> None:
        super().__init__(name=f"soak-client-{number}", daemon=True)
        self.port, self.plan, self.shared = port, plan, shared
        self.rng = random.Random(number)
        session = plan.sessions[number % len(plan.sessions)]
        self.cookie = f"sessionid={session}; csrftoken={plan.csrf}"
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
        self.chain: dict[str, Any] = {}
        self.ops = list(MIX)
        self.weights = list(MIX.values())

    def call(
        self, op: str, method: str, path: str, expect: int, *, form: dict[str, Any] | None = None,
        json_body: Any = None, marker: str = "", htmx: bool = False,
    ) -> tuple[http.client.HTTPResponse, bytes]:  # fmt: skip
        headers = {"Cookie": self.cookie}
        body = None
        if form is not None:
            body = urlencode(form | {"csrfmiddlewaretoken": self.plan.csrf}).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        if method == "POST":
            headers["X-CSRFToken"] = self.plan.csrf
        if htmx:
            headers["HX-Request"] = "true"
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.fail(op, f"{method} {path}: {type(exc).__name__}: {exc}")
        ms = (time.perf_counter() - started) * 1000
        with self.shared.lock:
            self.shared.samples.append(Sample(op, ms))
        if response.status != expect or (marker and marker.encode() not in payload):
            self.fail(op, f"{method} {path}: HTTP {response.status} (expected {expect}) {payload[:200]!r}")
        return response, payload

    def fail(self, op: str, message: str) -> NoReturn:
        with self.shared.lock:
            self.shared.error_count += 1
            if len(self.shared.errors) < 50:
                self.shared.errors.append(f"{op}: {message}")
        raise Failed(message)

    def run(self) -> None:
        while not self.shared.stop.is_set():
            op = self.rng.choices(self.ops, self.weights)[0]
            try:
                getattr(self, f"do_{op}")()
            except Failed:
                self.chain = {}
                time.sleep(0.05)

    def do_search(self) -> None:
        query = self.rng.choice(self.plan.queries)
        self.call("search", "POST", "/patients/search/", 200, form={"q": query}, htmx=True)

    def do_chart(self) -> None:
        patient = self.rng.choice(self.plan.patient_ids)
        self.call("chart", "GET", f"/patients/{patient}/", 200, marker='data-testid="patient-head"')

    def do_board(self) -> None:
        self.call("board", "GET", "/prp/board/", 200)

    def do_visit(self) -> None:
        with self.shared.lock:
            recent = self.shared.visit_ids[-200:]
        visit = self.rng.choice(recent or self.plan.open_visit_ids)
        self.call("visit", "GET", f"/visits/{visit}/", 200)

    def do_trace(self) -> None:
        with self.shared.lock:
            recent = self.shared.product_ids[-200:]
        if not recent:
            return self.do_board()
        self.call("trace", "GET", f"/prp/products/{self.rng.choice(recent)}/", 200)
        return None

    def redirected(self, op: str, response: http.client.HTTPResponse, prefix: str) -> int:
        """The id at the end of a redirect into ``prefix``; a redirect elsewhere (a refusal) is an error."""
        location = response.getheader("Location", "")
        if not location.startswith(prefix):
            self.fail(op, f"redirected to {location}, not into {prefix}")
        return int(location.rstrip("/").rsplit("/", 1)[1])

    def do_chain(self) -> None:
        """One step of this client's PRP chain: screening, consent, visit, draw, spin 1, spin 2, prepare,
        verify, apply. Screening and consent come first as at the clinic: a visit starts only with both."""
        chain, plan = self.chain, self.plan
        step = chain.get("next", "screen")
        if step == "screen":
            patient = self.rng.choice(plan.patient_ids)
            path = f"/screening/patient/{patient}/new/{TREATMENT}/"
            response, _ = self.call("chain:screen", "POST", path, 302, form=plan.screening_form)
            self.redirected("chain:screen", response, "/screening/")
            self.chain = {"next": "consent", "patient": patient}
        elif step == "consent":
            form = {
                "template_id": plan.consent_template_id, "signer_relationship": "patient",
                "signer_name": f"Soak Signer {self.rng.randrange(10**6)}", "signature": plan.signature,
            }  # fmt: skip
            path = f"/consents/patients/{chain['patient']}/sign/{TREATMENT}/"
            response, _ = self.call("chain:consent", "POST", path, 302, form=form)
            self.redirected("chain:consent", response, "/consents/")
            chain["next"] = "visit"
        elif step == "visit":
            patient = chain["patient"]
            response, _ = self.call(
                "chain:visit", "POST", f"/visits/start/{patient}/", 302, form={"treatment": TREATMENT}
            )
            visit = self.redirected("chain:visit", response, "/visits/")
            self.chain = {"next": "draw", "patient": patient, "visit": visit}
            with self.shared.lock:
                self.shared.visit_ids.append(visit)
        elif step == "draw":
            draw = {
                "visit_id": chain["visit"], "drawn_at": iso_ago(60), "site": "antecubital_left", "volume_ml": "18",
                "tube_count": 2, "tube_lot_id": plan.tube_lot_id, "kit_lot_id": plan.kit_lot_id,
                "anticoagulant": "sodium_citrate_3_2", "identity_check": "confirmed",
            }  # fmt: skip
            _, payload = self.call("chain:draw", "POST", "/api/prp/draws", 201, json_body=draw)
            product = json.loads(payload)
            chain |= {"next": "spin1", "product": product["id"], "barcode": product["barcode"]}
            chain["mrn"] = product["patient"]["mrn"]
            with self.shared.lock:
                self.shared.product_ids.append(product["id"])
        elif step in ("spin1", "spin2"):
            spin: dict[str, Any] = {"centrifuge_id": plan.centrifuge_id, "program_id": plan.program_id}
            spin["started_at"] = iso_ago(55 if step == "spin1" else 44)
            self.call("chain:spin", "POST", f"/api/prp/products/{chain['product']}/spins", 201, json_body=spin)
            chain["next"] = "spin2" if step == "spin1" else "prepare"
        elif step == "prepare":
            prepare = {"prepared_at": iso_ago(30), "volume_ml": "3.0"}
            self.call("chain:prepare", "POST", f"/api/prp/products/{chain['product']}/prepare", 200, json_body=prepare)
            chain["next"] = "verify"
        elif step == "verify":
            codes = {"patient_code": f"PT-{chain['mrn']}", "product_code": chain["barcode"]}
            self.call("verify", "POST", "/prp/verify/", 200, form=codes, marker="Match")
            chain["next"] = "apply"
        else:
            zones = {"patient_id": chain["patient"], "zone_0": "vertex", "volume_0": "2.5"}
            self.call("chain:apply", "POST", f"/prp/products/{chain['product']}/apply/", 302, form=zones)
            self.chain = {}


# --- Memory ----------------------------------------------------------------------------------------


def server_group(port: int) -> int:
    """The process group of the server answering on ``port`` (its master is the group leader)."""
    wanted = {f"127.0.0.1:{port}".encode(), str(port).encode()}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
            pid = int(entry.name)
            if wanted & set(args) and os.getpgid(pid) == pid:
                return pid
        except (OSError, ProcessLookupError):
            continue
    raise SystemExit(f"no server process found for port {port}")


def group_rss_kb(group: int) -> tuple[int, int]:
    """Resident memory (kB) summed over the group's processes, and how many there are."""
    total = count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != group:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    count += 1
        except (OSError, ProcessLookupError):
            continue
    return total, count


@dataclass
class MemorySample:
    t: float  # seconds since the start
    rss_mb: float
    processes: int


def watch_memory(group: int, started: float, every: float, stop: threading.Event, out: list[MemorySample]) -> None:
    while not stop.is_set():
        rss, count = group_rss_kb(group)
        out.append(MemorySample(round(time.monotonic() - started, 1), round(rss / 1024, 1), count))
        stop.wait(every)


def memory_verdict(samples: list[MemorySample], seconds: float) -> tuple[bool, str]:
    """Mean RSS of the last window against an early window after warm-up."""
    if seconds >= 180:
        early, late = (60.0, 120.0), (seconds - 60, seconds)
        names = "second minute", "last minute"
    else:
        early, late = (seconds / 4, seconds / 2), (seconds * 3 / 4, seconds)
        names = "second quarter", "last quarter"

    def mean(window: tuple[float, float]) -> float:
        values = [s.rss_mb for s in samples if window[0] <= s.t < window[1] + 0.01]
        return statistics.fmean(values) if values else float("nan")

    first, last = mean(early), mean(late)
    change = (last - first) / first
    steady = abs(change) <= MEMORY_TOLERANCE
    return steady, (
        f"server RSS {names[0]} {first:.0f} MB, {names[1]} {last:.0f} MB ({change:+.1%}; "
        f"limit ±{MEMORY_TOLERANCE:.0%}): {'steady' if steady else 'NOT STEADY'}"
    )


# --- Report ----------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


@dataclass
class OpResult:
    op: str
    requests: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def summarise(samples: list[Sample], seconds: float) -> list[OpResult]:
    groups: dict[str, list[float]] = {}
    for s in samples:
        groups.setdefault(s.op, []).append(s.ms)
    groups["all"] = [s.ms for s in samples]
    results = []
    for op, values in groups.items():
        results.append(
            OpResult(
                op,
                len(values),
                len(values) / seconds,
                percentile(values, 50),
                percentile(values, 95),
                percentile(values, 99),
                max(values) if values else float("nan"),
            )
        )
    return sorted(results, key=lambda r: (r.op == "all", -r.requests))


def log_errors(path: Path) -> list[str]:
    """ERROR and CRITICAL lines the server wrote (JSON or text)."""
    found = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            level = json.loads(line).get("level", "")
        except (json.JSONDecodeError, AttributeError):
            level = "ERROR" if "[ERROR]" in line or "[CRITICAL]" in line or "Traceback" in line else ""
        if level in ("ERROR", "CRITICAL"):
            found.append(line[:300])
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--server", choices=["gunicorn", "granian"], default="gunicorn")
    parser.add_argument("--patients", type=int, default=default_patients())
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--granian-workers", type=int, default=2)
    parser.add_argument("--granian-threads", type=int, default=2)
    parser.add_argument("--log-level", default="INFO", help="the server's LOG_LEVEL (INFO: access lines on)")
    parser.add_argument("--sample-seconds", type=float, default=5.0, help="how often to sample memory")
    parser.add_argument("--keep-db", action="store_true", help=f"keep the {SOAK_DATABASE} copy afterwards")
    args = parser.parse_args(argv)
    seconds = args.minutes * 60

    source = database_url()
    if not is_ready(read_meta(source), args.patients):
        subprocess.run([sys.executable, "-m", "bench.generate", "--patients", str(args.patients)], cwd=ROOT, check=True)
    meta = read_meta(source) or {}
    print(f"Copying {urlsplit(source).path.lstrip('/')} to {SOAK_DATABASE}...", flush=True)
    url = copy_bench_database(source, SOAK_DATABASE)
    RESULTS.mkdir(parents=True, exist_ok=True)
    env = django_env(url=url, secret_key=secrets.token_urlsafe(50), audit_key=meta["audit_key"])
    env |= {"LOG_LEVEL": args.log_level.upper(), "LOG_FORMAT": "json", "STATIC_ROOT": str(RESULTS / "soak-static")}
    shutil.rmtree(MEDIA, ignore_errors=True)  # the last run's consent PDFs belong to a dropped database
    env["MEDIA_ROOT"] = str(MEDIA)
    try:
        plan = prepare(url, meta, env)
        spec = server_specs(args.gunicorn_workers, args.granian_workers, args.granian_threads)[args.server]
        log_path = RESULTS / "soak-server.log"
        background = cpu_busy()
        print(
            f"prpclinic {git_revision()} soak: {args.minutes:g} min, {args.clients} clients, {spec.label}, "
            f"{int(meta['patients_total']):,} patients; {os.cpu_count()} CPUs shared with the clients "
            f"({background:.0%} busy with other programs before the start).",
            flush=True,
        )
        with serving(spec, dict(os.environ) | env, log_path) as port:
            group = server_group(port)
            shared = Shared()
            memory: list[MemorySample] = []
            started = time.monotonic()
            watcher_stop = threading.Event()
            watcher = threading.Thread(
                target=watch_memory, args=(group, started, args.sample_seconds, watcher_stop, memory), daemon=True
            )
            watcher.start()
            clients = [Client(n, port, plan, shared) for n in range(args.clients)]
            for client in clients:
                client.start()
            next_report = 60.0
            while (elapsed := time.monotonic() - started) < seconds:
                time.sleep(min(1.0, seconds - elapsed))
                if time.monotonic() - started >= next_report:
                    with shared.lock:
                        done, errors = len(shared.samples), shared.error_count
                    rss = memory[-1].rss_mb if memory else float("nan")
                    print(
                        f"  {next_report / 60:.0f} min: {done:,} requests, {errors} errors, RSS {rss:.0f} MB",
                        flush=True,
                    )
                    next_report += 60
            shared.stop.set()
            for client in clients:
                client.join(timeout=REQUEST_TIMEOUT_S + 5)
            duration = time.monotonic() - started
            watcher_stop.set()
            watcher.join()
            memory.append(MemorySample(round(duration, 1), round(group_rss_kb(group)[0] / 1024, 1), 0))
    finally:
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            drop_database(url)

    results = summarise(shared.samples, duration)
    server_errors = log_errors(log_path)
    steady, memory_text = memory_verdict(memory, duration)
    errors = shared.error_count + len(server_errors)
    lines = [f"  {'request':<14} {'count':>8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"]
    for r in results:
        lines.append(
            f"  {r.op:<14} {r.requests:>8,} {r.rps:>8.1f} {r.p50_ms:>8.1f} {r.p95_ms:>8.1f} {r.p99_ms:>8.1f}"
            f" {r.max_ms:>8.0f}"
        )
    print("\n".join(lines))
    by_minute: dict[int, list[float]] = {}
    for s in memory:
        by_minute.setdefault(int(s.t // 60), []).append(s.rss_mb)
    print(
        "  server RSS by minute (MB): " + ", ".join(f"{statistics.fmean(v):.0f}" for _, v in sorted(by_minute.items()))
    )
    print(f"  {memory_text}")
    print(f"  errors: {shared.error_count} from the clients, {len(server_errors)} ERROR lines in {log_path.name}")
    for message in (shared.errors + server_errors)[:10]:
        print(f"    {message}")
    ok = errors == 0 and steady
    print(f"Soak {'PASSED' if ok else 'FAILED'}.")

    report = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "revision": git_revision(),
        "minutes": args.minutes,
        "clients": args.clients,
        "server": spec.label,
        "cpus": os.cpu_count(),
        "background_cpu_busy": round(background, 3),
        "mix": MIX,
        "results": [asdict(r) for r in results],
        "memory": [asdict(s) for s in memory],
        "memory_verdict": memory_text,
        "client_errors": shared.error_count,
        "server_error_lines": len(server_errors),
        "error_samples": (shared.errors + server_errors)[:20],
        "passed": ok,
    }
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"soak-{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"Results: {(RESULTS / f'soak-{stamp}.json').relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
