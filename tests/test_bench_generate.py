"""bench.generate on a tiny clinic (200 patients): its clinical history passes the app's gates and charts show it.

PostgreSQL only (the generator uses COPY and the schedule's exclusion constraints). The generator
and the chart check run in their own processes against a database of their own, next to the test
database, which is dropped afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parent.parent

# Run in a fresh interpreter on the generated database (production settings, as bench.run uses).
CHECK = r"""
import os, random, secrets
from bench.env import database_url, django_env, read_meta
url = database_url()
meta = read_meta(url)
os.environ.update(django_env(url=url, secret_key=secrets.token_urlsafe(50), audit_key=meta["audit_key"]))
os.environ["DEBUG"] = "1"  # no collected static files needed in-process
import django
django.setup()
from django.test import Client
from django.utils import timezone
from django.utils.crypto import get_random_string
from bench.run import make_sessions
from prpclinic.consents.models import SignedConsent
from prpclinic.scheduling.models import Appointment
from prpclinic.visits.gates import start_blockers
from prpclinic.visits.models import Visit

clinic = int(meta["main_clinic_id"])
csrf = get_random_string(32)
client = Client(SERVER_NAME="127.0.0.1")
client.cookies["sessionid"] = make_sessions(clinic)[0]
client.cookies["csrftoken"] = csrf
now = timezone.now()
upcoming = Appointment.objects.filter(clinic_id=clinic, status="booked", starts_at__gt=now)
booked = set(upcoming.values_list("patient_id", flat=True))
seen = sorted(set(Visit.objects.filter(clinic_id=clinic).values_list("patient_id", flat=True)))
patients = random.Random(3).sample(seen, 12) + sorted(booked)[:3]
for pid in patients:
    html = client.get(f"/patients/{pid}/").content.decode()
    assert 'data-testid="plan-progress">' in html, pid
    assert "No treatment plans." not in html, pid
    valid = SignedConsent.objects.filter(clinic_id=clinic, patient_id=pid, expires_at__gt=now).exists()
    assert ('<span class="badge">valid</span>' if valid else '<span class="badge warn">expired</span>') in html, pid
    if pid in booked:
        assert "No appointments to come." not in html, pid
# The gates a visit passes in the app held at every generated visit: checked here for the open ones,
# whose screening and consent are still current.
for visit in Visit.objects.filter(clinic_id=clinic, status="open"):
    assert start_blockers(clinic_id=clinic, patient_id=visit.patient_id, treatment=visit.treatment) == [], visit.pk
print("ok", len(patients))
"""

INVARIANTS = {
    "a visit without a screening that allowed it then": """
        SELECT count(*) FROM visits_visit v WHERE NOT EXISTS (
          SELECT 1 FROM (SELECT * FROM intake_screening s WHERE s.clinic_id = v.clinic_id
            AND s.patient_id = v.patient_id AND s.treatment = v.treatment AND s.recorded_at <= v.started_at
            ORDER BY s.recorded_at DESC LIMIT 1) latest
          WHERE latest.expires_at > v.started_at AND (latest.result = 'eligible'
            OR (latest.review_status = 'cleared' AND latest.reviewed_at <= v.started_at)))""",
    "a visit without a valid consent": """
        SELECT count(*) FROM visits_visit v WHERE NOT EXISTS (SELECT 1 FROM consents_signedconsent c
          WHERE c.clinic_id = v.clinic_id AND c.patient_id = v.patient_id AND c.kind = v.treatment
            AND c.signed_at <= v.started_at AND c.expires_at > v.started_at)""",
    "a visit not linked to its plan's session": """
        SELECT count(*) FROM visits_visit v WHERE NOT EXISTS (SELECT 1 FROM treatments_plannedsession s
          JOIN treatments_treatmentplan p ON p.id = s.plan_id
          WHERE s.visit_id = v.id AND p.patient_id = v.patient_id AND p.clinic_id = v.clinic_id)""",
    "an appointment of a visit at another time, patient or clinician": """
        SELECT count(*) FROM scheduling_appointment a JOIN visits_visit v ON v.id = a.visit_id
        WHERE v.started_at <> a.starts_at OR v.patient_id <> a.patient_id OR v.clinician_id <> a.clinician_id
           OR v.clinic_id <> a.clinic_id""",
    "an appointment with someone outside the clinic": """
        SELECT count(*) FROM scheduling_appointment a WHERE NOT EXISTS (SELECT 1 FROM clinics_membership m
          WHERE m.clinic_id = a.clinic_id AND m.user_id = a.clinician_id)""",
    "a booked appointment in the past, or a record written in the future": """
        SELECT (SELECT count(*) FROM scheduling_appointment WHERE status = 'booked' AND starts_at < now())
             + (SELECT count(*) FROM intake_screening WHERE recorded_at > now())
             + (SELECT count(*) FROM consents_signedconsent WHERE signed_at > now())
             + (SELECT count(*) FROM outcomes_score WHERE recorded_at > now())
             + (SELECT count(*) FROM audit_auditevent WHERE created_at > now())""",
    "an unsealed event or a pending marker left": """
        SELECT (SELECT count(*) FROM audit_auditpending)
             + (SELECT count(*) FROM audit_auditevent e
                WHERE NOT EXISTS (SELECT 1 FROM audit_auditseal s WHERE s.event_id = e.id))""",
}


def _with_name(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@pytest.fixture
def bench_url() -> Iterator[str]:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        pytest.skip("needs PostgreSQL (run with DATABASE_URL)")
    name = urlsplit(base).path.lstrip("/") + "_benchgen_" + os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = _with_name(base, name)
    yield url
    with psycopg.connect(_with_name(base, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_generated_history_passes_the_gates_and_shows_on_the_chart(bench_url: str) -> None:
    env = {**os.environ, "BENCH_DATABASE_URL": bench_url, "PYTHONPATH": str(ROOT)}
    for key in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL"):  # the generator sets its own
        env.pop(key, None)
    run = subprocess.run(
        [sys.executable, "-m", "bench.generate", "--patients", "200", "--force"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "treatment plans" in run.stdout, run.stdout
    with psycopg.connect(bench_url) as conn:
        for what, query in INVARIANTS.items():
            found = conn.execute(query).fetchone()
            assert found is not None and found[0] == 0, f"{found[0] if found else '?'} × {what}"
        counts = dict(conn.execute("SELECT key, value FROM bench_meta").fetchall())
    for table in ("plans", "screenings", "consents", "appointments", "scores"):
        assert int(counts[table]) > 0, table
    check = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert check.returncode == 0, check.stderr[-3000:]
    assert check.stdout.startswith("ok"), check.stdout
