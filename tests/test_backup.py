"""Backups and restores: the drill (fill a clinic, back up, restore elsewhere, compare every row and
every file, verify the audit chain) on SQLite and PostgreSQL, and every refusal: no key, wrong key,
a changed byte, a target that is not empty. The encrypted stream and the retention rule directly."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from prpclinic.ops import backup
from prpclinic.ops.backup import BackupError, EncryptingWriter, decrypt_stream

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "drill-secret-key-" + "s" * 40
AUDIT_HMAC_KEY = "drill-audit-hmac-key-" + "a" * 40

# One worker builds the drill's backup once and runs every test that reads it.
pytestmark = pytest.mark.xdist_group("backup")


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


# --- the drill, in subprocesses ------------------------------------------------------------------


def fill_clinic() -> None:
    """Runs in a subprocess (DEBUG=1) against the drill's source database and MEDIA_ROOT.

    The demo clinic, then, through the suite's helpers, a new patient's PRP from draw to
    application, a wrong-patient scan (incident, quarantine), and stored files: a photo of a few
    chunks, a signed PDF under a name with accents, an empty file. Every audit event is sealed.
    """
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from prpclinic.audit.services import audit_seal_all
    from prpclinic.clinics.models import Clinic, User
    from prpclinic.prp.models import Centrifuge, ConsumableLot, SpinProgram
    from prpclinic.prp.services import bedside
    from prpclinic.visits.models import Visit
    from tests.conftest import Chain, clinic_request, make_patient
    from tests.test_prp_chain import prepared_product

    call_command("migrate", verbosity=0)
    call_command("demo", stdout=io.StringIO())
    clinic = Clinic.objects.get(slug="linden")
    nurse = User.objects.get(email="nurse@demo.prpclinic.test")
    physician = User.objects.get(email="physician@demo.prpclinic.test")
    patient = make_patient(clinic, given_name="Zoë", family_name="Łukasiewicz-Müller", mrn="L000900")
    other = make_patient(clinic, given_name="Paul", family_name="Novak", mrn="L000901")
    visit = Visit.objects.create(clinic=clinic, patient=patient, treatment="prp_scalp", clinician=physician)
    chain = Chain(
        centrifuge=Centrifuge.objects.get(clinic=clinic),
        program=SpinProgram.objects.get(clinic=clinic),
        tube_lot=ConsumableLot.objects.get(clinic=clinic, kind="tube"),
        kit_lot=ConsumableLot.objects.get(clinic=clinic, kind="kit"),
        patient=patient,
        visit=visit,
    )
    request = clinic_request(nurse, clinic)
    product = prepared_product(request, chain)
    bedside.product_verify_at_bedside(request=request, patient_code=f"PT-{patient.mrn}", product_code=product.barcode)
    bedside.product_apply(
        request=request,
        product_id=product.pk,
        patient_id=patient.pk,
        visit_id=visit.pk,
        zones=[{"zone": "vertex", "volume_ml": "1.5"}, {"zone": "frontal hairline", "volume_ml": "1.2"}],
    )
    wrong = prepared_product(request, chain)
    bedside.product_verify_at_bedside(request=request, patient_code=f"PT-{other.mrn}", product_code=wrong.barcode)
    default_storage.save("photos/L000900/2026-03-01 before.jpg", ContentFile(os.urandom(2_500_000)))
    default_storage.save("consents/L000900/signed consent é.pdf", ContentFile(b"%PDF-1.7\n" + os.urandom(5000)))
    default_storage.save("empty.txt", ContentFile(b""))
    audit_seal_all()


def drill_env(database_url: str, media_root: Path, key: str, **extra: str) -> dict[str, str]:
    """A production-like environment (DEBUG off, keys set) for one prpclinic subprocess."""
    drop = {"PRPCLINIC_TESTING", "DEBUG", "DATABASE_URL", "MEDIA_ROOT", "BACKUP_KEY", "BACKUP_KEY_FILE"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        DJANGO_SETTINGS_MODULE="prpclinic.settings",
        SECRET_KEY=SECRET_KEY,
        AUDIT_HMAC_KEY=AUDIT_HMAC_KEY,
        DATABASE_URL=database_url,
        MEDIA_ROOT=str(media_root),
        BACKUP_KEY=key,
        **extra,
    )
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "prpclinic.cli", *args] if args[0] != "-c" else [sys.executable, *args]
    result = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"{args[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result


FILL = "import django; django.setup(); from tests.test_backup import fill_clinic; fill_clinic()"


def file_checksums(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def sqlite_tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of an SQLite database with its rows, ordered by primary key."""
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        tables = {}
        for name in names:
            columns = list(conn.execute(f'PRAGMA table_info("{name}")'))
            pk = [c[1] for c in sorted(columns, key=lambda c: c[5]) if c[5] > 0] or [c[1] for c in columns]
            order = ", ".join(f'"{c}"' for c in pk)
            tables[name] = list(conn.execute(f'SELECT * FROM "{name}" ORDER BY {order}'))
        return tables
    finally:
        conn.close()


@dataclass
class Drill:
    tmp: Path
    key: str
    source_url: str
    source_media: Path
    backup_dir: Path
    env: dict[str, str]


def make_backup(tmp: Path, source_url: str, key: str) -> Drill:
    media = tmp / "source-media"
    env = drill_env(source_url, media, key)
    run(env | {"DEBUG": "1"}, "-c", FILL)
    result = run(env, "backup", "--to", str(tmp / "backups"))
    backup_dir = Path(result.stdout.strip().splitlines()[-1])
    assert backup_dir.parent == tmp / "backups" and backup.BACKUP_NAME.match(backup_dir.name)
    return Drill(tmp, key, source_url, media, backup_dir, env)


def latest_migration(app: str) -> str:
    from django.db.migrations.loader import MigrationLoader

    return max(name for label, name in MigrationLoader(None).graph.leaf_nodes() if label == app)


def assert_manifest_describes(drill: Drill, vendor: str) -> None:
    manifest = backup.read_manifest(drill.backup_dir, backup.parse_key(drill.key))
    assert manifest["database"]["vendor"] == vendor
    assert manifest["migrations"]["audit"] == latest_migration("audit")
    assert manifest["app_version"] and manifest["created_at"].endswith("Z")
    media = next(f for f in manifest["files"] if f["role"] == "media")
    # The drill's own 3 files plus what the demo stores (signed consent PDFs, photos, thumbnails).
    stored = len(file_checksums(drill.source_media))
    assert stored > 3 and media["media_files"] == stored and media["media_bytes"] > 2_500_000
    for entry in manifest["files"]:
        data = (drill.backup_dir / entry["name"]).read_bytes()
        assert entry["size"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
    # Encrypted: no patient's name in any file of the backup, nor in the manifest.
    for path in drill.backup_dir.iterdir():
        data = path.read_bytes()
        assert b"Novak" not in data and "Łukasiewicz".encode() not in data and b"L000900" not in data


@pytest.fixture(scope="module")
def sqlite_drill(tmp_path_factory: pytest.TempPathFactory) -> Drill:
    tmp = tmp_path_factory.mktemp("drill")
    return make_backup(tmp, f"sqlite:///{tmp / 'source.sqlite3'}", new_key())


def test_the_sqlite_drill_restores_every_row_and_every_file_and_the_audit_chain_verifies(sqlite_drill: Drill) -> None:
    drill = sqlite_drill
    assert_manifest_describes(drill, "sqlite")
    target_db, target_media = drill.tmp / "restored" / "db.sqlite3", drill.tmp / "restored" / "media"
    # Restored "elsewhere": the restoring process's own DATABASE_URL points at nothing that exists.
    unused = drill.tmp / "unused.sqlite3"
    env = drill_env(f"sqlite:///{unused}", drill.tmp / "unused-media", drill.key)
    result = run(
        env,
        "restore",
        str(drill.backup_dir),
        "--database-url",
        f"sqlite:///{target_db}",
        "--media-root",
        str(target_media),
    )
    assert "restore complete; audit trail verified" in result.stdout
    assert "Novak" not in result.stdout + result.stderr
    assert not unused.exists()

    source, restored = sqlite_tables(Path(drill.source_url.removeprefix("sqlite:///"))), sqlite_tables(target_db)
    assert list(restored) == list(source) and len(source) > 30
    for table, rows in source.items():
        assert restored[table] == rows, f"rows of {table} differ"
    for table in ("patients_patient", "prp_product", "prp_incident", "audit_auditevent", "audit_auditseal"):
        assert source[table], f"the drill should fill {table}"
    assert file_checksums(target_media) == file_checksums(drill.source_media)
    assert len(file_checksums(target_media)) > 3

    verified = run(drill_env(f"sqlite:///{target_db}", target_media, drill.key), "verify_audit")
    assert "OK:" in verified.stdout and "TAMPERED" not in verified.stdout
    assert sqlite_tables(target_db) == source  # verifying wrote nothing


def test_verify_only_checks_a_backup_end_to_end_without_writing(
    sqlite_drill: Drill, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BACKUP_KEY", sqlite_drill.key)
    out = io.StringIO()
    call_command("restore", str(sqlite_drill.backup_dir), "--verify-only", stdout=out)
    stored = len(file_checksums(sqlite_drill.source_media))
    assert out.getvalue().startswith("OK: ") and f"{stored} stored files" in out.getvalue()


def restore_refused(backup_dir: Path, target: Path, message: str, **options: Any) -> None:
    """Restore into ``target`` must be refused with ``message``, leaving ``target`` as it was."""
    target.mkdir(exist_ok=True)
    before = sorted(p.relative_to(target) for p in target.rglob("*"))
    with pytest.raises(CommandError, match=message):
        call_command(
            "restore",
            str(backup_dir),
            database_url=options.get("database_url", f"sqlite:///{target / 'db.sqlite3'}"),
            media_root=str(options.get("media_root", target / "media")),
            stdout=io.StringIO(),
        )
    assert sorted(p.relative_to(target) for p in target.rglob("*")) == before


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> Any:
    def use(key: str | None) -> None:
        monkeypatch.delenv("BACKUP_KEY_FILE", raising=False)
        if key is None:
            monkeypatch.delenv("BACKUP_KEY", raising=False)
        else:
            monkeypatch.setenv("BACKUP_KEY", key)

    return use


def test_a_restore_with_the_wrong_key_is_refused_and_writes_nothing(
    sqlite_drill: Drill, key_env: Any, tmp_path: Path
) -> None:
    key_env(new_key())
    restore_refused(sqlite_drill.backup_dir, tmp_path / "target", "wrong key")


def test_a_flipped_byte_in_the_backup_is_refused(sqlite_drill: Drill, key_env: Any, tmp_path: Path) -> None:
    key_env(sqlite_drill.key)
    for name in (backup.DATABASE_FILE, backup.MEDIA_FILE):
        copy = tmp_path / f"copy-{name}"
        shutil.copytree(sqlite_drill.backup_dir, copy)
        data = bytearray((copy / name).read_bytes())
        data[len(data) // 2] ^= 0x01
        (copy / name).write_bytes(bytes(data))
        restore_refused(copy, tmp_path / f"target-{name}", f"{name}: checksum mismatch")
        backup_ok = pytest.raises(BackupError, match="checksum mismatch")
        with backup_ok:
            backup.verify_backup(copy, backup.parse_key(sqlite_drill.key))


def test_a_changed_file_cannot_be_covered_up_by_editing_the_manifest(
    sqlite_drill: Drill, key_env: Any, tmp_path: Path
) -> None:
    import json

    key_env(sqlite_drill.key)
    copy = tmp_path / "copy"
    shutil.copytree(sqlite_drill.backup_dir, copy)
    media = copy / backup.MEDIA_FILE
    data = bytearray(media.read_bytes())
    data[-5] ^= 0x80
    media.write_bytes(bytes(data))
    document = json.loads((copy / backup.MANIFEST_FILE).read_text())
    entry = next(f for f in document["manifest"]["files"] if f["name"] == backup.MEDIA_FILE)
    entry["sha256"] = hashlib.sha256(bytes(data)).hexdigest()
    (copy / backup.MANIFEST_FILE).write_text(json.dumps(document))
    restore_refused(copy, tmp_path / "target", "fails authentication")


def test_a_restore_into_a_database_or_media_root_that_is_not_empty_is_refused(
    sqlite_drill: Drill, key_env: Any, tmp_path: Path
) -> None:
    key_env(sqlite_drill.key)
    target = tmp_path / "target"
    target.mkdir()
    (target / "db.sqlite3").write_bytes(b"SQLite format 3\x00 and more")
    restore_refused(sqlite_drill.backup_dir, target, "target database .* is not empty")
    (target / "db.sqlite3").unlink()
    (target / "media").mkdir()
    (target / "media" / "left-over.jpg").write_bytes(b"x")
    restore_refused(sqlite_drill.backup_dir, target, "media root .* is not empty")


def test_a_sqlite_backup_does_not_restore_into_postgresql(sqlite_drill: Drill, key_env: Any, tmp_path: Path) -> None:
    key_env(sqlite_drill.key)
    restore_refused(
        sqlite_drill.backup_dir,
        tmp_path / "target",
        "restores into sqlite only",
        database_url="postgres://nobody@127.0.0.1:1/none",
    )


def test_a_restore_whose_audit_trail_does_not_verify_fails(sqlite_drill: Drill) -> None:
    target = sqlite_drill.tmp / "wrong-audit-key"
    env = drill_env(f"sqlite:///{target / 'unused.sqlite3'}", target / "unused", sqlite_drill.key)
    env["AUDIT_HMAC_KEY"] = "not-the-clinic-audit-key-" + "x" * 40
    argv = ["restore", str(sqlite_drill.backup_dir), "--database-url", f"sqlite:///{target / 'db.sqlite3'}"]
    result = subprocess.run(
        [sys.executable, "-m", "prpclinic.cli", *argv, "--media-root", str(target / "media")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "TAMPERED" in result.stdout and "does NOT verify" in result.stderr


def test_pending_audit_events_are_not_sealed_with_a_wrong_audit_key(personas: Any, settings: Any) -> None:
    """Events a dying process left unsealed are sealed after restore only once the sealed ones verify."""
    from prpclinic.audit.models import AuditEvent, AuditPending, chain_key_for
    from prpclinic.audit.services import audit_record, audit_seal_all

    clinic = personas.clinic_a
    for _ in range(3):
        audit_record(action="patient.view", clinic=clinic, actor=personas.nurse, object_type="patient", object_id=1)
    audit_seal_all()
    key = chain_key_for(clinic.pk)
    # Written as a dying process leaves it: committed, marked pending by the database's own trigger, not sealed.
    AuditEvent.objects.create(clinic=clinic, chain_key=key, action="patient.view", object_type="patient")
    assert AuditPending.objects.count() == 1

    right = settings.AUDIT_HMAC_KEY
    settings.AUDIT_HMAC_KEY = "a-wrong-key"
    out = io.StringIO()
    with redirect_stdout(out):
        assert backup.verify_restored_audit() == 1
    assert "wrong AUDIT_HMAC_KEY" in out.getvalue() and AuditPending.objects.count() == 1

    settings.AUDIT_HMAC_KEY = right
    with redirect_stdout(io.StringIO()) as out:
        assert backup.verify_restored_audit() == 0
    assert "1 audit event(s) were not yet sealed" in out.getvalue() and AuditPending.objects.count() == 0


def test_backup_without_a_key_is_refused_with_a_clear_message(key_env: Any, tmp_path: Path) -> None:
    key_env(None)
    with pytest.raises(CommandError, match=r"No backup key: .*BACKUP_KEY.*BACKUP_KEY_FILE.*secrets\.token_bytes\(32\)"):
        call_command("backup", to=str(tmp_path / "backups"), stdout=io.StringIO())
    assert not (tmp_path / "backups").exists()
    key_env("too-short")
    with pytest.raises(CommandError, match="not a 32-byte key"):
        call_command("backup", to=str(tmp_path / "backups"), stdout=io.StringIO())


def test_the_key_comes_as_base64_or_hex_or_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    raw = secrets.token_bytes(32)
    assert backup.parse_key(base64.b64encode(raw).decode()) == raw
    assert backup.parse_key(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw
    assert backup.parse_key(raw.hex()) == raw
    assert backup.parse_key(f" {raw.hex().upper()}\n") == raw
    (tmp_path / "key").write_text(base64.b64encode(raw).decode() + "\n")
    monkeypatch.delenv("BACKUP_KEY", raising=False)
    monkeypatch.setenv("BACKUP_KEY_FILE", str(tmp_path / "key"))
    assert backup.load_key() == raw
    assert backup.key_id(raw) != backup.key_id(secrets.token_bytes(32)) and raw.hex()[:16] != backup.key_id(raw)


# --- PostgreSQL ------------------------------------------------------------------------------------


def pg_url(name: str) -> str:
    db = settings.DATABASES["default"]
    auth = quote(str(db.get("USER") or "postgres"), safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(str(db["PASSWORD"]), safe="")
    return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{name}"


def pg(name: str) -> Any:
    import psycopg

    return psycopg.connect(**backup.pg_connect_kwargs(backup.parse_database_url(pg_url(name))), autocommit=True)


@pytest.fixture
def pg_databases() -> Iterator[tuple[str, str]]:
    suffix = secrets.token_hex(4)
    names = (f"prpclinic_drill_src_{suffix}", f"prpclinic_drill_dst_{suffix}")
    with pg("postgres") as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    yield names
    with pg("postgres") as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_tables(name: str) -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, int]]:
    """Every table of the public schema with its rows ordered by primary key; every sequence's value."""
    with pg(name) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                "AND table_type = 'BASE TABLE' ORDER BY table_name"
            )
        ]
        tables = {}
        for table in names:
            pk = [
                r[0]
                for r in conn.execute(
                    "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                    "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary "
                    "ORDER BY array_position(i.indkey, a.attnum)",
                    [f'public."{table}"'],
                )
            ]
            order = ", ".join(f'"{c}"' for c in pk) or "1"
            tables[table] = list(conn.execute(f'SELECT * FROM public."{table}" ORDER BY {order}'))
        sequences = dict(
            conn.execute("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'").fetchall()
        )
    return tables, sequences


@pytest.mark.postgres
def test_the_postgresql_drill_restores_every_row_file_sequence_and_trigger(
    pg_databases: tuple[str, str], tmp_path: Path, key_env: Any
) -> None:
    import psycopg

    source_db, target_db = pg_databases
    drill = make_backup(tmp_path, pg_url(source_db), new_key())
    assert_manifest_describes(drill, "postgresql")
    target_media = tmp_path / "restored-media"
    env = drill_env(f"sqlite:///{tmp_path / 'unused.sqlite3'}", tmp_path / "unused-media", drill.key)
    result = run(
        env, "restore", str(drill.backup_dir), "--database-url", pg_url(target_db), "--media-root", str(target_media)
    )
    assert "restore complete; audit trail verified" in result.stdout

    (source, source_sequences), (restored, restored_sequences) = pg_tables(source_db), pg_tables(target_db)
    assert list(restored) == list(source) and len(source) > 30
    for table, rows in source.items():
        assert restored[table] == rows, f"rows of {table} differ"
    assert source["patients_patient"] and source["audit_auditseal"] and source["prp_incident"]
    assert restored_sequences == source_sequences and restored_sequences
    assert file_checksums(target_media) == file_checksums(drill.source_media)

    with pg(target_db) as conn:
        triggers = {r[0] for r in conn.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")}
        assert set(backup.AUDIT_TRIGGERS) <= triggers
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("UPDATE audit_auditevent SET action = 'x'")
    verified = run(drill_env(pg_url(target_db), target_media, drill.key), "verify_audit")
    assert "OK:" in verified.stdout

    key_env(drill.key)
    restore_refused(
        drill.backup_dir, tmp_path / "again", "target database has [0-9]+ table", database_url=pg_url(target_db)
    )


# --- the encrypted stream -----------------------------------------------------------------------------

CHUNK = 64


def encrypt(data: bytes, key: bytes, label: str = "database") -> bytes:
    out = io.BytesIO()
    writer = EncryptingWriter(out, key, label, chunk_size=CHUNK)
    for start in range(0, len(data), 50):  # writes that do not line up with chunks
        writer.write(data[start : start + 50])
    writer.close()
    assert writer.plain.size == len(data) and writer.plain.sha256 == hashlib.sha256(data).hexdigest()
    assert writer.cipher.sha256 == hashlib.sha256(out.getvalue()).hexdigest()
    return out.getvalue()


def decrypt(blob: bytes, key: bytes, label: str = "database") -> bytes:
    return b"".join(decrypt_stream(io.BytesIO(blob), key, label))


def records(blob: bytes) -> tuple[bytes, list[bytes]]:
    size = backup.NONCE_SIZE + CHUNK + backup.TAG_SIZE
    body = blob[backup.HEADER_SIZE :]
    return blob[: backup.HEADER_SIZE], [body[i : i + size] for i in range(0, len(body), size)]


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 7])
def test_the_stream_round_trips_any_length(size: int) -> None:
    key, data = secrets.token_bytes(32), os.urandom(size)
    blob = encrypt(data, key)
    assert decrypt(blob, key) == data
    assert size < 16 or data not in blob  # (a byte or two may occur in any ciphertext by chance)


def test_the_stream_refuses_wrong_key_wrong_role_and_any_change() -> None:
    key, data = secrets.token_bytes(32), os.urandom(3 * CHUNK)  # exactly three chunks
    blob = encrypt(data, key)
    header, chunks = records(blob)
    assert len(chunks) == 3
    tampered = {
        "wrong key": (blob, secrets.token_bytes(32), "database"),
        "another file's role": (blob, key, "media"),
        "a flipped bit": (blob[:100] + bytes([blob[100] ^ 1]) + blob[101:], key, "database"),
        "reordered chunks": (header + chunks[1] + chunks[0] + chunks[2], key, "database"),
        "last chunk dropped": (header + chunks[0] + chunks[1], key, "database"),
        "last byte dropped": (blob[:-1], key, "database"),
        "a chunk appended": (blob + chunks[1], key, "database"),
        "a chunk repeated": (header + chunks[0] + chunks[0] + chunks[1] + chunks[2], key, "database"),
        "empty after the header": (header, key, "database"),
        "not an encrypted file": (b"SQLite format 3\x00" + bytes(100), key, "database"),
    }
    for what, (bad, bad_key, label) in tampered.items():
        with pytest.raises(BackupError):
            decrypt(bad, bad_key, label)
            pytest.fail(f"{what} was not detected")


def test_memory_stays_bounded_by_the_chunk_size() -> None:
    out = io.BytesIO()
    writer = EncryptingWriter(out, secrets.token_bytes(32), "media", chunk_size=CHUNK)
    writer.write(os.urandom(100 * CHUNK))
    assert len(writer._buffer) <= CHUNK
    writer.close()


# --- retention --------------------------------------------------------------------------------------


def test_prune_keeps_daily_weekly_and_monthly_backups_and_deletes_the_rest(tmp_path: Path) -> None:
    names = [
        "prpclinic-20260331T230000Z",  # Tue, ISO week 14
        "prpclinic-20260331T010000Z",  # same day, older: not the day's newest
        "prpclinic-20260330T230000Z",  # Mon, week 14
        "prpclinic-20260329T230000Z",  # Sun, week 13
        "prpclinic-20260325T230000Z",  # Wed, week 13
        "prpclinic-20260320T230000Z",  # week 12
        "prpclinic-20260228T230000Z",  # February's newest
        "prpclinic-20260210T230000Z",
        "prpclinic-20260115T230000Z",
    ]
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / backup.MANIFEST_FILE).write_text("{}")
    (tmp_path / "unrelated").mkdir()
    stale = tmp_path / ".prpclinic-20260301T000000Z.partial"
    stale.mkdir()
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).timestamp()
    os.utime(stale, (old, old))

    out = io.StringIO()
    call_command("prune_backups", to=str(tmp_path), daily=2, weekly=2, monthly=2, dry_run=True, stdout=out)
    assert "would delete" in out.getvalue() and all((tmp_path / n).exists() for n in names)

    kept, deleted = backup.prune_backups(tmp_path, daily=2, weekly=2, monthly=2)
    assert set(kept) == {
        "prpclinic-20260331T230000Z",
        "prpclinic-20260330T230000Z",
        "prpclinic-20260329T230000Z",
        "prpclinic-20260228T230000Z",
    }
    assert set(deleted) == set(names) - set(kept) | {stale.name}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*kept, "unrelated"])


def test_the_default_retention_keeps_about_a_year_of_daily_backups_to_34_at_most() -> None:
    start = dt.datetime(2026, 1, 1, 3, tzinfo=dt.UTC)
    daily = [
        backup.BackupDir(start + dt.timedelta(days=n), 1, f"prpclinic-{(start + dt.timedelta(days=n)):%Y%m%dT%H%M%SZ}")
        for n in range(400)
    ]
    kept = backup.select_kept(daily, daily=14, weekly=8, monthly=12)
    assert len(kept) <= 14 + 8 + 12
    assert {b.name for b in sorted(daily, reverse=True)[:14]} <= kept
    newest = max(daily).time
    assert all(newest - b.time < dt.timedelta(days=366) for b in daily if b.name in kept)
