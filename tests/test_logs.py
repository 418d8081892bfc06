"""Logs: JSON lines with a request ID, one access line per request, and no patient data.

The main test serves the app under gunicorn with production settings (DEBUG off, JSON logs,
gunicorn's own log through ``prpclinic.logs.GUNICORN_LOGCONFIG``) on a scratch database,
drives the main pages as signed-in staff (a visit refused for want of screening and consent,
the screening, consents signed on the tablet by the patient and by a representative with a
witness, the visit with its PRP chain, a wrong-patient scan, a charted zone, completion, the
aftercare handout printed and e-mailed), the public information pages and questionnaire (a
patient's name, date of birth and contact details typed in by the patient, then filed by a
nurse), the API, 404s and a forced 500 (an IntegrityError whose PostgreSQL DETAIL names the
record number), and then reads every line the server wrote. The settings differ from
production in three ways only: static files are hashed without compression (compressing the
API docs' bundle takes half a minute), one extra URL raises the 500, and uploaded files (the
signed consents' PDFs) go to the test's scratch folder.

The helpers at the top (scratch database, app environment, server, browser) are shared with
tests/test_crash_safety.py.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.test import Client
from django_otp.oath import totp

from prpclinic import logs

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PASSWORD = "correct horse battery staple 42"

# --- Harness: scratch database, app environment, server, browser ---------------------------------


def postgres_url() -> str | None:
    """The suite's PostgreSQL server (DATABASE_URL), or None when the suite runs on SQLite."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


@contextmanager
def scratch_database(tmp_path: Path, label: str) -> Iterator[str]:
    """A new empty database for a server under test: PostgreSQL when the suite uses it, else a
    SQLite file. The PostgreSQL one (``prpclinic_<label>_<random>``) is dropped afterwards."""
    base = postgres_url()
    if base is None:
        yield f"sqlite:///{tmp_path / f'{label}.sqlite3'}"
        return
    import psycopg
    from psycopg import sql

    name = f"prpclinic_{label}_{secrets.token_hex(4)}"
    maintenance = urlunsplit(urlsplit(base)._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


SETTINGS_MODULE = """
from prpclinic.settings import *  # noqa: F403

# Hashed names and a manifest as in production, without the slow compression step.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}}
"""


@dataclass
class App:
    """Production settings on a scratch database, for ``prpclinic`` commands and servers."""

    env: dict[str, str]
    workdir: Path

    def command(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "prpclinic.cli", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return result

    def python(self, code: str, *, timeout: float = 120) -> Any:
        """Run ``code`` with Django set up; its last line of output, read as JSON."""
        prologue = "import django\ndjango.setup()\n"
        result = subprocess.run(
            [sys.executable, "-c", prologue + code],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])


def make_app(
    tmp_path: Path, database_url: str, *, settings_extra: str = "", extra_files: dict[str, str] | None = None
) -> App:
    """Write the settings module, migrate the scratch database and collect static files."""
    package = tmp_path / "app_settings"
    package.mkdir()
    (package / "scratch_settings.py").write_text(SETTINGS_MODULE + settings_extra)
    for name, text in (extra_files or {}).items():
        (package / name).write_text(text)
    drop = ("PRPCLINIC_TESTING", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "LOG_FORMAT", "LOG_LEVEL", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        DJANGO_SETTINGS_MODULE="scratch_settings",
        PYTHONPATH=str(package),
        DEBUG="0",
        SECRET_KEY="scratch-server-secret-key-" + secrets.token_urlsafe(32),
        AUDIT_HMAC_KEY="scratch-server-audit-key-" + secrets.token_urlsafe(32),
        SECURE_SSL="0",
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=database_url,
        STATIC_ROOT=str(tmp_path / "static"),
        MEDIA_ROOT=str(tmp_path / "media"),  # signed consents' PDFs: never the checkout's var/media
        LOG_LEVEL="INFO",
    )
    app = App(env=env, workdir=tmp_path)
    for args in (("migrate", "--noinput"), ("collectstatic", "--noinput")):
        result = app.command(*args)
        assert result.returncode == 0, result.stdout + result.stderr
    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """gunicorn serving ``app`` on one port, in its own process group (killed as a whole)."""

    app: App
    log_path: Path
    workers: int = 2
    extra_args: tuple[str, ...] = ()
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> None:
        command = [
            str(VENV_BIN / "gunicorn"),
            "prpclinic.wsgi:application",
            *("--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers)),
            *("--no-control-socket", "--graceful-timeout", "5", *self.extra_args),
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.app.env, stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            try:
                if Browser(self.port).request("GET", "/healthz", timeout=2).status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not answer within {timeout} s:\n{self.log_path.read_text()}")
            time.sleep(0.1)

    def pids(self) -> list[int]:
        """The master and its workers: every process of the group."""
        assert self.process is not None
        group = os.getpgid(self.process.pid) if self.process.poll() is None else self.process.pid
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if os.getpgid(int(entry.name)) == group:
                        found.append(int(entry.name))
                except (ProcessLookupError, PermissionError):
                    continue
        return found

    def kill(self) -> None:
        """SIGKILL to the master and every worker at once, as a power cut or the OOM killer would."""
        assert self.process is not None
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        deadline = time.monotonic() + 10
        while self.pids() and time.monotonic() < deadline:  # workers reparented to init die a moment later
            time.sleep(0.05)

    def stop(self) -> None:
        """A graceful stop (SIGTERM to the group), so that the last lines reach the log."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
        except ProcessLookupError:
            pass


@dataclass
class Reply:
    method: str
    path: str  # without the query string
    status: int
    headers: dict[str, str]
    body: bytes
    sent_request_id: str | None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


class Browser:
    """A cookie-keeping HTTP client that sends Django's CSRF token with every unsafe request."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.replies: list[Reply] = []

    def request(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, Any] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        request_id: str | None = None,
        timeout: float = 20,
    ) -> Reply:
        sent = {"Host": f"127.0.0.1:{self.port}"} | (headers or {})
        csrf = self.cookies.get("csrftoken")
        body: bytes | None = None
        if form is not None:
            data = dict(form)
            if csrf:
                data.setdefault("csrfmiddlewaretoken", csrf)
            body = urlencode(data, doseq=True).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            sent["Content-Type"] = "application/json"
        if method not in ("GET", "HEAD") and csrf:
            sent.setdefault("X-CSRFToken", csrf)
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if request_id is not None:
            sent["X-Request-ID"] = request_id
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            payload = response.read()
            cookies = response.headers.get_all("Set-Cookie") or []
            headers_in = {k.lower(): v for k, v in response.getheaders()}
        finally:
            conn.close()
        for raw in cookies:
            jar: SimpleCookie = SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        reply = Reply(method, path.split("?", 1)[0], response.status, headers_in, payload, request_id)
        self.replies.append(reply)
        return reply


# --- Unit tests of prpclinic.logs ------------------------------------------------------------------

REDACTION_CASES = [
    (
        'duplicate key value violates unique constraint "patient_mrn_unique_per_clinic"\n'
        "DETAIL:  Key (clinic_id, mrn)=(1, A000001) already exists.",
        ["A000001"],
    ),
    (
        'null value in column "sex" violates not-null constraint\nDETAIL:  Failing row contains (7, Anna, Berger).',
        ["Anna"],
    ),
    ("Key (clinic_id, mrn)=(1, X-77) already exists.", ["X-77"]),
    ('invalid input syntax for type date: "1985-30-04"', ["1985-30-04"]),
    ("“30.02.1985” value has an invalid date format.", ["30.02.1985"]),
    ("Field 'id' expected a number but got 'Anna Berger'.", ["Anna Berger"]),
    ("mail to anna.berger+prp@example.co.uk failed", ["anna.berger", "example.co.uk"]),
    ("born 1985-04-30, or 30.04.1985, or 30/04/1985", ["1985-04-30", "30.04.1985", "30/04/1985"]),
    ("call +43 660 1234567 or 0660/1234567 or 0043 660 1234567", ["1234567"]),
    ("scanned PT-L000012 for L000013", ["L000012", "L000013"]),
]


@pytest.mark.parametrize(("text", "secrets_in_it"), REDACTION_CASES)
def test_redact_removes_known_kinds_of_patient_data(text: str, secrets_in_it: list[str]) -> None:
    redacted = logs.redact(text)
    for secret in secrets_in_it:
        assert secret not in redacted, redacted


def test_redact_keeps_what_is_needed_to_debug() -> None:
    text = (
        'duplicate key value violates unique constraint "patient_mrn_unique_per_clinic" '
        "GET /patients/12/ 500 from 127.0.0.1:8000 in 12.5 ms, product PRP-ABCDEFGH, worker 4711"
    )
    assert logs.redact(text) == text


def _record(msg: str, *args: Any, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("prpclinic.test", logging.ERROR, __file__, 1, msg, args, exc_info)


def test_the_redact_filter_rewrites_message_args_and_traceback() -> None:
    try:
        raise ValueError("cannot e-mail anna@example.org\nDETAIL:  Key (clinic_id, mrn)=(1, A000001) already exists.")
    except ValueError as exc:
        record = _record("failed for %s on %s", "anna@example.org", "1985-04-30", exc=exc)
    assert logs.RedactFilter().filter(record)
    assert record.getMessage() == "failed for [email] on [date]"
    assert record.exc_text is not None
    assert "ValueError: cannot e-mail [email]" in record.exc_text and "A000001" not in record.exc_text


def test_the_json_formatter_writes_one_object_per_line_with_request_fields() -> None:
    token = logs.request_id_var.set("abc123")
    try:
        try:
            raise KeyError("x")
        except KeyError as exc:
            record = _record("two\nlines %s", "ok", exc=exc)
        logs.RequestIdFilter().filter(record)
        logs.RedactFilter().filter(record)
    finally:
        logs.request_id_var.reset(token)
    record.method, record.path, record.status = "POST", "/patients/new/", 500  # as the access line sets them
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "two\nlines ok" and entry["request_id"] == "abc123"
    assert entry["level"] == "ERROR" and entry["logger"] == "prpclinic.test"
    assert entry["time"].endswith("Z") and dt.datetime.fromisoformat(entry["time"])
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/patients/new/", 500)
    assert entry["exc_type"] == "builtins.KeyError" and "Traceback" in entry["traceback"]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("3f2a9c1e-7b4d-4e8a-9f00-123456789abc", True),
        ("Root=1-5759e988-bd862e3fe1be46a994272793", True),
        ("has spaces", False),
        ("anna@example.org", False),
        ("x" * 129, False),
        ("", False),
    ],
)
def test_a_caller_request_id_is_kept_only_if_it_is_sane(sent: str, kept: bool) -> None:
    assert (logs.sane_request_id(sent) == sent) is kept


def test_reset_tokens_and_control_characters_do_not_reach_the_log() -> None:
    assert logs.loggable_path("/account/reset/MQ/cdx-0123abc/") == "/account/reset/[token]/"
    assert logs.loggable_path("/x\n/y") == "/x?/y"
    assert len(logs.loggable_path("/" + "a" * 1000)) <= logs.MAX_LOGGED_PATH + 3


def test_patient_link_and_calendar_feed_tokens_do_not_reach_the_log() -> None:
    assert logs.loggable_path("/r/Zx9-aB_c0123456789/") == "/r/[token]/"
    assert logs.loggable_path("/r/Zx9-aB_c0123456789/confirm/") == "/r/[token]/confirm/"
    assert logs.loggable_path("/r/feed/Zx9-aB_c0123456789.ics") == "/r/feed/[token].ics"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(logs.RequestIdFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def access_records() -> Iterator[list[logging.LogRecord]]:
    handler = _Collect()
    logs.access_logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logs.access_logger.removeHandler(handler)


def test_the_middleware_returns_the_callers_id_and_logs_one_access_line(
    db: Any, access_records: list[logging.LogRecord]
) -> None:
    response = Client().get("/healthz?q=Anna", headers={"X-Request-ID": "caller-id-0001"})
    assert response["X-Request-ID"] == "caller-id-0001"
    (record,) = access_records
    fields = {k: getattr(record, k) for k in ("request_id", *logs.EXTRA_FIELDS)}
    assert fields | {"duration_ms": 0} == {
        "request_id": "caller-id-0001",
        "method": "GET",
        "path": "/healthz",
        "status": 200,
        "duration_ms": 0,
        "user_id": None,
        "clinic_id": None,
    }
    assert fields["duration_ms"] >= 0 and "Anna" not in record.getMessage()


def test_the_middleware_replaces_an_id_that_is_not_sane(db: Any, access_records: list[logging.LogRecord]) -> None:
    response = Client().get("/healthz", headers={"X-Request-ID": "not sane\ttext"})
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
    assert getattr(access_records[0], "request_id", None) == response["X-Request-ID"]


def test_every_handler_in_settings_redacts_and_sql_is_never_logged() -> None:
    config = settings.LOGGING
    for name, handler in config["handlers"].items():
        assert {"request_id", "redact"} <= set(handler.get("filters", [])), name
    code = (
        "import logging, django; django.setup(); "
        "print(logging.getLogger('django.db.backends').getEffectiveLevel(), "
        "logging.getLogger('django.template').getEffectiveLevel())"
    )
    env = {k: v for k, v in os.environ.items() if k != "PRPCLINIC_TESTING"}
    env.update(DJANGO_SETTINGS_MODULE="prpclinic.settings", DEBUG="1", LOG_LEVEL="DEBUG", PRPCLINIC_TESTING="1")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert [int(x) for x in result.stdout.split()] == [logging.INFO, logging.INFO]


def test_an_unknown_log_format_stops_start_up() -> None:
    env = os.environ | {"DJANGO_SETTINGS_MODULE": "prpclinic.settings", "PRPCLINIC_TESTING": "1", "LOG_FORMAT": "xml"}
    code = "import django; django.setup()"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode != 0 and "LOG_FORMAT must be json or text" in result.stderr


# --- The whole app under gunicorn --------------------------------------------------------------------

BOOM_URLS = """
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from prpclinic.patients.models import Patient


def boom(request: HttpRequest, patient_id: int) -> HttpResponse:
    # A bug as it happens: inserting a record that exists (IntegrityError on (clinic_id, mrn)).
    patient = Patient.objects.get(pk=patient_id)
    patient.pk = None
    patient.save(force_insert=True)
    return HttpResponse("unreachable")


urlpatterns = [path("boom/<int:patient_id>/", boom), path("", include("prpclinic.urls"))]
"""

# The clinic's centrifuge, program and lots, in the setup scripts of this test and the crash test
# (needs `clinic`, `timezone`, `Decimal`, `dt` and the prp models imported before it).
PRP_DEVICE_AND_LOTS = """
today = timezone.localdate()
centrifuge = Centrifuge.objects.create(
    clinic=clinic, name="Room 1", make="Hettich", model="EBA 200", serial_number="SN-1",
    rotor_radius_cm=Decimal("8.6"), max_rpm=6000, calibration_due=today + dt.timedelta(days=90),
)
program = SpinProgram.objects.create(
    clinic=clinic, centrifuge=centrifuge, name="Double spin", spin1_rcf=200, spin1_rpm=1441,
    spin1_minutes=10, spin2_rcf=600, spin2_rpm=2496, spin2_minutes=10,
)
tube = ConsumableLot.objects.create(
    clinic=clinic, kind="tube", product_name="Citrate tube 9 mL", lot_number="T-1",
    expiry_date=today + dt.timedelta(days=200), tube_capacity_ml=Decimal("9"),
)
kit = ConsumableLot.objects.create(
    clinic=clinic, kind="kit", product_name="PRP kit", lot_number="K-1",
    expiry_date=today + dt.timedelta(days=200), tube_capacity_ml=Decimal("10"),
)
"""

SETUP = (
    """
import json
from decimal import Decimal
import datetime as dt
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from prpclinic.clinics.models import Clinic, Membership, User
from prpclinic.patients.models import Patient
from prpclinic.prp.models import Centrifuge, ConsumableLot, SpinProgram

PASSWORD = %(password)r
clinic = Clinic.objects.create(name="Log Test Clinic", slug="log-test", timezone="UTC", mrn_prefix="Q")
nurse = User.objects.create_user("nurse.logtest@clinic.example", PASSWORD, full_name="Nadia Logtest")
Membership.objects.create(clinic=clinic, user=nurse, role="nurse")
admin = User.objects.create_user("admin.logtest@clinic.example", PASSWORD, full_name="Adam Logtest")
Membership.objects.create(clinic=clinic, user=admin, role="clinic_admin")
device = TOTPDevice.objects.create(user=admin, name="test", confirmed=True)
patients = []
for values in %(patients)r:
    born = dt.date.fromisoformat(values.pop("born"))
    patient = Patient(clinic=clinic, date_of_birth=born, **values)
    patient.full_clean()
    patient.save()
    patients.append(patient.pk)
"""
    + PRP_DEVICE_AND_LOTS
    + """print(json.dumps({
    "clinic": clinic.pk, "nurse": nurse.pk, "admin": admin.pk, "totp_key": device.key,
    "patients": patients, "centrifuge": centrifuge.pk, "program": program.pk, "tube": tube.pk, "kit": kit.pk,
}))
"""
)

DUMP_PATIENTS = """
import json
from prpclinic.patients.models import Patient
print(json.dumps([
    {"given": p.given_name, "family": p.family_name, "mrn": p.mrn, "born": p.date_of_birth.isoformat(),
     "phone": p.phone, "email": p.email, "address": p.address}
    for p in Patient.objects.all()
]))
"""

# Distinctive values, so that a hit in the log can only be a leak.
PATIENTS = [
    {
        "mrn": "Q900001",
        "given_name": "Xaverine",
        "family_name": "Quintanilla-Obst",
        "born": "1979-11-23",
        "sex": "female",
        "phone": "+43 660 7654321",
        "email": "xaverine.quintanilla@example.org",
        "address": "Lindengasse 7, 1070 Wien",
    },
    {
        "mrn": "QX-77",  # a record number given by hand, in no generated format
        "given_name": "Ottokar",
        "family_name": "Brunnhuber",
        "born": "1966-02-14",
        "sex": "male",
        "phone": "0664 1122334",
        "email": "o.brunnhuber@example.net",
        "address": "Am Hof 3, 1010 Wien",
    },
]
REGISTERED = {  # registered through the page during the test
    "given_name": "Wilhelmina",
    "family_name": "Zauchensee",
    "date_of_birth": "05.07.1990",
    "sex": "female",
    "phone": "+49 151 99887766",
    "email": "w.zauchensee@example.com",
    "address": "Getreidegasse 9, 5020 Salzburg",
}
NEW_PHONE = "+43 676 5554433"
# Sent by the patient through the public questionnaire, then filed by a nurse as a new patient.
QUESTIONNAIRE = {
    "given_name": "Philippa",
    "family_name": "Kranewitter",
    "date_of_birth": "1971-08-19",
    "sex": "female",
    "phone": "+43 699 31415926",
    "email": "p.kranewitter@example.at",
    "website": "",
}
# Typed on the consent tablet: a legal representative signing for the patient, and a witness.
REPRESENTATIVE = "Konstantin Ebenhoech-Pfaff"
WITNESS = "Hildegard Moosbrugger"


def screening_form(treatment: str, **answers: Any) -> dict[str, str]:
    """The staff (and public) questionnaire's POST: harmless answers, changed by ``answers``."""
    from tests.intake_helpers import form_data

    return form_data(treatment, **answers)


def signature() -> str:
    """A small real PNG with ink, as a data URL: what the tablet's signature box posts."""
    from tests.factories_consents import signature_data_url

    return signature_data_url()


def hidden_value(page: str, name: str) -> str:
    """The value of the form field ``name`` on a page (a hidden input such as template_id)."""
    match = re.search(rf'name="{name}" value="([^"]*)"', page) or re.search(rf'value="([^"]*)" name="{name}"', page)
    assert match, f"no field {name} on the page"
    return match.group(1)


def last_id(location: str) -> int:
    """The id at the end of a redirect's path (/visits/12/ -> 12)."""
    return int(location.rstrip("/").rsplit("/", 1)[1])


def forbidden_strings(
    patients: list[dict[str, str]], staff_emails: list[str], people: tuple[str, ...] = ()
) -> set[str]:
    """Every way a patient's identity could appear: names, MRN, date of birth, contact details;
    and the names of other ``people`` typed in (signers, witnesses), whole and by part."""
    found: set[str] = set(staff_emails)
    for name in people:
        found |= {name, *name.replace("-", " ").split()}
    for p in patients:
        born = dt.date.fromisoformat(p["born"])
        found |= {p["given"], p["family"], p["mrn"], p["email"], p["phone"], p["address"].split(",")[0]}
        found |= {born.isoformat(), born.strftime("%d.%m.%Y"), born.strftime("%d/%m/%Y"), born.strftime("%m/%d/%Y")}
        digits = re.sub(r"\D", "", p["phone"])
        if len(digits) >= 7:
            found |= {digits, digits[-7:]}
    return {s.lower() for s in found if s}


def local_minutes_ago(minutes: float) -> str:
    """A datetime-local input value in the clinic's zone (UTC for the test clinic)."""
    when = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)
    return when.strftime("%Y-%m-%dT%H:%M")


class Ids:
    """Request IDs the test sends, so that each request's log lines can be found."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"logtest-{self.n:03d}-{secrets.token_hex(4)}"


def sign_in(browser: Browser, email: str, next_id: Ids, *, totp_key: str | None = None) -> None:
    assert browser.request("GET", "/account/login/", request_id=next_id()).status == 200
    wrong = browser.request(
        "POST", "/account/login/", form={"username": email, "password": "not it"}, request_id=next_id()
    )
    assert wrong.status == 200
    signed = browser.request(
        "POST", "/account/login/", form={"username": email, "password": PASSWORD}, request_id=next_id()
    )
    assert signed.status == 302, signed.text[:2000]
    if totp_key is not None:
        assert browser.request("GET", "/account/two-factor/", request_id=next_id()).status == 200
        code = f"{totp(bytes.fromhex(totp_key), step=30, t0=0, digits=6):06d}"
        done = browser.request("POST", "/account/two-factor/", form={"token": code}, request_id=next_id())
        assert done.status == 302, done.text[:2000]


def drive_the_main_pages(port: int, ids: dict[str, Any], next_id: Ids) -> tuple[list[Reply], Reply]:
    """What a nurse and an admin do in a day, through the real pages; returns every reply and the 500."""
    p1, p2 = ids["patients"]
    mrn1, mrn2 = PATIENTS[0]["mrn"], PATIENTS[1]["mrn"]

    # A patient at home: the clinic's information pages, then the pre-visit questionnaire
    # (a refused date of birth first, then sent), without signing in.
    patient = Browser(port)
    public = "/info/log-test/prp_scalp/screening/"
    for path in ("/info/log-test/", "/info/log-test/prp_scalp/", public):
        assert patient.request("GET", path, request_id=next_id()).status == 200
    sent = QUESTIONNAIRE | screening_form("prp_scalp")
    wrong_date = patient.request("POST", public, form=sent | {"date_of_birth": "19.08.2971"}, request_id=next_id())
    assert wrong_date.status == 400
    thanks = patient.request("POST", public, form=sent, request_id=next_id())
    assert thanks.status == 302, thanks.text[:3000]
    assert patient.request("GET", thanks.location, request_id=next_id()).status == 200

    nurse = Browser(port)

    def get(path: str, **kwargs: Any) -> Reply:
        return nurse.request("GET", path, request_id=next_id(), **kwargs)

    def post(path: str, **kwargs: Any) -> Reply:
        return nurse.request("POST", path, request_id=next_id(), **kwargs)

    assert get("/healthz").status == 200
    sign_in(nurse, "nurse.logtest@clinic.example", next_id)
    assert get("/").status == 200
    assert get("/patients/").status == 200
    htmx = {"HX-Request": "true"}
    for query in ("Quintan", mrn1, "23.11.1979", "1979-11-23", "brunnh xav", "+43 660 7654321"):
        assert post("/patients/search/", form={"q": query}, headers=htmx).status == 200
    assert post("/patients/search/", form={"q": "Ottokar"}).status == 200
    assert get(f"/patients/{p1}/").status == 200
    assert get(f"/patients/{p2}/").status == 200
    assert get("/patients/new/").status == 200
    assert post("/patients/new/", form=REGISTERED | {"date_of_birth": "31.02.1990"}).status == 400
    registered = post("/patients/new/", form=REGISTERED)
    assert registered.status == 302, registered.text[:3000]
    assert get(registered.location).status == 200
    assert get(f"/patients/{p1}/edit/").status == 200
    edit = {k: v for k, v in PATIENTS[0].items() if k != "born"} | {"date_of_birth": PATIENTS[0]["born"]}
    assert post(f"/patients/{p1}/edit/", form=edit | {"phone": NEW_PHONE}).status == 302

    # Issue #4: no visit without an eligible screening and a valid consent for the treatment.
    refused = post(f"/visits/start/{p1}/", form={"treatment": "prp_scalp"})
    assert refused.status == 302 and refused.location == f"/patients/{p1}/"
    assert "No screening for PRP for hair loss on record" in get(refused.location).text
    screen_path = f"/screening/patient/{p1}/new/prp_scalp/"
    assert get(screen_path).status == 200
    unanswered = {k: v for k, v in screening_form("prp_scalp").items() if k != "accepts_risk"}
    assert post(screen_path, form=unanswered).status == 400
    labs = {"platelets": {"value": "240", "date": local_minutes_ago(60 * 24 * 3)[:10]}}
    screened = post(
        screen_path, form=screening_form("prp_scalp", nsaid_last=local_minutes_ago(60 * 24 * 10)[:10], **labs)
    )
    assert screened.status == 302 and screened.location.startswith("/screening/"), screened.text[:3000]
    assert "Eligible" in get(screened.location).text
    sign_path = f"/consents/patients/{p1}/sign/prp_scalp/"
    template_id = hidden_value(get(sign_path).text, "template_id")
    consent_form = {"template_id": template_id, "signer_relationship": "patient", "signature": signature()}
    consent_form["signer_name"] = f"{PATIENTS[0]['given_name']} {PATIENTS[0]['family_name']}"
    assert post(sign_path, form=consent_form | {"signature": ""}).status == 400  # no ink: nothing stored
    signed_consent = post(sign_path, form=consent_form)
    assert signed_consent.status == 302, signed_consent.text[:3000]
    assert get(signed_consent.location).status == 200
    pdf = get(f"{signed_consent.location}pdf/")
    assert pdf.status == 200 and pdf.body.startswith(b"%PDF") and pdf.headers["cache-control"] == "no-store"
    photo_path = f"/consents/patients/{p1}/sign/photography/"
    photo_form = {
        "template_id": hidden_value(get(photo_path).text, "template_id"), "signer_relationship": "representative",
        "signer_name": REPRESENTATIVE, "signature": signature(), "photo_uses": ["clinical_record", "teaching"],
        "witness_name": WITNESS, "witness_signature": signature(),
    }  # fmt: skip
    assert post(photo_path, form=photo_form | {"witness_signature": ""}).status == 400
    assert post(photo_path, form=photo_form).status == 302
    assert get(f"/consents/patients/{p1}/").status == 200

    started = post(f"/visits/start/{p1}/", form={"treatment": "prp_scalp"})
    assert started.status == 302 and started.location.startswith("/visits/"), started.location
    visit_path = started.location
    assert get(visit_path).status == 200
    visit_id = last_id(visit_path)
    drawn = post(
        f"/prp/draw/{visit_id}/",
        form={
            "identity_check": "scan", "scanned_code": f"PT-{mrn1}", "drawn_at": local_minutes_ago(60),
            "site": "antecubital_left", "volume_ml": "18", "tube_count": "2", "tube_lot": ids["tube"],
            "kit_lot": ids["kit"], "anticoagulant": "sodium_citrate_3_2", "platelets_k_per_ul": "240",
        },
    )  # fmt: skip
    assert drawn.status == 302, drawn.text[:3000]
    page = get(visit_path).text
    product_id = int(re.search(r"/prp/products/(\d+)/", page).group(1))  # type: ignore[union-attr]
    barcode = re.search(r"PRP-[2-9A-HJ-NP-Z]{8}", page).group(0)  # type: ignore[union-attr]
    for minutes in (55, 44):
        spun = post(
            f"/prp/products/{product_id}/spin/",
            form={"centrifuge": ids["centrifuge"], "program": ids["program"], "started_at": local_minutes_ago(minutes)},
        )
        assert spun.status == 302, spun.text[:3000]
    prepared = post(
        f"/prp/products/{product_id}/prepare/",
        form={"prepared_at": local_minutes_ago(30), "volume_ml": "3.0", "activation": "none"},
    )
    assert prepared.status == 302, prepared.text[:3000]
    assert get(f"/prp/products/{product_id}/labels/").status == 200
    assert get(f"/prp/patients/{p1}/wristband/").status == 200
    assert get("/prp/verify/").status == 200
    assert post("/prp/verify/", form={"patient_code": f"PT-{mrn1}", "product_code": barcode}).status == 200
    assert get(f"/prp/products/{product_id}/apply/").status == 200
    applied = post(f"/prp/products/{product_id}/apply/", form={"patient_id": p1, "zone_0": "vertex", "volume_0": "2.5"})
    assert applied.status == 302, applied.text[:3000]
    # Charting the zone the PRP went to (a depth outside the protocol first: warned, not saved),
    # completing the visit, the aftercare handout printed and e-mailed, the visit summary.
    zone_path = f"/visits/{visit_id}/zones/vertex/"
    assert get(zone_path, headers=htmx).status == 200
    zone = {"injections": "20", "depth_mm": "3", "technique": "point_by_point", "prp_volume_ml": "2.5"}
    assert post(zone_path, form=zone | {"depth_mm": "5"}).status == 400
    charted = post(zone_path, form=zone)
    assert charted.status == 302, charted.text[:3000]
    completed = post(f"/visits/{visit_id}/complete/", form={})
    assert completed.status == 302, completed.text[:3000]
    handout = post(f"/aftercare/visits/{visit_id}/print/", form={})
    assert handout.status == 200 and handout.body.startswith(b"%PDF"), handout.text[:3000]
    assert post(f"/aftercare/visits/{visit_id}/email/", form={}).status == 302
    assert get(f"/aftercare/visits/{visit_id}/summary/").status == 200
    assert get(f"/aftercare/patients/{p1}/timeline/").status == 200
    # The wrong patient's wristband with this syringe: the hard stop, an incident.
    assert post("/prp/verify/", form={"patient_code": f"PT-{mrn2}", "product_code": barcode}).status == 409
    assert get(f"/prp/products/{product_id}/").status == 200
    assert get("/prp/board/").status == 200
    assert get("/prp/incidents/").status == 403  # physicians and admins only
    assert get(f"/api/prp/products/{product_id}/trace").status == 200
    api_verify = {"patient_code": f"PT-{mrn2}", "product_code": barcode}
    assert post("/api/prp/verifications", json_body=api_verify).status == 409
    assert post("/api/prp/draws", json_body={"visit_id": visit_id, "volume_ml": "x"}).status == 422
    # The questionnaire the patient sent from home (below): in the inbox, matched, filed as a new patient.
    inbox = get("/screening/inbox/")
    assert inbox.status == 200
    submission_path = re.search(r'href="(/screening/inbox/\d+/)"', inbox.text).group(1)  # type: ignore[union-attr]
    assert get(submission_path).status == 200
    assert post(submission_path, form={"q": QUESTIONNAIRE["family_name"]}).status == 200
    filed = post(f"{submission_path}file/", form={"patient": "new"})
    assert filed.status == 302 and filed.location.startswith("/screening/"), filed.text[:3000]
    assert get(filed.location).status == 200
    assert get("/patients/999999/").status == 404
    assert get("/no/such/page/").status == 404
    assert get("/audit/?actor=1&action=patient.view").status == 403  # admins only
    assert post("/account/logout/", form={}).status == 302

    admin = Browser(port)
    sign_in(admin, "admin.logtest@clinic.example", next_id, totp_key=ids["totp_key"])
    assert admin.request("GET", "/audit/?action=patient.view", request_id=next_id()).status == 200
    export = admin.request("GET", "/audit/export.csv?action=patient.create", request_id=next_id())
    assert export.status == 200 and b"patient.create" in export.body
    assert admin.request("GET", "/staff/", request_id=next_id()).status == 200
    assert admin.request("GET", "/prp/incidents/", request_id=next_id()).status == 200
    assert admin.request("GET", f"/patients/{p1}/", request_id=next_id()).status == 200
    boom = admin.request("GET", f"/boom/{p1}/", request_id=next_id())
    assert boom.status == 500
    # No ID, and an ID that is not sane: the app makes its own.
    anonymous = Browser(port)
    assert anonymous.request("GET", "/healthz").status == 200
    assert anonymous.request("GET", "/healthz", request_id="two words").status == 200
    return patient.replies + nurse.replies + admin.replies + anonymous.replies, boom


def test_logs_of_the_main_pages_are_json_with_request_ids_and_no_patient_data(tmp_path: Path) -> None:
    with scratch_database(tmp_path, "logs") as database_url:
        app = make_app(
            tmp_path,
            database_url,
            settings_extra='\nROOT_URLCONF = "boom_urls"\n',
            extra_files={"boom_urls.py": BOOM_URLS},
        )
        ids = app.python(SETUP % {"password": PASSWORD, "patients": PATIENTS})
        gunicorn_config = tmp_path / "gunicorn-logging.json"
        gunicorn_config.write_text(json.dumps(logs.GUNICORN_LOGCONFIG))
        log_path = tmp_path / "server.log"
        server = Server(app, log_path, extra_args=("--log-config-json", str(gunicorn_config)))
        server.start()
        try:
            replies, boom = drive_the_main_pages(server.port, ids, Ids())
        finally:
            server.stop()
        patients = app.python(DUMP_PATIENTS)
    # The two set up, the one registered on the page, the one filed from the questionnaire.
    assert len(patients) == 4 and any(p["phone"] == NEW_PHONE for p in patients)
    assert any(p["family"] == QUESTIONNAIRE["family_name"] for p in patients)
    patients.extend(
        {"given": p["given_name"], "family": p["family_name"], "mrn": p["mrn"], "born": p["born"]}
        | {"phone": p["phone"], "email": p["email"], "address": p["address"]}
        for p in PATIENTS
    )
    sender = {k: QUESTIONNAIRE[k] for k in ("phone", "email")} | {"address": ""}
    sender |= {"given": QUESTIONNAIRE["given_name"], "family": QUESTIONNAIRE["family_name"], "mrn": ""}
    patients.append(sender | {"born": QUESTIONNAIRE["date_of_birth"]})  # as typed, whether filed or not

    raw_lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    entries = []
    for line in raw_lines:
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"a log line that is not JSON: {line!r}")
    for entry in entries:
        assert {"time", "level", "logger", "message", "request_id"} <= set(entry), entry
        assert entry["time"].endswith("Z")

    # No patient data (nor staff e-mail) anywhere: raw lines, and their decoded text.
    staff = ["nurse.logtest@clinic.example", "admin.logtest@clinic.example"]
    forbidden = forbidden_strings(patients, staff, people=(REPRESENTATIVE, WITNESS))
    haystacks = [line.lower() for line in raw_lines] + [json.dumps(e, ensure_ascii=False).lower() for e in entries]
    leaks = sorted({s for s in forbidden for h in haystacks if s in h})
    assert leaks == [], f"patient data in the logs: {leaks}"

    # Query strings (search filters) reach no line; gunicorn's access log stays off.
    assert not [line for line in raw_lines if "action=patient" in line or "actor=1" in line]
    assert not [e for e in entries if e["logger"] == "gunicorn.access"]
    # Django's warnings about 4xx answers carry the request's ID too.
    sent_ids = {r.headers["x-request-id"] for r in replies}
    warnings = [e for e in entries if e["logger"] == "django.request"]
    assert len(warnings) >= 8 and all(e["request_id"] in sent_ids for e in warnings), warnings

    # One access line per request, with its ID, method, path without the query string, status.
    access = [e for e in entries if e["logger"] == "prpclinic.access"]
    by_id: dict[str, list[dict[str, Any]]] = {}
    for entry in access:
        by_id.setdefault(entry["request_id"], []).append(entry)
    healthz_polls = 0
    for reply in replies:
        if reply.sent_request_id is not None and logs.sane_request_id(reply.sent_request_id):
            assert reply.headers["x-request-id"] == reply.sent_request_id  # round trip
        else:
            assert re.fullmatch(r"[0-9a-f]{32}", reply.headers["x-request-id"])
        lines = by_id.get(reply.headers["x-request-id"], [])
        assert len(lines) == 1, (reply.method, reply.path, lines)
        (access_line,) = lines
        assert (access_line["method"], access_line["path"]) == (reply.method, reply.path)
        assert access_line["status"] == reply.status and isinstance(access_line["duration_ms"], float)
    for entry in access:
        assert "?" not in entry["path"] and "?" not in entry["message"]
        healthz_polls += entry["path"] == "/healthz"
    staff_areas = ("/patients/", "/prp/", "/visits/", "/api/", "/screening/", "/consents/", "/aftercare/")
    signed_in = [e for e in access if e["path"].startswith(staff_areas)]
    assert signed_in and all(e.get("user_id") in (ids["nurse"], ids["admin"]) for e in signed_in)
    assert all(e.get("clinic_id") == ids["clinic"] for e in signed_in)
    assert len(access) == len(replies) + healthz_polls - sum(r.path == "/healthz" for r in replies)

    # The 500: logged by django.request with the request's ID, the exception type and traceback.
    errors = [e for e in entries if e["level"] == "ERROR" and e["request_id"] == boom.sent_request_id]
    assert errors, "the 500 was not logged"
    error = errors[0]
    assert error["logger"] == "django.request" and error["status"] == 500
    assert (error["method"], error["path"], error["user_id"]) == ("GET", boom.path, ids["admin"])
    assert error["exc_type"].endswith("IntegrityError")
    assert "Traceback" in error["traceback"] and "patient.save(force_insert=True)" in error["traceback"]
    if postgres_url():
        assert "DETAIL: [redacted]" in error["traceback"]
    # gunicorn's own lines are JSON too.
    assert any(e["logger"] == "gunicorn.error" for e in entries)
