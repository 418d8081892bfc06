"""The signed consent as a document: HTML for WeasyPrint and the frozen PDF made from it.

Rendering only: no views, no access checks, no audit (services and views do those). Only
``data:`` URIs are fetched while rendering (the signature images): no file or network access.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.template.loader import render_to_string
from django.utils import timezone

from prpclinic.consents.defaults import headings_for
from prpclinic.consents.models import PhotoUse, SignerRelationship
from prpclinic.consents.signature import data_url

if TYPE_CHECKING:
    from prpclinic.clinics.models import Clinic
    from prpclinic.consents.models import ConsentTemplate, SignedConsent
    from prpclinic.patients.models import Patient

# WeasyPrint logs every rendering step at INFO: noise in the app's log, unless configured otherwise.
if logging.getLogger("weasyprint.progress").level == logging.NOTSET:
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Signing:
    """Everything the document shows about one signing, before the record exists."""

    clinic: Clinic
    patient: Patient
    template: ConsentTemplate
    signer_name: str
    signer_relationship: str
    signature_png: bytes
    meaning: str
    signed_at: dt.datetime
    expires_at: dt.datetime
    recorded_by_name: str
    witness_name: str = ""
    witness_signature_png: bytes = b""
    photo_uses: tuple[str, ...] = ()


def clinic_time(moment: dt.datetime, tz_name: str) -> str:
    """``2026-03-01 14:05 Europe/Vienna (13:05 UTC)``: the clinic's wall clock and the stored UTC."""
    local = timezone.localtime(moment, zoneinfo.ZoneInfo(tz_name))
    utc = timezone.localtime(moment, dt.UTC)
    return f"{local:%Y-%m-%d %H:%M} {tz_name} ({utc:%Y-%m-%d %H:%M} UTC)"


def meaning_for(*, statement: str, signer_name: str, relationship: str, patient: Patient) -> str:
    """What the signature means, as the record and the PDF show it."""
    if relationship == SignerRelationship.PATIENT:
        return statement
    role = SignerRelationship(relationship).label.lower()
    return (
        f"{statement}\nI, {signer_name}, sign as the patient's {role} on behalf of "
        f"{patient.given_name} {patient.family_name}, and I am entitled to give this consent for them."
    )


def document_html(signing: Signing) -> str:
    """The HTML the PDF is made from (tests read it: WeasyPrint's output is compressed)."""
    template = signing.template
    headings = headings_for(template.kind)
    context = {
        "clinic": signing.clinic,
        "patient": signing.patient,
        "template": template,
        "sections": [(headings[name], getattr(template, name)) for name in template.SECTIONS],
        "signer_name": signing.signer_name,
        "relationship": SignerRelationship(signing.signer_relationship).label,
        "signature": data_url(signing.signature_png),
        "meaning": signing.meaning,
        "signed_at": clinic_time(signing.signed_at, signing.clinic.timezone),
        "expires_at": clinic_time(signing.expires_at, signing.clinic.timezone),
        "recorded_by": signing.recorded_by_name,
        "witness_name": signing.witness_name,
        "witness_signature": data_url(signing.witness_signature_png) if signing.witness_signature_png else "",
        "photo_uses": [(use.label, use.value in signing.photo_uses) for use in PhotoUse]
        if template.kind == "photography"
        else [],
    }
    return render_to_string("consents/document.html", context)


def html_to_pdf(html: str) -> bytes:
    # Imported here: WeasyPrint loads Pango and fonts, which only document rendering needs.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols=("data",), allow_redirects=False)
    return HTML(string=html, url_fetcher=fetcher).write_pdf()


def signing_of(consent: SignedConsent) -> Signing:
    """The signing a stored consent records, to render its document again (the PDF kept is the original)."""
    return Signing(
        clinic=consent.clinic,
        patient=consent.patient,
        template=consent.template,
        signer_name=consent.signer_name,
        signer_relationship=consent.signer_relationship,
        signature_png=bytes(consent.signature_png),
        meaning=consent.meaning,
        signed_at=consent.signed_at,
        expires_at=consent.expires_at,
        recorded_by_name=consent.recorded_by.full_name,
        witness_name=consent.witness_name,
        witness_signature_png=bytes(consent.witness_signature_png),
        photo_uses=tuple(consent.photo_uses),
    )
