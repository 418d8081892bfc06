"""Printed labels: what a scanner reads off them and what a person reads on them.

The PDFs are rendered as a printer would (pdftoppm at 400 dpi), then decoded with zxing-cpp;
their text is read back with pdftotext. The views are called through a RequestFactory.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import zoneinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import RequestFactory
from django.utils import timezone
from PIL import Image, ImageOps

from prpclinic.audit.models import AuditEvent
from prpclinic.clinics.models import Clinic, Membership, User
from prpclinic.prp import labels
from prpclinic.prp.models import Product
from prpclinic.prp.services import draw, spin
from prpclinic.prp.views import labels as label_views
from tests.conftest import Chain, Personas, clinic_request, make_patient

LABEL_SIZE_PTS = (141.73, 70.87)  # 50 x 25 mm
A4_PTS = (595.28, 841.89)
CODE128 = zxingcpp.BarcodeFormat.Code128
DATAMATRIX = zxingcpp.BarcodeFormat.DataMatrix


# --- making products (as tests/test_prp_chain.py does) ---------------------------------------


def ago(minutes: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=minutes)


def drawn_product(request: Any, chain: Chain, tubes: int = 2) -> Product:
    return draw.blood_draw(
        request=request,
        visit_id=chain.visit.pk,
        drawn_at=ago(60),
        site="antecubital_left",
        volume_ml=Decimal("18"),
        tube_count=tubes,
        tube_lot_id=chain.tube_lot.pk,
        kit_lot_id=chain.kit_lot.pk,
        anticoagulant="sodium_citrate_3_2",
        identity_check="scan",
        scanned_code=f"PT-{chain.patient.mrn}",
    )


def prepared_product(request: Any, chain: Chain, tubes: int = 2) -> Product:
    product = drawn_product(request, chain, tubes)
    for started in (ago(55), ago(44)):
        spin.spin_start(
            request=request,
            product_id=product.pk,
            centrifuge_id=chain.centrifuge.pk,
            program_id=chain.program.pk,
            started_at=started,
        )
    return spin.product_prepare(request=request, product_id=product.pk, prepared_at=ago(30), volume_ml=Decimal("3"))


@pytest.fixture
def nurse(personas: Personas) -> Any:
    return clinic_request(personas.nurse, personas.clinic_a)


@pytest.fixture
def prepared(nurse: Any, chain: Chain) -> Product:
    return prepared_product(nurse, chain)


# --- reading PDFs back -----------------------------------------------------------------------


def run(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=60).stdout


def pages_as_images(pdf: bytes, tmp_path: Path, top_mm: int = 0) -> list[Image.Image]:
    """Each page at 400 dpi in grey (only its top ``top_mm`` if given), cropped to what is printed."""
    source = tmp_path / "labels.pdf"
    source.write_bytes(pdf)
    area = ["-H", str(round(top_mm / 25.4 * 400)), "-W", "9999"] if top_mm else []
    run("pdftoppm", "-r", "400", "-gray", *area, str(source), str(tmp_path / "page"))
    images: list[Image.Image] = []
    for pgm in sorted(tmp_path.glob("page-*.pgm"), key=lambda p: int(p.stem.rsplit("-", 1)[1])):
        image: Image.Image = Image.open(pgm)
        box = ImageOps.invert(image).getbbox()  # crop the blank paper (faster), keeping a quiet zone
        if box is not None:
            pad = 40
            box = (max(box[0] - pad, 0), max(box[1] - pad, 0), box[2] + pad, box[3] + pad)
            image = image.crop(box)
        images.append(image)
    return images


def scanned(image: Image.Image) -> set[tuple[zxingcpp.BarcodeFormat, str]]:
    return {(r.format, r.text) for r in zxingcpp.read_barcodes(image) if r.valid}


def page_texts(pdf: bytes, tmp_path: Path) -> list[str]:
    source = tmp_path / "text.pdf"
    source.write_bytes(pdf)
    return run("pdftotext", "-layout", str(source), "-").split("\f")[:-1]


def page_sizes(pdf: bytes, tmp_path: Path) -> list[tuple[float, float]]:
    source = tmp_path / "info.pdf"
    source.write_bytes(pdf)
    info = run("pdfinfo", "-f", "1", "-l", "999", str(source))
    return [(float(w), float(h)) for w, h in re.findall(r"Page +\d+ size: +([\d.]+) x ([\d.]+) pts", info)]


def both_codes(content: str) -> set[tuple[zxingcpp.BarcodeFormat, str]]:
    return {(CODE128, content), (DATAMATRIX, content)}


def vienna(when: dt.datetime) -> str:
    return when.astimezone(zoneinfo.ZoneInfo("Europe/Vienna")).strftime("%Y-%m-%d %H:%M")


# --- the product's labels --------------------------------------------------------------------


def test_the_roll_layout_prints_one_50x25_mm_page_per_tube_then_the_syringe(prepared: Product, tmp_path: Path) -> None:
    pdf = labels.product_labels_pdf(prepared, layout="50x25")
    assert page_sizes(pdf, tmp_path) == [pytest.approx(LABEL_SIZE_PTS, abs=0.01)] * 3
    expected = [prepared.tube_barcode(1), prepared.tube_barcode(2), prepared.barcode]
    for content, image in zip(expected, pages_as_images(pdf, tmp_path), strict=True):
        assert scanned(image) == both_codes(content), f"label {content}"


def test_every_label_names_the_patient_twice_over_and_is_for_autologous_use_only(
    prepared: Product, tmp_path: Path
) -> None:
    texts = page_texts(labels.product_labels_pdf(prepared, layout="50x25"), tmp_path)
    assert len(texts) == 3
    for text in texts:
        for shown in ("WEBER, Clara", "DOB 1985-04-30", "MRN A000100", "FOR AUTOLOGOUS USE ONLY", labels.STORAGE_NOTE):
            assert shown in text
        assert f"Collected {vienna(prepared.draw.drawn_at)}" in text
    assert "Tube 1 of 2" in texts[0] and "Tube 2 of 2" in texts[1]
    assert "Whole blood 18.0 mL drawn · Sodium citrate 3.2 %" in texts[0]


def test_the_syringe_label_shows_preparation_expiry_to_the_minute_in_the_clinic_zone_and_the_volume(
    prepared: Product, tmp_path: Path
) -> None:
    syringe = page_texts(labels.product_labels_pdf(prepared, layout="50x25"), tmp_path)[-1]
    assert prepared.expires_at is not None and prepared.prepared_at is not None
    assert f"EXPIRES {vienna(prepared.expires_at)}" in syringe
    collected, made = vienna(prepared.draw.drawn_at), vienna(prepared.prepared_at)
    # Same local day as the draw: the time only (the date is on the line already); past midnight: the full date.
    assert f"Prepared {made[11:] if made[:10] == collected[:10] else made}" in syringe
    assert "Platelet-rich plasma 3.0 mL" in syringe
    assert prepared.barcode in syringe


@pytest.mark.parametrize(
    ("zone", "expires_utc", "shown"),
    [
        ("Europe/Vienna", dt.datetime(2026, 7, 1, 12, 40, tzinfo=dt.UTC), "EXPIRES 2026-07-01 14:40 CEST"),
        ("Europe/Vienna", dt.datetime(2026, 1, 15, 12, 40, tzinfo=dt.UTC), "EXPIRES 2026-01-15 13:40 CET"),
        ("America/New_York", dt.datetime(2026, 1, 15, 2, 5, tzinfo=dt.UTC), "EXPIRES 2026-01-14 21:05 EST"),
    ],
)
def test_times_follow_the_clinics_time_zone_and_its_summer_time(
    prepared: Product, zone: str, expires_utc: dt.datetime, shown: str
) -> None:
    prepared.clinic.timezone = zone
    prepared.draw.drawn_at = expires_utc - dt.timedelta(hours=5)
    prepared.prepared_at = expires_utc - dt.timedelta(hours=4)
    prepared.expires_at = expires_utc
    syringe = labels.product_labels(prepared)[-1]
    assert syringe.emphasis == shown


def test_the_sheet_layout_puts_the_same_labels_on_one_a4_page(prepared: Product, tmp_path: Path) -> None:
    pdf = labels.product_labels_pdf(prepared, layout="sheet")
    assert page_sizes(pdf, tmp_path) == [pytest.approx(A4_PTS, abs=0.01)]
    (page,) = pages_as_images(pdf, tmp_path, top_mm=100)  # three labels fit in a row at the top
    expected = both_codes(prepared.tube_barcode(1)) | both_codes(prepared.tube_barcode(2))
    assert scanned(page) == expected | both_codes(prepared.barcode)
    (text,) = page_texts(pdf, tmp_path)
    assert text.count("FOR AUTOLOGOUS USE ONLY") == 3 and text.count("WEBER, Clara") == 3
    assert f"EXPIRES {vienna(prepared.expires_at)}" in text  # type: ignore[arg-type]


def test_before_preparation_only_the_tubes_get_labels_never_a_syringe_label_without_expiry(
    nurse: Any, chain: Chain, tmp_path: Path
) -> None:
    product = drawn_product(nurse, chain, tubes=3)
    pdf = labels.product_labels_pdf(product, layout="50x25")
    images = pages_as_images(pdf, tmp_path)
    assert [scanned(image) for image in images] == [both_codes(product.tube_barcode(n)) for n in (1, 2, 3)]
    text = "".join(page_texts(pdf, tmp_path))
    assert "EXPIRES" not in text and "Platelet-rich plasma" not in text
    assert "Tube 3 of 3" in text


def test_an_unknown_layout_is_an_error(prepared: Product) -> None:
    with pytest.raises(ValueError, match="unknown label layout"):
        labels.product_labels_pdf(prepared, layout="a5")


def test_a_long_name_gets_a_smaller_font_before_anything_is_cut(personas: Personas) -> None:
    short = make_patient(personas.clinic_a, given_name="Clara", family_name="Weber")
    long = make_patient(personas.clinic_a, given_name="Anna-Lena", family_name="Schwarzenberger-Kowalski")
    assert labels.patient_lines(short).name_size == "name-l"
    assert labels.patient_lines(long).name == "SCHWARZENBERGER-KOWALSKI, Anna-Lena"
    assert labels.patient_lines(long).name_size == "name-s"


def test_the_renderer_fetches_nothing_but_data_uris(tmp_path: Path) -> None:
    stylesheet = tmp_path / "evil.css"
    stylesheet.write_text("@page { size: 10mm 10mm }")
    html = f'<link rel="stylesheet" href="{stylesheet.as_uri()}"><p>x</p>'
    assert page_sizes(labels.html_to_pdf(html), tmp_path) == [pytest.approx(A4_PTS, abs=0.01)]


# --- the wristband ---------------------------------------------------------------------------


def test_the_wristband_carries_pt_mrn_in_both_codes_with_name_birth_date_and_mrn(chain: Chain, tmp_path: Path) -> None:
    pdf = labels.patient_wristband_pdf(chain.patient)
    assert page_sizes(pdf, tmp_path) == [pytest.approx(LABEL_SIZE_PTS, abs=0.01)]
    (image,) = pages_as_images(pdf, tmp_path)
    assert scanned(image) == both_codes("PT-A000100")
    (text,) = page_texts(pdf, tmp_path)
    for shown in ("WEBER, Clara", "DOB 1985-04-30", "MRN A000100"):
        assert shown in text


# --- the views -------------------------------------------------------------------------------


def get(user: User, clinic: Clinic, query: str = "") -> Any:
    """A GET as the middleware leaves it: user, active clinic and membership."""
    request = RequestFactory().get("/labels/", QUERY_STRING=query)
    request.user = user
    request.clinic = clinic
    request.membership = Membership.objects.get(user=user, clinic=clinic)
    request.session = {}
    return request


def test_the_labels_view_answers_an_inline_pdf_without_patient_data_in_its_name_and_audits_the_print(
    prepared: Product, personas: Personas, tmp_path: Path
) -> None:
    response = label_views.product_labels(get(personas.nurse, personas.clinic_a, "layout=sheet"), prepared.pk)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="labels-{prepared.barcode}.pdf"'
    assert page_sizes(response.content, tmp_path) == [pytest.approx(A4_PTS, abs=0.01)]
    event = AuditEvent.objects.get(action="prp.labels_print")
    assert (event.actor, event.object_id, event.changes["layout"]) == (personas.nurse, str(prepared.pk), "sheet")


def test_the_labels_view_defaults_to_the_50x25_roll_and_refuses_an_unknown_layout(
    prepared: Product, personas: Personas, tmp_path: Path
) -> None:
    response = label_views.product_labels(get(personas.physician, personas.clinic_a), prepared.pk)
    assert page_sizes(response.content, tmp_path) == [pytest.approx(LABEL_SIZE_PTS, abs=0.01)] * 3
    refused = label_views.product_labels(get(personas.physician, personas.clinic_a, "layout=A4"), prepared.pk)
    assert refused.status_code == 400
    assert AuditEvent.objects.filter(action="prp.labels_print").count() == 1


def test_another_clinics_product_answers_404_and_staff_who_do_not_handle_prp_403(
    prepared: Product, personas: Personas
) -> None:
    with pytest.raises(Http404):
        label_views.product_labels(get(personas.other_physician, personas.clinic_b), prepared.pk)
    with pytest.raises(PermissionDenied):
        label_views.product_labels(get(personas.front_desk, personas.clinic_a), prepared.pk)
    assert not AuditEvent.objects.filter(action="prp.labels_print").exists()


def test_the_wristband_view_answers_a_pdf_audits_it_and_keeps_other_clinics_out(
    chain: Chain, personas: Personas
) -> None:
    response = label_views.patient_wristband(get(personas.front_desk, personas.clinic_a), chain.patient.pk)
    assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")
    assert "A000100" not in response["Content-Disposition"] and "Weber" not in response["Content-Disposition"]
    assert AuditEvent.objects.filter(action="patient.wristband_print", object_id=str(chain.patient.pk)).count() == 1
    with pytest.raises(Http404):
        label_views.patient_wristband(get(personas.other_physician, personas.clinic_b), chain.patient.pk)


def test_a_merged_or_deactivated_record_gets_no_wristband(chain: Chain, personas: Personas) -> None:
    survivor = make_patient(personas.clinic_a, mrn="A000900")
    chain.patient.is_active = False
    chain.patient.save()
    response = label_views.patient_wristband(get(personas.nurse, personas.clinic_a), chain.patient.pk)
    assert response.status_code == 409 and b"deactivated" in response.content
    chain.patient.merged_into = survivor
    chain.patient.save()
    response = label_views.patient_wristband(get(personas.nurse, personas.clinic_a), chain.patient.pk)
    assert response.status_code == 409 and b"A000900" in response.content
    assert not AuditEvent.objects.filter(action="patient.wristband_print").exists()
