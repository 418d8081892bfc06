"""Encrypted, verifiable backups of the database and the stored files, and their restore.

A backup is one directory named by its UTC time (``prpclinic-20260502T031500Z``) holding:

``database.enc``  the database: ``pg_dump --format=custom`` on PostgreSQL, a copy made with
                  SQLite's online backup API on SQLite; encrypted.
``media.tar.enc`` every file under the default storage (MEDIA_ROOT): a tar of ``media/…`` and
                  an ``index.json`` of each file's size and SHA-256; encrypted.
``manifest.json`` what the backup holds: each file's size and SHA-256 before and after
                  encryption, the database vendor, the latest migration of each app, the app
                  version, the time and the key's id; authenticated by an HMAC.

Encryption is AES-256-GCM, streamed in chunks (1 MiB by default, so memory stays bounded
whatever the size of the database). Each file has a random salt from which HKDF-SHA256
derives its own key; each chunk has a random nonce; the associated data binds the file's
header and role, the chunk's index and whether it is the last one, so chunks cannot be
swapped between files, reordered, dropped, truncated or extended without detection.

The key (``BACKUP_KEY`` or ``BACKUP_KEY_FILE``: 32 bytes, base64 or hex) never enters the
backup; its id (an HKDF derivation, not the key) is in the manifest so that a restore with
the wrong key says so. Nothing here prints or logs patient data: messages name files of the
backup, sizes, checksums and counts only.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any, BinaryIO
from urllib.request import pathname2url

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from prpclinic.env import env_secret

FORMAT = "prpclinic-backup/1"
MAGIC = b"PRPCBK\x00\x01"  # 8 bytes: name and format version of an encrypted file
SALT_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16
HEADER_SIZE = len(MAGIC) + SALT_SIZE + 4
CHUNK_SIZE = 1 << 20
MAX_CHUNK_SIZE = 64 << 20
KEY_SIZE = 32

DATABASE_FILE = "database.enc"
MEDIA_FILE = "media.tar.enc"
MANIFEST_FILE = "manifest.json"
BACKUP_NAME = re.compile(r"^prpclinic-(\d{8}T\d{6}Z)(?:-(\d+))?$")
TIME_FORMAT = "%Y%m%dT%H%M%SZ"
AUDIT_TRIGGERS = ("audit_auditevent_no_update_delete", "audit_auditseal_no_update_delete")

KEY_HELP = (
    "Set BACKUP_KEY (or BACKUP_KEY_FILE, a file holding it) to a 32-byte key in base64 or hex; generate one with: "
    "python -c 'import secrets,base64;print(base64.b64encode(secrets.token_bytes(32)).decode())'"
)


class BackupError(Exception):
    """A refusal or failure, worded for the operator; never carries patient data."""


# --- keys ------------------------------------------------------------------------------------


def parse_key(raw: str) -> bytes:
    """32 key bytes from base64 (standard or URL-safe) or hex text."""
    text = raw.strip()
    if len(text) == 2 * KEY_SIZE and re.fullmatch(r"[0-9a-fA-F]+", text):
        return bytes.fromhex(text)
    try:
        padded = text + "=" * (-len(text) % 4)
        key = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_SIZE:
        raise BackupError(f"BACKUP_KEY is not a 32-byte key. {KEY_HELP}")
    return key


def load_key() -> bytes:
    """The backup key from the environment; refuses clearly when there is none."""
    try:
        raw = env_secret("BACKUP_KEY")
    except OSError as exc:
        raise BackupError(f"BACKUP_KEY_FILE cannot be read ({exc.strerror}). {KEY_HELP}") from exc
    if not raw:
        raise BackupError(f"No backup key: refusing to write an unencrypted backup. {KEY_HELP}")
    return parse_key(raw)


def _derive(key: bytes, purpose: str, salt: bytes | None = None) -> bytes:
    info = f"prpclinic-backup/1/{purpose}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt, info=info).derive(key)


def key_id(key: bytes) -> str:
    """A short public fingerprint of the key (derived one-way; reveals nothing of the key)."""
    return _derive(key, "key-id")[:8].hex()


# --- streamed authenticated encryption --------------------------------------------------------


@dataclass
class Digest:
    """Size and SHA-256 of a stream, computed while it passes."""

    size: int = 0
    _hash: Any = field(default_factory=hashlib.sha256, repr=False)

    def update(self, data: bytes) -> None:
        self.size += len(data)
        self._hash.update(data)

    @property
    def sha256(self) -> str:
        return str(self._hash.hexdigest())


def _aad(header: bytes, label: str, index: int, final: bool) -> bytes:
    return header + label.encode() + b"\x00" + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


class EncryptingWriter:
    """A write-only stream that encrypts what it is given into ``out``, chunk by chunk.

    ``label`` names the file's role (``database``, ``media``) and is bound into every chunk.
    ``close()`` writes the last chunk (flagged final) and must be called exactly once.
    """

    def __init__(self, out: BinaryIO, key: bytes, label: str, chunk_size: int = CHUNK_SIZE) -> None:
        if not 0 < chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError("chunk size out of range")
        self._out = out
        self._label = label
        self._chunk_size = chunk_size
        salt = secrets.token_bytes(SALT_SIZE)
        self._header = MAGIC + salt + chunk_size.to_bytes(4, "big")
        self._aead = AESGCM(_derive(key, f"file/{label}", salt))
        self._buffer = bytearray()
        self._index = 0
        self.plain = Digest()
        self.cipher = Digest()
        self.closed = False
        self._emit(self._header)

    def _emit(self, data: bytes) -> None:
        self._out.write(data)
        self.cipher.update(data)

    def _seal(self, chunk: bytes, final: bool) -> None:
        nonce = secrets.token_bytes(NONCE_SIZE)
        sealed = self._aead.encrypt(nonce, chunk, _aad(self._header, self._label, self._index, final))
        self._emit(nonce + sealed)
        self._index += 1

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self.closed:
            raise ValueError("write to a closed EncryptingWriter")
        view = bytes(data)
        self.plain.update(view)
        self._buffer += view
        # Keep at least one byte back: the last chunk must be written with the final flag.
        while len(self._buffer) > self._chunk_size:
            self._seal(bytes(self._buffer[: self._chunk_size]), final=False)
            del self._buffer[: self._chunk_size]
        return len(view)

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        if self.closed:
            return
        self._seal(bytes(self._buffer), final=True)
        self._buffer.clear()
        self.closed = True
        self._out.flush()


def _read_exactly(src: BinaryIO, size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining:
        part = src.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def decrypt_stream(src: BinaryIO, key: bytes, label: str) -> Iterator[bytes]:
    """Yield the plaintext of an encrypted file chunk by chunk, authenticating each chunk.

    Raises BackupError on a wrong key, a changed, reordered, missing or extra chunk, or a
    file of another role. A caller must not use the plaintext of a stream that raised.
    """
    header = _read_exactly(src, HEADER_SIZE)
    if len(header) != HEADER_SIZE or not header.startswith(MAGIC):
        raise BackupError(f"{label}: not a prpclinic encrypted backup file (bad header)")
    salt = header[len(MAGIC) : len(MAGIC) + SALT_SIZE]
    chunk_size = int.from_bytes(header[-4:], "big")
    if not 0 < chunk_size <= MAX_CHUNK_SIZE:
        raise BackupError(f"{label}: bad chunk size in header")
    aead = AESGCM(_derive(key, f"file/{label}", salt))
    record_size = NONCE_SIZE + chunk_size + TAG_SIZE
    record = _read_exactly(src, record_size)
    index = 0
    while True:
        if len(record) < NONCE_SIZE + TAG_SIZE:
            raise BackupError(f"{label}: the file is truncated (chunk {index} incomplete or missing)")
        following = _read_exactly(src, record_size) if len(record) == record_size else b""
        final = not following
        try:
            plain = aead.decrypt(record[:NONCE_SIZE], record[NONCE_SIZE:], _aad(header, label, index, final))
        except InvalidTag as exc:
            raise BackupError(
                f"{label}: authentication failed at chunk {index}: wrong BACKUP_KEY, or the file was changed, "
                "truncated or reordered"
            ) from exc
        yield plain
        if final:
            return
        record, index = following, index + 1


class _ChunkReader(io.RawIOBase):
    """A readable stream over an iterator of byte chunks (for tarfile)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


# --- files of a backup ------------------------------------------------------------------------


def _private_file(path: Path) -> BinaryIO:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _file_entry(name: str, role: str, writer: EncryptingWriter, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "role": role,
        "size": writer.cipher.size,
        "sha256": writer.cipher.sha256,
        "plaintext_size": writer.plain.size,
        "plaintext_sha256": writer.plain.sha256,
        **extra,
    }


def _sha256_file(path: Path) -> tuple[int, str]:
    digest = Digest()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK_SIZE):
            digest.update(block)
    return digest.size, digest.sha256


# --- database --------------------------------------------------------------------------------

PG_OPTION_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS",
}


def vendor_of(db: dict[str, Any]) -> str:
    engine = str(db.get("ENGINE", ""))
    if engine.endswith("sqlite3"):
        return "sqlite"
    if engine.endswith(("postgresql", "postgis")):
        return "postgresql"
    raise BackupError(f"unsupported database engine {engine!r}: backups cover PostgreSQL and SQLite")


def pg_env(db: dict[str, Any]) -> dict[str, str]:
    """libpq's environment for a Django database: the password travels here, never in argv."""
    env = dict(os.environ)
    for name, value in (
        ("PGDATABASE", db.get("NAME")),
        ("PGUSER", db.get("USER")),
        ("PGPASSWORD", db.get("PASSWORD")),
        ("PGHOST", db.get("HOST")),
        ("PGPORT", db.get("PORT")),
    ):
        if value not in (None, ""):
            env[name] = str(value)
    for option, name in PG_OPTION_ENV.items():
        value = (db.get("OPTIONS") or {}).get(option)
        if value not in (None, ""):
            env[name] = str(value)
    return env


def pg_connect_kwargs(db: dict[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"dbname": db.get("NAME")}
    for key, name in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host"), ("PORT", "port")):
        if db.get(key) not in (None, ""):
            kwargs[name] = db[key]
    for option in PG_OPTION_ENV:
        value = (db.get("OPTIONS") or {}).get(option)
        if value not in (None, ""):
            kwargs[option] = value
    return kwargs


def pg_tool(name: str) -> str:
    """The path of pg_dump/pg_restore: on PATH, else the newest under /usr/lib/postgresql."""
    found = shutil.which(name)
    if found:
        return found

    def version(path: Path) -> int:
        try:
            return int(path.parts[-3])
        except (ValueError, IndexError):
            return 0

    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=version, reverse=True)
    if candidates:
        return str(candidates[0])
    raise BackupError(f"{name} not found: install the PostgreSQL client (e.g. apt-get install postgresql-client)")


SCRUB_MARKERS = ("DETAIL:", "CONTEXT:", "LINE ", "HINT:", "Key (", "Failing row", "Command was:")


def scrub(stderr: str, limit: int = 20) -> str:
    """A tool's error output without the parts that can quote row values (patient data)."""
    lines = []
    for raw in stderr.splitlines():
        line = raw
        for marker in SCRUB_MARKERS:
            cut = line.find(marker)
            if cut >= 0:
                line = line[:cut].rstrip()
        if line.strip():
            lines.append(line)
    return "\n".join(lines[:limit])


def _run_to_writer(argv: list[str], env: dict[str, str], writer: EncryptingWriter, tmp: Path, what: str) -> None:
    err_path = tmp / f"{what}.stderr"
    with err_path.open("w+b") as err:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, env=env)
        assert process.stdout is not None
        while block := process.stdout.read(CHUNK_SIZE):
            writer.write(block)
        code = process.wait()
        err.seek(0)
        message = err.read().decode(errors="replace")
    if code != 0:
        raise BackupError(f"{what} failed (exit {code}):\n{scrub(message)}")


def dump_postgresql(db: dict[str, Any], writer: EncryptingWriter, tmp: Path) -> None:
    """``pg_dump --format=custom``: one consistent snapshot, streamed straight into the cipher."""
    argv = [pg_tool("pg_dump"), "--format=custom", "--no-password"]
    _run_to_writer(argv, pg_env(db), writer, tmp, "pg_dump")


def dump_sqlite(db: dict[str, Any], writer: EncryptingWriter, tmp: Path) -> None:
    """A consistent copy with SQLite's online backup API (WAL readers never block the app)."""
    name = str(db.get("NAME", ""))
    if not name or name == ":memory:" or name.startswith("file::memory:"):
        raise BackupError("the database is in memory: nothing to back up")
    source_path = Path(name)
    if not source_path.is_file():
        raise BackupError("the SQLite database file does not exist")
    copy_path = tmp / "database.sqlite3"
    source = sqlite3.connect(f"file:{pathname2url(str(source_path.resolve()))}?mode=rw", uri=True)
    try:
        target = sqlite3.connect(copy_path)
        try:
            source.backup(target)  # all pages in one step: one snapshot
        finally:
            target.close()
    finally:
        source.close()
    with copy_path.open("rb") as handle:
        while block := handle.read(CHUNK_SIZE):
            writer.write(block)
    copy_path.unlink()


def migration_state(connection: Any) -> dict[str, str]:
    """The latest applied migration of each app (names sort by their number prefix)."""
    from django.db.migrations.recorder import MigrationRecorder

    latest: dict[str, str] = {}
    for app, name in MigrationRecorder(connection).applied_migrations():
        if name > latest.get(app, ""):
            latest[app] = name
    return dict(sorted(latest.items()))


# --- stored files ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredFile:
    name: str  # relative, with forward slashes
    size: int
    mtime: float
    open: Callable[[], IO[bytes]]


def stored_files(storage: Any = None) -> Iterator[StoredFile]:
    """Every file of the default storage: walked on disk for FileSystemStorage, else via the API."""
    from django.core.files.storage import FileSystemStorage, default_storage

    storage = storage if storage is not None else default_storage
    if isinstance(storage, FileSystemStorage):
        root = Path(storage.location)
        if not root.is_dir():
            return
        for directory, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames.sort()
            for filename in sorted(filenames):
                path = Path(directory) / filename
                if path.is_symlink() or not path.is_file():
                    continue
                stat = path.stat()
                yield StoredFile(
                    path.relative_to(root).as_posix(),
                    stat.st_size,
                    stat.st_mtime,
                    _opener(path),
                )
        return

    def walk(prefix: str) -> Iterator[StoredFile]:
        dirs, files = storage.listdir(prefix)
        for filename in sorted(files):
            name = f"{prefix}/{filename}" if prefix else filename
            try:
                mtime = storage.get_modified_time(name).timestamp()
            except (NotImplementedError, AttributeError):
                mtime = 0.0
            yield StoredFile(name, storage.size(name), mtime, partial(storage.open, name, "rb"))
        for sub in sorted(dirs):
            yield from walk(f"{prefix}/{sub}" if prefix else sub)

    yield from walk("")


def _opener(path: Path) -> Callable[[], IO[bytes]]:
    return lambda: path.open("rb")


class _HashingReader:
    def __init__(self, handle: IO[bytes], digest: Digest) -> None:
        self._handle = handle
        self._digest = digest

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._digest.update(data)
        return data


def archive_media(files: Iterable[StoredFile], writer: EncryptingWriter) -> tuple[int, int]:
    """Tar ``media/<name>`` for each file, then ``index.json`` (size and SHA-256 of each)."""
    index: list[dict[str, Any]] = []
    total = 0
    with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for stored in files:
            info = tarfile.TarInfo(f"media/{stored.name}")
            info.size, info.mtime, info.mode = stored.size, int(stored.mtime), 0o600
            digest = Digest()
            with stored.open() as handle:
                try:
                    tar.addfile(info, _HashingReader(handle, digest))
                except OSError as exc:
                    raise BackupError(f"a stored file changed size while being backed up ({exc})") from exc
            index.append({"path": stored.name, "size": digest.size, "sha256": digest.sha256})
            total += digest.size
        body = json.dumps({"files": index}, sort_keys=True).encode()
        info = tarfile.TarInfo("index.json")
        info.size, info.mode = len(body), 0o600
        tar.addfile(info, io.BytesIO(body))
    return len(index), total


# --- manifest ----------------------------------------------------------------------------------


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def manifest_hmac(body: dict[str, Any], key: bytes) -> str:
    return hmac.new(_derive(key, "manifest"), _canonical(body), hashlib.sha256).hexdigest()


def write_manifest(path: Path, body: dict[str, Any], key: bytes) -> None:
    document = {"manifest": body, "hmac_sha256": manifest_hmac(body, key)}
    with _private_file(path) as handle:
        handle.write(json.dumps(document, indent=2, sort_keys=True).encode() + b"\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_manifest(backup_dir: Path, key: bytes) -> dict[str, Any]:
    """The manifest, after checking its HMAC: a wrong key or a changed manifest is refused."""
    path = backup_dir / MANIFEST_FILE
    if not path.is_file():
        raise BackupError(f"{backup_dir} is not a prpclinic backup: {MANIFEST_FILE} is missing")
    try:
        document = json.loads(path.read_text())
        body, mac = document["manifest"], document["hmac_sha256"]
        if not isinstance(body, dict) or not isinstance(mac, str):
            raise TypeError
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{MANIFEST_FILE} is not a valid manifest") from exc
    if not hmac.compare_digest(manifest_hmac(body, key), mac):
        made_with = body.get("key_id", "?")
        if made_with != key_id(key):
            raise BackupError(
                f"wrong key: this backup was made with the key whose id is {made_with}; BACKUP_KEY has id "
                f"{key_id(key)}. Nothing was restored."
            )
        raise BackupError(f"{MANIFEST_FILE} fails authentication: it was changed. Nothing was restored.")
    if body.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {body.get('format')!r} (this prpclinic reads {FORMAT})")
    return body


def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("prpclinic")
    except PackageNotFoundError:
        return "unknown"


# --- backup ------------------------------------------------------------------------------------


def _backup_name(root: Path, now: dt.datetime) -> str:
    base = f"prpclinic-{now.astimezone(dt.UTC).strftime(TIME_FORMAT)}"
    name, n = base, 1
    while (root / name).exists() or (root / f".{name}.partial").exists():
        n += 1
        name = f"{base}-{n}"
    return name


def create_backup(
    *,
    dest_root: Path,
    key: bytes,
    db: dict[str, Any] | None = None,
    connection: Any = None,
    files: Iterable[StoredFile] | None = None,
    now: dt.datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Path:
    """Write one complete backup directory under ``dest_root`` and return its path.

    The directory appears (by rename) only once every file and the manifest are written and
    synced, so a crash never leaves something that looks like a backup. The database is
    dumped before the files are copied: every file the dump refers to is in the archive.
    """
    from django.db import connection as default_connection

    if db is None:
        from django.conf import settings

        db = settings.DATABASES["default"]
    connection = connection if connection is not None else default_connection
    vendor = vendor_of(db)
    now = now or dt.datetime.now(dt.UTC)
    dest_root.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = _backup_name(dest_root, now)
    building = dest_root / f".{name}.partial"
    building.mkdir(mode=0o700)
    try:
        migrations = migration_state(connection)
        entries = []
        with tempfile.TemporaryDirectory(prefix="prpclinic-backup-") as tmp:
            with _private_file(building / DATABASE_FILE) as out:
                writer = EncryptingWriter(out, key, "database", chunk_size)
                if vendor == "postgresql":
                    dump_postgresql(db, writer, Path(tmp))
                else:
                    dump_sqlite(db, writer, Path(tmp))
                writer.close()
                os.fsync(out.fileno())
            entries.append(
                _file_entry(
                    DATABASE_FILE, "database", writer, format="pg_dump-custom" if vendor != "sqlite" else "sqlite3"
                )
            )
        with _private_file(building / MEDIA_FILE) as out:
            writer = EncryptingWriter(out, key, "media", chunk_size)
            count, total = archive_media(files if files is not None else stored_files(), writer)
            writer.close()
            os.fsync(out.fileno())
        entries.append(_file_entry(MEDIA_FILE, "media", writer, format="tar", media_files=count, media_bytes=total))
        body = {
            "format": FORMAT,
            "name": name,
            "created_at": now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "app_version": app_version(),
            "database": {"vendor": vendor},
            "migrations": migrations,
            "key_id": key_id(key),
            "encryption": "AES-256-GCM, HKDF-SHA256 per-file key, chunked",
            "files": entries,
        }
        write_manifest(building / MANIFEST_FILE, body, key)
        _fsync_dir(building)
        final = dest_root / name
        os.rename(building, final)
        _fsync_dir(dest_root)
        return final
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


# --- verification and restore --------------------------------------------------------------------


EXPECTED_FILES = {DATABASE_FILE: "database", MEDIA_FILE: "media"}


def check_files(backup_dir: Path, manifest: dict[str, Any]) -> None:
    """Every file the manifest lists: present, of the listed size and SHA-256 (before decrypting)."""
    files = manifest.get("files", [])
    names = {entry.get("name") for entry in files}
    if names != set(EXPECTED_FILES):
        raise BackupError(f"the manifest lists {sorted(map(str, names))}, expected {sorted(EXPECTED_FILES)}")
    for entry in files:
        path = backup_dir / entry["name"]
        if entry.get("role") != EXPECTED_FILES[entry["name"]]:
            raise BackupError(f"{entry['name']}: unexpected role in manifest")
        if not path.is_file():
            raise BackupError(f"{entry['name']} is missing from the backup")
        size, sha = _sha256_file(path)
        if size != entry["size"] or not hmac.compare_digest(sha, entry["sha256"]):
            raise BackupError(
                f"{entry['name']}: checksum mismatch (the file was changed or damaged): "
                f"expected {entry['size']} bytes sha256 {entry['sha256']}, found {size} bytes sha256 {sha}"
            )


def _entry(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    return next(entry for entry in manifest["files"] if entry["name"] == name)


def _decrypt_to(backup_dir: Path, entry: dict[str, Any], key: bytes, sink: Callable[[bytes], Any] | None) -> None:
    digest = Digest()
    with (backup_dir / entry["name"]).open("rb") as src:
        for chunk in decrypt_stream(src, key, entry["role"]):
            digest.update(chunk)
            if sink is not None:
                sink(chunk)
    if digest.size != entry["plaintext_size"] or not hmac.compare_digest(digest.sha256, entry["plaintext_sha256"]):
        raise BackupError(f"{entry['name']}: decrypted content does not match the manifest's checksum")


def _read_media(
    backup_dir: Path, entry: dict[str, Any], key: bytes, extract_to: Path | None
) -> tuple[int, int, list[dict[str, Any]]]:
    """Stream the media archive: verify every file against the index; extract when asked."""
    digest = Digest()

    def chunks() -> Iterator[bytes]:
        with (backup_dir / entry["name"]).open("rb") as src:
            for chunk in decrypt_stream(src, key, "media"):
                digest.update(chunk)
                yield chunk

    seen: dict[str, tuple[int, str]] = {}
    index: list[dict[str, Any]] | None = None
    reader = io.BufferedReader(_ChunkReader(chunks()), buffer_size=CHUNK_SIZE)
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            for member in tar:
                if member.name == "index.json" and member.isfile():
                    handle = tar.extractfile(member)
                    assert handle is not None
                    index = json.loads(handle.read())["files"]
                    continue
                if not member.isfile() or not member.name.startswith("media/"):
                    raise BackupError("the media archive holds an unexpected entry")
                relative = member.name[len("media/") :]
                handle = tar.extractfile(member)
                assert handle is not None
                file_digest = Digest()
                if extract_to is None:
                    while block := handle.read(CHUNK_SIZE):
                        file_digest.update(block)
                else:
                    target = (extract_to / relative).resolve()
                    if extract_to.resolve() not in target.parents:
                        raise BackupError("the media archive holds a path outside the media root")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with _private_file(target) as out:
                        while block := handle.read(CHUNK_SIZE):
                            file_digest.update(block)
                            out.write(block)
                    os.utime(target, (member.mtime, member.mtime))
                seen[relative] = (file_digest.size, file_digest.sha256)
            # Drain to the end so the last chunk (and its final flag) is authenticated.
            while reader.read(CHUNK_SIZE):
                pass
    except tarfile.TarError as exc:
        raise BackupError(f"the media archive is damaged ({exc.__class__.__name__})") from exc
    if digest.size != entry["plaintext_size"] or not hmac.compare_digest(digest.sha256, entry["plaintext_sha256"]):
        raise BackupError(f"{entry['name']}: decrypted content does not match the manifest's checksum")
    if index is None:
        raise BackupError("the media archive has no index")
    listed = {item["path"]: (item["size"], item["sha256"]) for item in index}
    if listed != seen:
        raise BackupError("the media files do not match the archive's index (sizes or checksums differ)")
    return len(seen), sum(size for size, _ in seen.values()), index


@dataclass
class VerifyReport:
    name: str
    vendor: str
    created_at: str
    media_files: int
    media_bytes: int
    database_bytes: int


def verify_backup(backup_dir: Path, key: bytes) -> VerifyReport:
    """Check a backup end to end without writing anything: manifest, checksums, every chunk."""
    manifest = read_manifest(backup_dir, key)
    check_files(backup_dir, manifest)
    db_entry = _entry(manifest, DATABASE_FILE)
    _decrypt_to(backup_dir, db_entry, key, None)
    count, total, _ = _read_media(backup_dir, _entry(manifest, MEDIA_FILE), key, None)
    return VerifyReport(
        manifest.get("name", backup_dir.name),
        manifest["database"]["vendor"],
        manifest["created_at"],
        count,
        total,
        db_entry["plaintext_size"],
    )


@dataclass
class RestoreReport:
    vendor: str
    media_files: int
    media_bytes: int
    tables: int
    notes: list[str] = field(default_factory=list)
    audit_output: str = ""
    audit_ok: bool | None = None


def parse_database_url(url: str) -> dict[str, Any]:
    import dj_database_url

    try:
        return dict(dj_database_url.parse(url))
    except Exception as exc:  # dj_database_url raises several kinds on a bad URL
        raise BackupError(f"--database-url is not a database URL ({exc.__class__.__name__})") from exc


def pg_user_tables(db: dict[str, Any]) -> int:
    import psycopg

    try:
        with psycopg.connect(**pg_connect_kwargs(db), autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            ).fetchone()
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise BackupError(
            f"cannot connect to the target database ({first}); create it first, empty (createdb)"
        ) from exc
    return int(row[0]) if row else 0


def pg_audit_triggers(db: dict[str, Any]) -> set[str]:
    import psycopg

    with psycopg.connect(**pg_connect_kwargs(db), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT tgname FROM pg_catalog.pg_trigger WHERE NOT tgisinternal AND tgname = ANY(%s)",
            [list(AUDIT_TRIGGERS)],
        ).fetchall()
    return {row[0] for row in rows}


def check_target_empty(vendor: str, db: dict[str, Any], media_root: Path) -> None:
    if vendor == "sqlite":
        path = Path(str(db.get("NAME", "")))
        if not db.get("NAME") or str(path) == ":memory:":
            raise BackupError("--database-url must name an SQLite file (sqlite:////absolute/path.sqlite3)")
        if path.exists() and (not path.is_file() or path.stat().st_size > 0):
            raise BackupError(f"refusing to restore: the target database {path} exists and is not empty")
        for suffix in ("-wal", "-journal"):
            if Path(f"{path}{suffix}").exists():
                raise BackupError(f"refusing to restore: {path}{suffix} exists (the target is in use)")
    else:
        tables = pg_user_tables(db)
        if tables:
            raise BackupError(f"refusing to restore: the target database has {tables} table(s); it must be empty")
    if media_root.exists():
        if not media_root.is_dir():
            raise BackupError(f"refusing to restore: the media root {media_root} is not a directory")
        if any(media_root.iterdir()):
            raise BackupError(f"refusing to restore: the media root {media_root} is not empty")


def check_migrations(manifest: dict[str, Any]) -> list[str]:
    """Refuse a backup from a newer prpclinic; say when the restored database needs migrating."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    known = set(loader.disk_migrations)
    recorded: dict[str, str] = manifest.get("migrations", {})
    unknown = [f"{app}.{name}" for app, name in recorded.items() if (app, name) not in known]
    if unknown:
        raise BackupError(
            f"the backup was made by a newer prpclinic (migrations unknown here: {', '.join(sorted(unknown))}); "
            f"restore it with version {manifest.get('app_version', '?')} or later"
        )
    behind = sorted({app for app, name in loader.graph.leaf_nodes() if recorded.get(app) != name})
    if behind:
        return [f"the backup's schema is older than this version ({', '.join(behind)}): run `prpclinic migrate`"]
    return []


def restore_backup(
    backup_dir: Path,
    *,
    database_url: str,
    media_root: Path,
    key: bytes,
    privileges: bool = True,
    verify_audit: bool = True,
) -> RestoreReport:
    """Restore a backup into an empty database and an empty media root.

    Order: authenticate the manifest, check the version, check that both targets are empty,
    check every file's checksum; only then decrypt (each chunk authenticated), write the
    database, move the files into place, check the audit triggers (PostgreSQL) and run
    ``verify_audit`` against the restored database in a subprocess.
    """
    manifest = read_manifest(backup_dir, key)
    vendor = manifest["database"]["vendor"]
    target = parse_database_url(database_url)
    target_vendor = vendor_of(target)
    if target_vendor != vendor:
        raise BackupError(f"this is a {vendor} backup; it restores into {vendor} only, not {target_vendor}")
    notes = check_migrations(manifest)
    media_root = media_root.resolve()
    check_target_empty(vendor, target, media_root)
    check_files(backup_dir, manifest)

    db_entry, media_entry = _entry(manifest, DATABASE_FILE), _entry(manifest, MEDIA_FILE)
    media_root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{media_root.name}.restoring-", dir=media_root.parent))
    try:
        count, total, _ = _read_media(backup_dir, media_entry, key, staging / "media")
        (staging / "media").mkdir(exist_ok=True)
        if vendor == "sqlite":
            tables = _restore_sqlite(backup_dir, db_entry, key, Path(str(target["NAME"])))
        else:
            tables = _restore_postgresql(backup_dir, db_entry, key, target, privileges)
        if media_root.exists():
            media_root.rmdir()  # checked empty above
        os.replace(staging / "media", media_root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    report = RestoreReport(vendor, count, total, tables, notes)
    if vendor == "postgresql":
        missing = set(AUDIT_TRIGGERS) - pg_audit_triggers(target)
        if missing:
            report.notes.append(f"audit append-only triggers missing after restore: {', '.join(sorted(missing))}")
    if verify_audit:
        env = dict(os.environ, DATABASE_URL=database_url, MEDIA_ROOT=str(media_root))
        env.setdefault("DJANGO_SETTINGS_MODULE", "prpclinic.settings")
        result = subprocess.run([sys.executable, "-c", VERIFY_RESTORED], env=env, capture_output=True, text=True)
        report.audit_ok = result.returncode == 0
        report.audit_output = (result.stdout + ("" if report.audit_ok else scrub(result.stderr))).strip()
    return report


VERIFY_RESTORED = (
    "import django; django.setup(); from prpclinic.ops.backup import verify_restored_audit; "
    "raise SystemExit(verify_restored_audit())"
)


def verify_restored_audit() -> int:
    """Verify the audit trail of the (restored) database Django is configured for; 0 when it holds.

    ``verify_audit`` first seals events that were still pending when the backup was taken,
    with the AUDIT_HMAC_KEY at hand. With a wrong key that would write wrong seals into the
    restored chains for good, so when events are pending the chains' sealed events are checked
    first, without sealing anything: only when they verify (the key is right) does
    ``verify_audit`` run.
    """
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from prpclinic.audit.models import AuditChain, AuditPending
    from prpclinic.audit.services import audit_verify_chain

    pending = AuditPending.objects.count()
    if pending:
        for chain in sorted(AuditChain.objects.values_list("key", flat=True)):
            report = audit_verify_chain(key=chain)
            if not report.ok:
                print(f"{report.key}: {report.verified} events verified; TAMPERED: {report.problem}")
                print(
                    "the sealed audit trail does not verify: wrong AUDIT_HMAC_KEY, or events were changed; "
                    f"the {pending} pending event(s) were left unsealed"
                )
                return 1
        print(f"{pending} audit event(s) were not yet sealed when the backup was taken; sealing them now")
    try:
        call_command("verify_audit")
    except CommandError as exc:
        print(exc)
        return 1
    return 0


def _restore_sqlite(backup_dir: Path, entry: dict[str, Any], key: bytes, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    incoming = path.with_name(f".{path.name}.restoring-{secrets.token_hex(4)}")
    try:
        with _private_file(incoming) as out:
            _decrypt_to(backup_dir, entry, key, out.write)
            out.flush()
            os.fsync(out.fileno())
        conn = sqlite3.connect(incoming)
        try:
            status = conn.execute("PRAGMA quick_check").fetchone()
            tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        finally:
            conn.close()
        if not status or status[0] != "ok":
            raise BackupError("the restored SQLite database fails its integrity check")
        for suffix in ("-wal", "-shm"):
            Path(f"{incoming}{suffix}").unlink(missing_ok=True)
        os.replace(incoming, path)
        _fsync_dir(path.parent)
        return int(tables)
    finally:
        incoming.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{incoming}{suffix}").unlink(missing_ok=True)


def _restore_postgresql(
    backup_dir: Path, entry: dict[str, Any], key: bytes, target: dict[str, Any], privileges: bool
) -> int:
    with tempfile.TemporaryDirectory(prefix="prpclinic-restore-") as tmp:
        dump = Path(tmp) / "database.dump"
        with _private_file(dump) as out:
            _decrypt_to(backup_dir, entry, key, out.write)
        argv = [pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction", "--no-password"]
        if not privileges:
            argv.append("--no-privileges")
        argv += ["--dbname", str(target["NAME"]), str(dump)]
        result = subprocess.run(argv, env=pg_env(target), capture_output=True, text=True)
        if result.returncode != 0:
            raise BackupError(
                f"pg_restore failed (exit {result.returncode}); the target was left empty:\n{scrub(result.stderr)}"
            )
    return pg_user_tables(target)


# --- retention ----------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class BackupDir:
    time: dt.datetime
    serial: int
    name: str


def list_backups(root: Path) -> list[BackupDir]:
    found = []
    if root.is_dir():
        for path in root.iterdir():
            match = BACKUP_NAME.match(path.name)
            if match and path.is_dir() and (path / MANIFEST_FILE).is_file():
                when = dt.datetime.strptime(match.group(1), TIME_FORMAT).replace(tzinfo=dt.UTC)
                found.append(BackupDir(when, int(match.group(2) or 1), path.name))
    return sorted(found, reverse=True)


def select_kept(backups: list[BackupDir], *, daily: int, weekly: int, monthly: int) -> set[str]:
    """Names to keep: the newest backup of each of the ``daily`` most recent days that have one,
    of the ``weekly`` most recent ISO weeks, of the ``monthly`` most recent months; and the newest."""
    ordered = sorted(backups, reverse=True)
    keep: set[str] = {ordered[0].name} if ordered else set()
    periods: list[tuple[int, Callable[[dt.datetime], tuple[int, ...]]]] = [
        (daily, lambda t: (t.year, t.month, t.day)),
        (weekly, lambda t: tuple(t.isocalendar())[:2]),
        (monthly, lambda t: (t.year, t.month)),
    ]
    for count, period in periods:
        seen: set[tuple[int, ...]] = set()
        for backup in ordered:
            key = period(backup.time)
            if key in seen:
                continue
            if len(seen) >= count:
                break
            seen.add(key)
            keep.add(backup.name)
    return keep


def prune_backups(
    root: Path, *, daily: int, weekly: int, monthly: int, dry_run: bool = False, now: dt.datetime | None = None
) -> tuple[list[str], list[str]]:
    """Delete the backups that ``select_kept`` does not keep, and partial ones older than a day.

    Returns (kept, deleted) names.
    """
    backups = list_backups(root)
    keep = select_kept(backups, daily=daily, weekly=weekly, monthly=monthly)
    deleted = [b.name for b in backups if b.name not in keep]
    now = now or dt.datetime.now(dt.UTC)
    if root.is_dir():
        for path in root.iterdir():
            if path.name.startswith(".prpclinic-") and path.name.endswith(".partial") and path.is_dir():
                age = now - dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
                if age > dt.timedelta(days=1):
                    deleted.append(path.name)
    if not dry_run:
        for name in deleted:
            shutil.rmtree(root / name)
    return [b.name for b in backups if b.name in keep], deleted
