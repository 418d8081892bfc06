"""Outcome photos: upload with consent, checked by content, metadata stripped, served no-store, withdrawn, compared."""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from PIL import Image, ImageDraw

from prpclinic.audit.models import AuditEvent
from prpclinic.outcomes.images import outline
from prpclinic.outcomes.models import Photo, Score
from prpclinic.outcomes.uploads import PhotoSizeLimit
from prpclinic.visits.models import Visit
from tests.conftest import Personas, make_patient, sign_in
from tests.factories_consents import consent_signed


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def stored_files(root: Path) -> list[Path]:
    """The outcome files in storage (the consents app keeps its signed PDFs beside them)."""
    return sorted(p for p in (root / "outcomes").rglob("*") if p.is_file())


def jpeg(width: int = 300, height: int = 200, *, exif: bool = False, color: str = "#c08070") -> bytes:
    """A JPEG as a phone writes it: with exif=True, rotated by EXIF and carrying the device and GPS."""
    image = Image.new("RGB", (width, height), color)
    buffer = io.BytesIO()
    if exif:
        tags = Image.Exif()
        tags[0x0112] = 6  # orientation: the camera was turned; shown upright after a 90° rotation
        tags[0x010F] = "PhoneMaker"
        tags[0x0110] = "Model Secret 9"
        gps = tags.get_ifd(0x8825)
        gps[1] = "N"
        gps[2] = (48.0, 12.0, 30.0)
        image.save(buffer, "JPEG", exif=tags.tobytes())
    else:
        image.save(buffer, "JPEG")
    return buffer.getvalue()


def png(width: int = 120, height: int = 80) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), (10, 200, 30, 255)).save(buffer, "PNG")
    return buffer.getvalue()


def noisy_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((400, 300), 64).convert("RGB").save(buffer, "JPEG")
    return buffer.getvalue()


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (20, 20)).save(buffer, "GIF")
    return buffer.getvalue()


def png_bomb() -> bytes:
    """A tiny PNG that claims 100,000 x 100,000 pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )


def photo_consent(personas: Personas, patient: Any, uses: tuple[str, ...] = ("clinical_record",)) -> None:
    consent_signed(
        clinic=personas.clinic_a, patient=patient, treatment="photography", by=personas.nurse, photo_uses=uses
    )


def upload(client: Any, patient: Any, data: bytes, name: str = "photo.jpg", **fields: Any) -> Any:
    post = {"view": "scalp_vertex", "visit": "", "session_number": "", "note": ""} | fields
    post["image"] = SimpleUploadedFile(name, data, content_type="image/jpeg")
    return client.post(f"/outcomes/patients/{patient.pk}/photos/new/", post)


@pytest.fixture
def consented(personas: Personas) -> Any:
    patient = make_patient(personas.clinic_a)
    photo_consent(personas, patient)
    return patient


def test_a_photo_taken_on_a_phone_is_stored_upright_without_exif_gps_or_device(
    personas: Personas, signed_in: Any, consented: Any, media: Path
) -> None:
    response = upload(signed_in("nurse"), consented, jpeg(300, 200, exif=True), view="face_front", session_number="1")
    assert response.status_code == 302 and response.url == f"/outcomes/patients/{consented.pk}/photos/"
    photo = Photo.objects.get()
    assert (photo.view, photo.area, photo.session_number, photo.consent_uses) == (
        "face_front", "face", 1, ["clinical_record"]
    )  # fmt: skip
    stored = (media / photo.file_name).read_bytes()
    assert b"PhoneMaker" not in stored and b"Model Secret" not in stored and b"Exif" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.size == (200, 300)  # turned upright by its EXIF orientation
        assert dict(image.getexif()) == {} and image.getexif().get_ifd(0x8825) == {}
        assert "exif" not in image.info and "icc_profile" not in image.info
    with Image.open(media / photo.thumb_name) as thumb:
        assert max(thumb.size) <= 320 and dict(thumb.getexif()) == {}
    assert re.fullmatch(rf"outcomes/{personas.clinic_a.pk}/[0-9a-f]{{32}}\.jpg", photo.file_name)  # no identifiers
    event = AuditEvent.objects.get(action="outcome.photo.upload")
    assert (event.actor, event.object_id) == (personas.nurse, str(photo.pk))


def test_a_png_is_accepted_and_kept_as_png(personas: Personas, signed_in: Any, consented: Any, media: Path) -> None:
    response = upload(signed_in("physician"), consented, png(), name="scan.png", view="scalp_top")
    assert response.status_code == 302
    photo = Photo.objects.get()
    assert photo.content_type == "image/png" and (photo.width, photo.height) == (120, 80)
    with Image.open(media / photo.file_name) as image:
        assert image.format == "PNG"


def test_the_photo_is_served_only_to_staff_of_its_clinic_and_never_cached(
    personas: Personas, signed_in: Any, consented: Any
) -> None:
    upload(signed_in("nurse"), consented, jpeg())
    photo = Photo.objects.get()
    response = signed_in("admin").get(f"/outcomes/photos/{photo.pk}/full/")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert "no-store" in response["Cache-Control"]
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    thumb = signed_in("nurse").get(f"/outcomes/photos/{photo.pk}/thumb/")
    assert thumb.status_code == 200 and "no-store" in thumb["Cache-Control"]
    assert signed_in("other_physician").get(f"/outcomes/photos/{photo.pk}/full/").status_code == 404
    assert signed_in("front_desk").get(f"/outcomes/photos/{photo.pk}/full/").status_code == 403


def test_without_a_photography_consent_no_photo_is_taken(personas: Personas, signed_in: Any, media: Path) -> None:
    patient = make_patient(personas.clinic_a)
    client = signed_in("nurse")
    assert (
        "No photography consent on record"
        in client.get(f"/outcomes/patients/{patient.pk}/photos/new/").content.decode()
    )
    response = upload(client, patient, jpeg())
    assert response.status_code == 400
    assert "no photography consent on record" in response.content.decode()
    assert Photo.objects.count() == 0 and stored_files(media) == []


def test_a_consent_without_the_clinical_record_use_is_not_enough(
    personas: Personas, signed_in: Any, media: Path
) -> None:
    patient = make_patient(personas.clinic_a)
    photo_consent(personas, patient, uses=("marketing",))
    response = upload(signed_in("nurse"), patient, jpeg())
    assert response.status_code == 400
    assert "does not allow photos in the clinical record" in response.content.decode()
    assert Photo.objects.count() == 0 and stored_files(media) == []
    page = signed_in("nurse").get(f"/outcomes/patients/{patient.pk}/photos/new/").content.decode()
    assert "not photos in the clinical record: no outcome photo can be taken" in page


def test_each_photo_says_which_uses_its_consent_allows(personas: Personas, signed_in: Any) -> None:
    patient = make_patient(personas.clinic_a)
    photo_consent(personas, patient, ("clinical_record", "teaching"))
    upload(signed_in("nurse"), patient, jpeg())
    assert Photo.objects.get().consent_uses == ["clinical_record", "teaching"]
    page = signed_in("nurse").get(f"/outcomes/patients/{patient.pk}/photos/").content.decode()
    assert "consent: In my clinical record only (to follow my treatment); Teaching and publication, anonymised" in page


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"%PDF-1.4\n1 0 obj <<>> endobj\n", "photo.jpg", "The file is not a photo"),
        (noisy_jpeg()[:3000], "photo.jpg", "damaged or incomplete"),
        (png_bomb(), "photo.png", "too large"),
        (gif(), "photo.jpg", "Upload a JPEG, PNG or WebP photo"),
        (b"", "photo.jpg", "empty"),
    ],
    ids=["not-an-image", "truncated", "decompression-bomb", "gif", "empty"],
)
def test_a_bad_file_is_refused_next_to_the_field_and_nothing_is_stored(
    personas: Personas, signed_in: Any, consented: Any, media: Path, data: bytes, name: str, message: str
) -> None:
    response = upload(signed_in("nurse"), consented, data, name=name)
    assert response.status_code == 400
    text = response.content.decode()
    assert 'id="id_image_error"' in text and message in text
    assert Photo.objects.count() == 0 and stored_files(media) == []
    assert not AuditEvent.objects.filter(action="outcome.photo.upload").exists()


def test_an_image_over_the_pixel_limit_is_refused(
    personas: Personas, signed_in: Any, consented: Any, media: Path, settings: Any
) -> None:
    settings.OUTCOMES_PHOTO_MAX_PIXELS = 50_000
    response = upload(signed_in("nurse"), consented, jpeg(300, 200))
    assert response.status_code == 400
    assert "The image is 300×200 pixels; at most 0.05 megapixels are accepted." in response.content.decode()
    assert stored_files(media) == []


def test_a_file_over_the_byte_limit_is_refused(
    personas: Personas, signed_in: Any, consented: Any, media: Path, settings: Any
) -> None:
    settings.OUTCOMES_PHOTO_MAX_BYTES = 500
    response = upload(signed_in("nurse"), consented, jpeg(300, 200))
    assert response.status_code == 400 and "too large" in response.content.decode()
    assert stored_files(media) == []


class RecordingHandler(FileUploadHandler):
    """Sits after the size limit and counts the bytes of the file that reach the storing handlers."""

    received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        RecordingHandler.received += len(raw_data)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def test_a_file_over_the_byte_limit_is_dropped_while_it_arrives_and_said_next_to_the_field(
    personas: Personas, signed_in: Any, consented: Any, media: Path, settings: Any
) -> None:
    settings.OUTCOMES_PHOTO_MAX_BYTES = 2000
    settings.FILE_UPLOAD_HANDLERS = ["tests.test_outcomes_photos.RecordingHandler", *settings.FILE_UPLOAD_HANDLERS]
    RecordingHandler.received = 0
    big = noisy_jpeg()
    assert len(big) > 20_000
    response = upload(signed_in("nurse"), consented, big)
    assert response.status_code == 400
    page = response.content.decode()
    assert re.search(r'id="id_image_error"><li>The file is too large: at most 0.00191 MB.</li>', page)
    assert "This field is required" not in page
    # Only the chunks within the limit went on to memory or disk; the rest was dropped as it came.
    assert RecordingHandler.received <= 2000
    assert stored_files(media) == [] and Photo.objects.count() == 0


def test_the_size_limit_handler_passes_chunks_within_the_limit_and_skips_the_file_past_it() -> None:
    limit = PhotoSizeLimit(max_bytes=10)
    assert limit.receive_data_chunk(b"12345678", 0) == b"12345678"
    with pytest.raises(SkipFile):
        limit.receive_data_chunk(b"9ab", 8)
    assert limit.too_large


def test_the_upload_still_needs_its_csrf_token(personas: Personas, consented: Any, media: Path) -> None:
    client = sign_in(Client(enforce_csrf_checks=True), personas.nurse)
    url = f"/outcomes/patients/{consented.pk}/photos/new/"
    form = {"view": "scalp_vertex", "visit": "", "session_number": "", "note": ""}
    refused = client.post(url, form | {"image": SimpleUploadedFile("p.jpg", jpeg(), content_type="image/jpeg")})
    assert refused.status_code == 403 and Photo.objects.count() == 0
    token = client.get(url).cookies["csrftoken"].value
    saved = client.post(
        url,
        form | {"image": SimpleUploadedFile("p.jpg", jpeg(), content_type="image/jpeg"), "csrfmiddlewaretoken": token},
    )
    assert saved.status_code == 302 and Photo.objects.count() == 1


def test_with_a_visit_of_a_series_the_session_number_is_the_visits_session(
    personas: Personas, signed_in: Any, consented: Any
) -> None:
    from prpclinic.treatments.models import PlannedSession, TreatmentPlan
    from prpclinic.treatments.selectors import current_protocol

    clinic = personas.clinic_a
    protocol = current_protocol(clinic_id=clinic.pk, kind="prp_scalp")
    plan = TreatmentPlan.objects.create(
        clinic=clinic, patient=consented, treatment=protocol.treatment, kind="prp_scalp", protocol=protocol,
        start_date=dt.date.today(), created_by=personas.physician,
    )  # fmt: skip
    visit = Visit.objects.create(clinic=clinic, patient=consented, treatment="prp_scalp", clinician=personas.physician)
    PlannedSession.objects.create(clinic=clinic, plan=plan, number=2, due_date=dt.date.today(), visit=visit)
    client = signed_in("nurse")
    upload(client, consented, jpeg(), visit=str(visit.pk))
    assert Photo.objects.get().session_number == 2
    client.post(
        f"/outcomes/patients/{consented.pk}/scores/hair_density/",
        {"value": "150", "rater": "clinician", "recorded_on": dt.date.today().isoformat(), "visit": str(visit.pk)},
    )
    assert Score.objects.get().session_number == 2
    upload(client, consented, jpeg(), visit=str(visit.pk), session_number="5")  # as entered, when entered
    assert Photo.objects.order_by("-id").first().session_number == 5  # type: ignore[union-attr]


def test_a_visit_of_another_patient_is_refused(personas: Personas, signed_in: Any, consented: Any, media: Path) -> None:
    other = make_patient(personas.clinic_a, given_name="Otto")
    visit = Visit.objects.create(
        clinic=personas.clinic_a, patient=other, treatment="prp_scalp", clinician=personas.physician
    )
    response = upload(signed_in("nurse"), consented, jpeg(), visit=str(visit.pk))
    assert response.status_code == 400 and Photo.objects.count() == 0 and stored_files(media) == []


def test_another_clinics_patient_and_photo_answer_404(personas: Personas, signed_in: Any, consented: Any) -> None:
    upload(signed_in("nurse"), consented, jpeg())
    photo = Photo.objects.get()
    other = signed_in("other_physician")
    assert other.get(f"/outcomes/patients/{consented.pk}/photos/").status_code == 404
    assert other.get(f"/outcomes/patients/{consented.pk}/compare/").status_code == 404
    assert other.post(f"/outcomes/photos/{photo.pk}/withdraw/", {"reason": "x"}).status_code == 404
    assert upload(other, consented, jpeg()).status_code == 404


def test_a_withdrawn_photo_is_hidden_kept_and_audited(
    personas: Personas, signed_in: Any, consented: Any, media: Path
) -> None:
    client = signed_in("physician")
    upload(client, consented, jpeg())
    photo = Photo.objects.get()
    response = client.post(f"/outcomes/photos/{photo.pk}/withdraw/", {"reason": "Wrong patient in frame"})
    assert response.status_code == 302
    photo.refresh_from_db()
    assert photo.status == "withdrawn" and photo.withdrawn_by == personas.physician
    assert (media / photo.file_name).exists()  # never deleted
    assert client.get(f"/outcomes/photos/{photo.pk}/full/").status_code == 404
    page = client.get(f"/outcomes/patients/{consented.pk}/photos/").content.decode()
    assert "Withdrawn photos" in page and "Wrong patient in frame" in page
    assert f"/outcomes/photos/{photo.pk}/thumb/" not in page
    event = AuditEvent.objects.get(action="outcome.photo.withdraw")
    assert event.changes["reason"] == "Wrong patient in frame"


def test_withdrawing_needs_a_reason(personas: Personas, signed_in: Any, consented: Any) -> None:
    client = signed_in("nurse")
    upload(client, consented, jpeg())
    photo = Photo.objects.get()
    client.post(f"/outcomes/photos/{photo.pk}/withdraw/", {"reason": ""})
    photo.refresh_from_db()
    assert photo.status == "active"


def test_the_photo_list_is_audited_as_a_chart_view(personas: Personas, signed_in: Any, consented: Any) -> None:
    signed_in("admin").get(f"/outcomes/patients/{consented.pk}/photos/")
    event = AuditEvent.objects.get(action="outcome.photos.view")
    assert (event.actor, event.object_id) == (personas.admin, str(consented.pk))


def test_the_upload_page_offers_the_first_photo_of_each_view_as_the_camera_guide(
    personas: Personas, signed_in: Any, consented: Any
) -> None:
    client = signed_in("nurse")
    upload(client, consented, jpeg(color="#111111"), view="scalp_vertex")
    upload(client, consented, jpeg(color="#222222"), view="scalp_vertex")
    first = Photo.objects.order_by("id").first()
    page = client.get(f"/outcomes/patients/{consented.pk}/photos/new/").content.decode()
    assert (
        f'data-view="scalp_vertex" data-url="/outcomes/photos/{first.pk}/full/" '
        f'data-outline="/outcomes/photos/{first.pk}/outline/"'
    ) in page
    assert 'value="outline" checked data-guide-mode' in page
    assert 'capture="environment"' in page and 'accept="image/*"' in page
    assert "<script>" not in page and "style=" not in page


def head_photo() -> bytes:
    """A dark head on a pale wall, as a scalp or face photo frames it."""
    image = Image.new("RGB", (800, 600), "#e8e4dc")
    ImageDraw.Draw(image).ellipse((250, 100, 550, 500), fill="#4a3020")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_the_outline_guide_is_the_first_photos_edges_on_a_transparent_png_never_cached(
    personas: Personas, signed_in: Any, consented: Any
) -> None:
    upload(signed_in("nurse"), consented, head_photo())
    photo = Photo.objects.get()
    response = signed_in("physician").get(f"/outcomes/photos/{photo.pk}/outline/")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert "no-store" in response["Cache-Control"]
    guide = Image.open(io.BytesIO(response.content))
    assert guide.mode == "RGBA" and guide.size == (800, 600)
    alpha = guide.getchannel("A")
    # Drawn on the head's edge, clear inside the head, on the wall and at the picture's border.
    assert max(alpha.getpixel((250 + dx, 300)) for dx in range(-4, 5)) == 255
    assert max(alpha.getpixel((400 + dx, 100)) for dx in range(-4, 5)) == 255
    assert alpha.getpixel((400, 300)) == 0 and alpha.getpixel((100, 300)) == 0 and alpha.getpixel((0, 0)) == 0
    assert signed_in("other_physician").get(f"/outcomes/photos/{photo.pk}/outline/").status_code == 404
    assert signed_in("front_desk").get(f"/outcomes/photos/{photo.pk}/outline/").status_code == 403


def test_a_flat_picture_gives_an_empty_outline() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "#808080").save(buffer, "PNG")
    guide = Image.open(io.BytesIO(outline(buffer.getvalue())))
    assert guide.size == (64, 48) and guide.getchannel("A").getextrema() == (0, 0)


def test_compare_shows_the_same_view_across_sessions_with_dates_and_sessions(
    personas: Personas, signed_in: Any, consented: Any
) -> None:
    client = signed_in("nurse")
    upload(client, consented, jpeg(color="#111111"), view="scalp_vertex", session_number="1")
    upload(client, consented, jpeg(color="#222222"), view="scalp_vertex", session_number="3")
    upload(client, consented, jpeg(), view="face_front", session_number="1")
    first, second = Photo.objects.filter(view="scalp_vertex").order_by("id")
    page = client.get(f"/outcomes/patients/{consented.pk}/compare/?view=scalp_vertex").content.decode()
    assert "Scalp, vertex: side by side" in page
    assert f"Before: {first.label}" in page and f"After: {second.label}" in page
    assert "session 1" in first.label and "session 3" in second.label
    assert "data-compare-slider" in page and f"/outcomes/photos/{second.pk}/full/" in page
    assert AuditEvent.objects.filter(action="outcome.compare.view").get().changes["photos"] == [first.pk, second.pk]


def _queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("page", ["photos/", "compare/?view=scalp_vertex", ""])
def test_photo_pages_run_the_same_queries_for_one_or_three_photos(
    personas: Personas, signed_in: Any, consented: Any, page: str
) -> None:
    client = signed_in("nurse")
    visit = Visit.objects.create(
        clinic=personas.clinic_a, patient=consented, treatment="prp_scalp", clinician=personas.physician
    )
    upload(client, consented, jpeg(), visit=str(visit.pk))
    url = f"/outcomes/patients/{consented.pk}/{page}"
    one = _queries(client, url)
    upload(client, consented, jpeg(), visit=str(visit.pk))
    upload(client, consented, jpeg(), view="face_front", visit=str(visit.pk))
    assert _queries(client, url) == one
