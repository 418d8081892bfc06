"""Where the benchmark keeps its data, and the production-like environment it runs Django with."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"  # gitignored: results, server logs, collected static files
VENV_BIN = Path(sys.executable).parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/prpclinic_bench"
DEFAULT_PATIENTS = 100_000
# Bump when generate.py changes what it writes: an older bench database is then rebuilt.
GENERATOR_VERSION = "3"


def database_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)


def default_patients() -> int:
    return int(os.environ.get("BENCH_PATIENTS", DEFAULT_PATIENTS))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def maintenance_url(url: str) -> str:
    """The same server's ``postgres`` database, from which the bench database is created or dropped."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres"))


def django_env(*, url: str, secret_key: str, audit_key: str) -> dict[str, str]:
    """Production settings (DEBUG off, manifest static files), plain HTTP on loopback."""
    return {
        "DJANGO_SETTINGS_MODULE": "prpclinic.settings",
        "DATABASE_URL": url,
        "DEBUG": "0",
        "SECRET_KEY": secret_key,
        "AUDIT_HMAC_KEY": audit_key,
        "SECURE_SSL": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_ROOT": str(RESULTS / "static"),
        "LOG_LEVEL": "WARNING",
    }


def read_meta(url: str) -> dict[str, str] | None:
    """The generator's notes in the bench database (``bench_meta``), or None if there are none."""
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            exists = conn.execute("SELECT to_regclass('bench_meta') IS NOT NULL").fetchone()
            if not exists or not exists[0]:
                return None
            return dict(conn.execute("SELECT key, value FROM bench_meta").fetchall())
    except psycopg.OperationalError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def migration_digests() -> dict[str, str]:
    """A digest of every migration file, to notice one edited after the data was generated."""
    return {
        str(path.relative_to(ROOT)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(ROOT.glob("prpclinic/*/migrations/*.py"))
    }


def is_ready(meta: dict[str, str] | None, patients: int) -> bool:
    """A complete data set of this size, by this generator, on migrations still as they were.

    New migration files are fine (bench.run applies them); a changed or removed one is not,
    since ``migrate`` would not apply the change to the existing database.
    """
    if meta is None or meta.get("state") != "complete" or meta.get("version") != GENERATOR_VERSION:
        return False
    if meta.get("patients") != str(patients) or "migrations" not in meta:
        return False
    then, now = json.loads(meta.get("migrations", "{}")), migration_digests()
    return all(now.get(path) == digest for path, digest in then.items())
