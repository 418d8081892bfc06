"""``prpclinic verify_files``: the stored consent PDFs and photos against their records, as after a restore."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.test import override_settings

from tests.conftest import Personas, make_patient
from tests.test_fhir_binary import take_photo


@pytest.fixture
def media(tmp_path: Path) -> Any:
    """A file store of this test alone: other tests' files (and orphans) are not in it."""
    with override_settings(MEDIA_ROOT=str(tmp_path)):
        yield tmp_path


@pytest.fixture
def photo(personas: Personas, media: Path) -> Any:
    patient = make_patient(personas.clinic_a, given_name="Zelda", family_name="Quixotewright")
    return take_photo(personas, patient)  # a photography consent (its PDF), then the photo and its thumbnail


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("verify_files", *args, stdout=out)
    return out.getvalue()


def test_every_stored_file_matching_its_record_is_ok(photo: Any) -> None:
    assert "OK: 3 stored files match their records" in run()


def test_a_missing_thumbnail_and_a_changed_pdf_are_named_and_fail(photo: Any, media: Path) -> None:
    from prpclinic.consents.models import SignedConsent

    consent = SignedConsent.objects.get()
    pdf = media / consent.pdf_name
    pdf.write_bytes(b"%PDF" + b"x" * (pdf.stat().st_size - 4))  # same size, other content
    default_storage.delete(photo.thumb_name)
    out = io.StringIO()
    with pytest.raises(CommandError, match="2 of 3 stored files are missing or altered"):
        call_command("verify_files", stdout=out)
    lines = out.getvalue()
    assert f"MISSING photo thumbnail {photo.pk} (clinic {photo.clinic_id}), file {photo.thumb_name}" in lines
    assert f"ALTERED signed consent {consent.pk} (clinic {consent.clinic_id}), file {consent.pdf_name}" in lines
    assert "SHA-256 differs" in lines
    assert "Quixotewright" not in lines and "Zelda" not in lines  # ids and storage names only
    # Sizes only: the same-size change goes unseen, the missing thumbnail does not.
    with pytest.raises(CommandError, match="1 of 3 stored files"):
        call_command("verify_files", "--no-hashes", stdout=io.StringIO())


def test_a_truncated_photo_is_altered(photo: Any, media: Path) -> None:
    (media / photo.file_name).write_bytes(b"\xff\xd8")
    with pytest.raises(CommandError):
        call_command("verify_files", stdout=(out := io.StringIO()))
    assert f"ALTERED photo {photo.pk} (clinic {photo.clinic_id}), file {photo.file_name}: 2 bytes" in out.getvalue()


def test_a_file_no_record_names_is_listed_not_removed_once_past_the_grace_time(photo: Any, media: Path) -> None:
    old = media / "consents" / str(photo.clinic_id) / "left-by-a-crash.pdf"
    old.write_bytes(b"%PDF-1.7")
    hour_and_more = time.time() - 2 * 3600
    os.utime(old, (hour_and_more, hour_and_more))
    young = media / "outcomes" / str(photo.clinic_id) / "being-written.jpg"  # its record may not be committed yet
    young.write_bytes(b"\xff\xd8")
    out = run()
    assert f"ORPHAN consents/{photo.clinic_id}/left-by-a-crash.pdf" in out
    assert "being-written" not in out
    assert "OK: 3 stored files match their records; 1 orphan file(s) listed above" in out
    assert old.exists() and young.exists()


def test_no_files_and_no_records_is_ok(personas: Personas, media: Path) -> None:
    assert "OK: 0 stored files match their records" in run()
