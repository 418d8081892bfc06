"""The stored documents against the records that name them: what ``prpclinic verify_files`` checks.

A signed consent's PDF and an outcome photo live in the file store (``MEDIA_ROOT``), their
records in the database. The two can drift apart: a disk restored without the database (or the
other way round), a file edited or deleted by hand, or a crash between writing a file and
committing its record, which leaves a file no record names (an orphan). The app notices a
missing or changed consent PDF only when someone opens it; this walks them all, for a monitor
or after a restore. Reports name records by id and files by their storage names, which carry no
patient data (clinic id and a random id).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.core.files.storage import Storage, default_storage
from django.utils import timezone

from prpclinic.consents.models import SignedConsent
from prpclinic.outcomes.models import Photo

# Every file under these folders belongs to a record; anything else there is an orphan.
RECORD_FOLDERS = ("consents", "outcomes")
# A file younger than this may belong to a record whose transaction has not committed yet.
ORPHAN_GRACE = dt.timedelta(hours=1)
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Problem:
    kind: str  # "missing" or "altered"
    record: str  # "signed consent 12 (clinic 3)"
    name: str  # the storage name the record gives
    detail: str = ""


@dataclass
class FileReport:
    checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # storage names no record gives

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_files(*, hashes: bool = True, storage: Storage | None = None) -> FileReport:
    """Check that every consent PDF and photo its record names is there, whole (size, and the
    consent's SHA-256 unless ``hashes`` is off), and list the files under ``RECORD_FOLDERS`` that no
    record names (older than ``ORPHAN_GRACE``). Reads the records in chunks: memory grows with the
    names kept for the orphan check, not with the files' contents."""
    storage = storage or default_storage
    report = FileReport()
    named: set[str] = set()
    consents = SignedConsent.objects.values_list("pk", "clinic_id", "pdf_name", "pdf_sha256", "pdf_size")
    for pk, clinic_id, name, sha256, size in consents.order_by("pk").iterator(chunk_size=2000):
        named.add(name)
        report.checked += 1
        problem = _check(storage, name, size=size, sha256=sha256 if hashes else None)
        if problem:
            report.problems.append(Problem(problem[0], f"signed consent {pk} (clinic {clinic_id})", name, problem[1]))
    photos = Photo.objects.values_list("pk", "clinic_id", "file_name", "byte_size", "thumb_name")
    for pk, clinic_id, name, size, thumb in photos.order_by("pk").iterator(chunk_size=2000):
        named.update((name, thumb))
        for stored, expected_size, what in ((name, size, "photo"), (thumb, None, "photo thumbnail")):
            report.checked += 1
            problem = _check(storage, stored, size=expected_size, sha256=None)
            if problem:
                report.problems.append(Problem(problem[0], f"{what} {pk} (clinic {clinic_id})", stored, problem[1]))
    cutoff = timezone.now() - ORPHAN_GRACE
    for folder in RECORD_FOLDERS:
        for name in _walk(storage, folder):
            if name not in named and storage.get_modified_time(name) < cutoff:
                report.orphans.append(name)
    return report


def _check(storage: Storage, name: str, *, size: int | None, sha256: str | None) -> tuple[str, str] | None:
    """("missing" | "altered", why) when the file is not as its record says, else None."""
    if not name or not storage.exists(name):
        return ("missing", "")
    actual = storage.size(name)
    if size is not None and actual != size:
        return ("altered", f"{actual} bytes, the record says {size}")
    if sha256 is not None:
        digest = hashlib.sha256()
        with storage.open(name, "rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            return ("altered", "its SHA-256 differs from the one recorded at signing")
    return None


def _walk(storage: Storage, folder: str) -> Iterator[str]:
    if not storage.exists(folder):
        return
    folders, files = storage.listdir(folder)
    for name in sorted(files):
        yield f"{folder}/{name}"
    for sub in sorted(folders):
        yield from _walk(storage, f"{folder}/{sub}")
