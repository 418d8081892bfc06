"""Printable labels: the tubes and the syringe of a PRP product, and the patient's wristband.

Each label carries its ID twice, as Code 128 (any linear scanner) and as DataMatrix (2D
imagers, smudged or curved labels), both drawn by zxing-cpp and embedded as vector SVG so that
no viewer or printer driver blurs the bars. Times are shown in the clinic's time zone.

The labels follow STANDARDS.md ("Patient identity and autologous products"): two patient
identifiers (name and date of birth), the record number, the product ID, collection and
preparation times, the expiry to the minute, the volume, the storage temperature and
"FOR AUTOLOGOUS USE ONLY". The syringe label is printed only once the product is prepared: a
syringe label without an expiry must never exist. Tube labels are printed from the draw on,
so that the tubes can be labelled in the patient's presence.

Rendering only: no views, no access checks, no audit (the views do those).
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import zxingcpp
from django.template.loader import render_to_string

from prpclinic.prp.models import Anticoagulant
from prpclinic.prp.services.draw import patient_barcode

if TYPE_CHECKING:
    from prpclinic.patients.models import Patient
    from prpclinic.prp.models import Product

LAYOUT_ROLL = "50x25"
LAYOUT_SHEET = "sheet"
LAYOUTS = (LAYOUT_ROLL, LAYOUT_SHEET)

STORAGE_NOTE = "Store at room temperature 20–24 °C. Do not refrigerate."
AUTOLOGOUS = "FOR AUTOLOGOUS USE ONLY"
NOT_YET = "—"

# WeasyPrint logs every rendering step at INFO: noise in the app's log, unless configured otherwise.
if logging.getLogger("weasyprint.progress").level == logging.NOTSET:
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

# Label geometry (mm). The Code 128 is as wide as the label allows, its bars at most this wide.
LABEL_INNER_WIDTH_MM = 47.6
CODE128_MAX_MODULE_MM = 0.25
# "FAMILY, Given" up to this many characters -> this CSS class (font size); longer: name-xs,
# cut with an ellipsis if need be (the MRN, the date of birth and the barcodes stay whole).
NAME_SIZES = ((24, "name-l"), (30, "name-m"), (38, "name-s"))


@dataclass(frozen=True)
class Barcodes:
    content: str
    code128_uri: str
    code128_width_mm: float
    datamatrix_uri: str


@dataclass(frozen=True)
class ProductLabel:
    kind: str  # "tube" or "syringe"
    barcodes: Barcodes
    heading: str
    lines: tuple[str, ...]
    emphasis: str = ""  # the expiry, in bold


@dataclass(frozen=True)
class PatientLines:
    name: str
    name_size: str
    born: str
    mrn: str


def _modules_svg_uri(barcode: zxingcpp.Barcode) -> tuple[str, int]:
    """The symbol (quiet zones included) as an SVG data URI, one unit per module; and its width."""
    image = barcode.to_image(scale=1, add_quiet_zones=True)
    height, width = image.shape
    pixels = memoryview(image).tobytes()  # type: ignore[arg-type]  # the stub omits its buffer protocol
    if barcode.format == zxingcpp.BarcodeFormat.Code128:
        rows = [pixels[:width]]  # every row of a linear code is the same: draw one, stretched
        height = 1
    else:
        rows = [pixels[y * width : (y + 1) * width] for y in range(height)]
    path: list[str] = []
    for y, row in enumerate(rows):
        x = 0
        while x < width:
            if row[x] >= 128:
                x += 1
                continue
            start = x
            while x < width and row[x] < 128:
                x += 1
            path.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="none" shape-rendering="crispEdges">'
        f'<rect width="{width}" height="{height}" fill="#fff"/><path d="{"".join(path)}"/></svg>'
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii"), width


def barcodes_for(content: str) -> Barcodes:
    """Code 128 and a square DataMatrix for ``content``."""
    code128 = zxingcpp.create_barcode(content, zxingcpp.BarcodeFormat.Code128)
    code128_uri, modules = _modules_svg_uri(code128)
    datamatrix = zxingcpp.create_barcode(content, zxingcpp.BarcodeFormat.DataMatrix, force_square=True)
    datamatrix_uri, _ = _modules_svg_uri(datamatrix)
    width = min(LABEL_INNER_WIDTH_MM, modules * CODE128_MAX_MODULE_MM)
    return Barcodes(content, code128_uri, round(width, 2), datamatrix_uri)


def local_time(when: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> str:
    """``2026-03-01 14:05``, in the clinic's zone; "—" when not yet known."""
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M") if when is not None else NOT_YET


def millilitres(volume: Decimal | None) -> str:
    """``3.0 mL``, ``2.75 mL``: one decimal at least, two when needed."""
    if volume is None:
        return NOT_YET
    text = f"{volume:.2f}"
    return f"{text[:-1] if text.endswith('0') else text} mL"


def patient_lines(patient: Patient) -> PatientLines:
    name = f"{patient.family_name.upper()}, {patient.given_name}"
    size = next((css for limit, css in NAME_SIZES if len(name) <= limit), "name-xs")
    return PatientLines(name=name, name_size=size, born=f"{patient.date_of_birth:%Y-%m-%d}", mrn=patient.mrn)


def product_labels(product: Product) -> list[ProductLabel]:
    """One label per tube, then the syringe's once the product is prepared."""
    draw = product.draw
    zone = zoneinfo.ZoneInfo(product.clinic.timezone)
    collected = local_time(draw.drawn_at, zone)
    whole_blood = f"Whole blood {millilitres(draw.volume_ml)} drawn"
    if draw.anticoagulant in Anticoagulant.values and draw.anticoagulant != Anticoagulant.NONE:
        whole_blood += f" · {Anticoagulant(draw.anticoagulant).label}"
    labels = [
        ProductLabel(
            kind="tube",
            barcodes=barcodes_for(product.tube_barcode(n)),
            heading=f"Tube {n} of {draw.tube_count}",
            lines=(f"Collected {collected}", whole_blood),
        )
        for n in range(1, draw.tube_count + 1)
    ]
    if product.prepared_at is not None:
        prepared = local_time(product.prepared_at, zone)
        if prepared[:10] == collected[:10]:
            prepared = prepared[11:]  # same day: the date is on the line already
        expires = NOT_YET
        if product.expires_at is not None:
            local_expiry = product.expires_at.astimezone(zone)
            expires = f"{local_expiry:%Y-%m-%d %H:%M} {local_expiry.tzname()}"
        labels.append(
            ProductLabel(
                kind="syringe",
                barcodes=barcodes_for(product.barcode),
                heading=f"Platelet-rich plasma {millilitres(product.volume_ml)}",
                lines=(f"Collected {collected} · Prepared {prepared}",),
                emphasis=f"EXPIRES {expires}",
            )
        )
    return labels


def html_to_pdf(html: str) -> bytes:
    """PDF from our own HTML. Only ``data:`` URIs are fetched: no file or network access."""
    # Imported here: WeasyPrint loads Pango and fonts, which only label printing needs.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols=("data",), allow_redirects=False)
    return HTML(string=html, url_fetcher=fetcher).write_pdf()


def product_labels_html(product: Product, *, layout: str = LAYOUT_ROLL) -> str:
    """The labels as HTML for WeasyPrint; ValueError for an unknown layout."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown label layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    labels = product_labels(product)
    context = {
        "product": product,
        "patient": patient_lines(product.patient),
        "labels": labels,
        "tubes": product.draw.tube_count,
        "storage_note": STORAGE_NOTE,
        "autologous": AUTOLOGOUS,
        "layout": layout,
    }
    template = "prp/labels/roll.html" if layout == LAYOUT_ROLL else "prp/labels/sheet.html"
    return render_to_string(template, context)


def product_labels_pdf(product: Product, *, layout: str = LAYOUT_ROLL) -> bytes:
    """The labels of ``product`` as a PDF: ``50x25`` one label a page, or ``sheet`` on A4.

    Raises ValueError for an unknown layout.
    """
    return html_to_pdf(product_labels_html(product, layout=layout))


def wristband_refusal(patient: Patient) -> str:
    """Why no wristband may be printed for this record, or "" when one may."""
    if patient.merged_into_id:
        return f"This record was merged into {patient.merged_into.mrn}: print the wristband from that record."
    if not patient.is_active:
        return "This patient's record is deactivated: reactivate it before printing a wristband."
    return ""


def patient_wristband_pdf(patient: Patient) -> bytes:
    """The wristband or chart-sheet label: ``PT-<MRN>`` as Code 128 and DataMatrix, name, DOB, MRN."""
    context = {
        "patient": patient_lines(patient),
        "barcodes": barcodes_for(patient_barcode(patient.mrn)),
    }
    return html_to_pdf(render_to_string("prp/labels/wristband.html", context))
