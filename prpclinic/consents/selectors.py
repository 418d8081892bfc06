"""Reads of the consents app, scoped to the clinic, each in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from prpclinic.consents.models import ConsentKind, ConsentSettings, ConsentTemplate, PhotoUse, SignedConsent
from prpclinic.db import compiled_read
from prpclinic.links import address

# A patient's consents on one page; years of yearly re-consent for four forms stay far below this.
PATIENT_CONSENTS_LIMIT = 200


def _label(kind: str) -> str:
    """``micro-needling with PRP``, ``PRP for hair loss``: the form's name inside a sentence."""
    text = ConsentKind(kind).label
    return text[0].lower() + text[1:] if len(text) > 1 and text[1].islower() else text


def _day(moment: dt.datetime, tz_name: str) -> str:
    return f"{timezone.localtime(moment, zoneinfo.ZoneInfo(tz_name)):%Y-%m-%d}"


def _consents(*, clinic_id: int, patient_id: int) -> Any:
    return SignedConsent.objects.filter(clinic_id=clinic_id, patient_id=patient_id)


def consent_blocker(*, clinic_id: int, patient_id: int, treatment: str) -> str | None:
    """Why this patient may not start ``treatment`` now, as a sentence for staff; None when nothing blocks.

    A consent counts when it is signed for this treatment, not revoked and not expired. One query
    when it does; a second one finds the latest consent to say what is wrong with it.
    """
    now = timezone.now()
    consents = _consents(clinic_id=clinic_id, patient_id=patient_id).filter(kind=treatment)
    if consents.filter(expires_at__gt=now, revocation__isnull=True).exists():
        return None
    latest = consents.select_related("revocation", "clinic").order_by("-signed_at").first()
    what = _label(treatment) if treatment in ConsentKind.values else treatment
    if latest is None:
        return f"No valid consent for {what}: no signed consent on record."
    revocation = latest.revocation_or_none()
    if revocation is not None:
        return (
            f"No valid consent for {what}: signed consent revoked on "
            f"{_day(revocation.revoked_at, latest.clinic.timezone)}."
        )
    return f"No valid consent for {what}: signed consent expired on {_day(latest.expires_at, latest.clinic.timezone)}."


def photo_consent(*, clinic_id: int, patient_id: int) -> frozenset[str] | None:
    """The photo uses (``PhotoUse`` values) the patient's currently valid photo consent allows, or None.

    The most recently signed valid photo consent governs (a newer one replaces the older choices).
    """
    consent = (
        _consents(clinic_id=clinic_id, patient_id=patient_id)
        .filter(kind=ConsentKind.PHOTOGRAPHY, expires_at__gt=timezone.now(), revocation__isnull=True)
        .order_by("-signed_at")
        .only("photo_uses")
        .first()
    )
    if consent is None:
        return None
    return frozenset(use for use in consent.photo_uses if use in PhotoUse.values)


def settings_for(*, clinic_id: int) -> ConsentSettings:
    """The clinic's consent settings; the defaults (unsaved) until the clinic changes them."""
    row = ConsentSettings.objects.filter(clinic_id=clinic_id).first()
    return row if row is not None else ConsentSettings(clinic_id=clinic_id)


def current_template(*, clinic_id: int, kind: str) -> ConsentTemplate:
    """The version of ``kind``'s form that is signed today; seeds the defaults on a clinic's first use."""
    template = ConsentTemplate.objects.filter(clinic_id=clinic_id, kind=kind, is_current=True).first()
    if template is None:
        from prpclinic.clinics.models import Clinic
        from prpclinic.consents.services import seed_templates

        seed_templates(clinic=Clinic.objects.get(pk=clinic_id))
        template = ConsentTemplate.objects.get(clinic_id=clinic_id, kind=kind, is_current=True)
    return template


def current_templates(*, clinic_id: int) -> list[ConsentTemplate]:
    """Every form's current version, in the order of ``ConsentKind``; seeds on first use."""
    templates = {t.kind: t for t in ConsentTemplate.objects.filter(clinic_id=clinic_id, is_current=True)}
    if len(templates) < len(ConsentKind.values):
        return [current_template(clinic_id=clinic_id, kind=kind) for kind in ConsentKind.values]
    return [templates[kind] for kind in ConsentKind.values]


def template_versions(*, clinic_id: int, kind: str, limit: int = 100) -> list[ConsentTemplate]:
    """The versions of one form, newest first, with who wrote each."""
    return list(
        ConsentTemplate.objects.filter(clinic_id=clinic_id, kind=kind)
        .select_related("created_by")
        .order_by("-version")[:limit]
    )


def template_get(*, request: HttpRequest, template_id: int) -> ConsentTemplate:
    template = ConsentTemplate.objects.filter(clinic=request.clinic, pk=template_id).first()
    if template is None:
        raise Http404("No such consent form in this clinic.")
    return template


def consent_get(*, request: HttpRequest, consent_id: int, for_update: bool = False) -> SignedConsent:
    """The signed consent ``consent_id`` of the active clinic; another clinic's answers 404."""
    consents = SignedConsent.objects.filter(clinic=request.clinic)
    if for_update:
        consents = consents.select_for_update(of=("self",))
    else:
        consents = consents.select_related(
            "patient", "template", "recorded_by", "revocation", "revocation__revoked_by", "clinic"
        )
    consent = consents.filter(pk=consent_id).first()
    if consent is None:
        raise Http404("No such consent in this clinic.")
    return consent


def patient_consents(*, clinic_id: int, patient_id: int, limit: int = PATIENT_CONSENTS_LIMIT) -> list[SignedConsent]:
    """The patient's signed consents, newest first, with their revocation and who took them. One query."""
    return _patient_consents(clinic_id=clinic_id, patient_id=patient_id, limit=limit)


@compiled_read(limit=PATIENT_CONSENTS_LIMIT)
def _patient_consents(clinic_id: int, patient_id: int) -> QuerySet[SignedConsent]:
    return (
        _consents(clinic_id=clinic_id, patient_id=patient_id)
        .select_related("recorded_by", "revocation", "revocation__revoked_by")
        .defer("signature_png", "witness_signature_png")
        .order_by("-signed_at", "-pk")
    )


def consent_overview(
    *, clinic_id: int, patient_id: int, consents: list[SignedConsent] | None = None
) -> list[dict[str, Any]]:
    """Per form (the three treatments, then photography): the consent that counts now and its status.

    ``consent`` is the newest valid consent, else the newest one of any status, else None;
    ``status`` is ``valid``, ``expired``, ``revoked`` or ``none``. One query.
    ``consents``: ``patient_consents``' rows (its default limit) when the chart has read them already.
    """
    now = timezone.now()
    by_kind: dict[str, list[SignedConsent]] = {kind: [] for kind in ConsentKind.values}
    if consents is None:
        consents = patient_consents(clinic_id=clinic_id, patient_id=patient_id)
    for consent in consents:
        by_kind.setdefault(consent.kind, []).append(consent)
    rows = []
    for kind in ConsentKind.values:
        consents = by_kind[kind]
        valid = [c for c in consents if c.status_at(now) == "valid"]
        shown = valid[0] if valid else (consents[0] if consents else None)
        rows.append(
            {
                "kind": kind,
                "label": ConsentKind(kind).label,
                "consent": shown,
                "status": shown.status_at(now) if shown else "none",
                "uses": shown.photo_use_labels() if shown and kind == ConsentKind.PHOTOGRAPHY else [],
            }
        )
    return rows


def timeline_items(
    *, clinic_id: int, patient_id: int, limit: int = 50, consents: list[SignedConsent] | None = None
) -> list[dict[str, Any]]:
    """Signings and revocations for the chart's timeline (keys: at, kind, title, detail, url). One query.

    ``consents``: ``patient_consents``' newest-first rows when the chart has read them already (no query then).
    """
    items: list[dict[str, Any]] = []
    if consents is None:
        consents = patient_consents(clinic_id=clinic_id, patient_id=patient_id, limit=limit)
    for consent in consents[:limit]:
        url = address("consent_detail", consent.pk)
        label = ConsentKind(consent.kind).label if consent.kind in ConsentKind.values else consent.kind
        who = consent.signer_name
        if consent.signer_relationship != "patient":
            who += f" ({consent.get_signer_relationship_display().lower()})"
        items.append(
            {
                "at": consent.signed_at,
                "kind": "consent",
                "title": f"Consent signed: {label}",
                "detail": f"Version {consent.template_version}, signed by {who}",
                "url": url,
            }
        )
        revocation = consent.revocation_or_none()
        if revocation is not None:
            items.append(
                {
                    "at": revocation.revoked_at,
                    "kind": "consent",
                    "title": f"Consent revoked: {label}",
                    "detail": revocation.reason,
                    "url": url,
                }
            )
    items.sort(key=lambda item: item["at"], reverse=True)
    return items[:limit]
