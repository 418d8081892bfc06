"""Writes of the consents app: seeding and revising templates, settings, signing, revoking, opening PDFs.

Each write checks its permission, validates before touching anything, runs in one transaction
and writes its audit event inside it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone

from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.clinics.models import Clinic
from prpclinic.consents import defaults, document
from prpclinic.consents.models import (
    ConsentKind,
    ConsentRevocation,
    ConsentSettings,
    ConsentTemplate,
    PhotoUse,
    SignedConsent,
    SignerRelationship,
)
from prpclinic.consents.selectors import consent_get, settings_for
from prpclinic.consents.signature import SignatureError, decode_signature
from prpclinic.patients.selectors import patient_get

logger = logging.getLogger(__name__)

TEMPLATE_FIELDS = ("title", *ConsentTemplate.SECTIONS, "statement", "validity_days")
NAME_MAX = 150


class DocumentMismatch(Exception):
    """The stored PDF is missing or no longer matches the fingerprint taken at signing."""


def seed_templates(*, clinic: Clinic) -> None:
    """Version 1 of each default template for a clinic that has none of that kind. Idempotent.

    Not audited: the texts are the product's defaults (consents/defaults.py), not a person's act.
    """
    have = set(ConsentTemplate.objects.filter(clinic=clinic).values_list("kind", flat=True).distinct())
    for kind in ConsentKind.values:
        if kind in have:
            continue
        text = defaults.TEMPLATES[kind]
        try:
            with transaction.atomic():  # a second request seeding at the same moment loses quietly
                ConsentTemplate.objects.create(
                    clinic=clinic, kind=kind, version=1, is_current=True, change_note="Default text", **text
                )
        except IntegrityError:
            continue


def consent_template_revise(*, request: HttpRequest, kind: str, data: dict[str, Any]) -> ConsentTemplate:
    """Write the next version of ``kind``'s template; the previous one stops being current.

    Signed consents keep pointing at the version they signed. No change: nothing is written.
    Side effects: one new template row, the old row's ``is_current`` cleared, audit ``consent.template_revise``.
    """
    access.require(request, "consent.templates")
    if kind not in ConsentKind.values:
        raise ValidationError("Unknown consent form.")
    unknown = set(data) - {*TEMPLATE_FIELDS, "change_note"}
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    seed_templates(clinic=request.clinic)
    with transaction.atomic():
        current = ConsentTemplate.objects.select_for_update().get(clinic=request.clinic, kind=kind, is_current=True)
        changed = {
            name: [getattr(current, name), data[name]]
            for name in TEMPLATE_FIELDS
            if name in data and getattr(current, name) != data[name]
        }
        if not changed:
            return current
        latest = ConsentTemplate.objects.filter(clinic=request.clinic, kind=kind).aggregate(n=Max("version"))["n"]
        new = ConsentTemplate(
            clinic=request.clinic,
            kind=kind,
            version=(latest or 0) + 1,
            is_current=True,
            created_by=request.user,
            change_note=str(data.get("change_note", "")).strip(),
            **{name: data.get(name, getattr(current, name)) for name in TEMPLATE_FIELDS},
        )
        new.full_clean(exclude=["is_current"], validate_constraints=False)
        current.is_current = False
        current.save(update_fields=["is_current"])
        new.save()
        audit_record(
            action="consent.template_revise",
            request=request,
            obj=new,
            changes={"kind": kind, "version": [current.version, new.version], "fields": sorted(changed)},
        )
    return new


def consent_settings_update(*, request: HttpRequest, witness_required: bool, validity_days: int) -> ConsentSettings:
    """Change the clinic's consent rules. Side effects: the settings row (made on first change), audit."""
    access.require(request, "consent.templates")
    with transaction.atomic():
        row, _ = ConsentSettings.objects.select_for_update().get_or_create(clinic=request.clinic)
        changes = {}
        for name, value in (("witness_required", witness_required), ("validity_days", validity_days)):
            if getattr(row, name) != value:
                changes[name] = [getattr(row, name), value]
                setattr(row, name, value)
        if not changes:
            return row
        row.updated_at = timezone.now()
        row.updated_by = request.user
        row.full_clean()
        row.save()
        audit_record(action="consent.settings", request=request, obj=row, changes=changes)
    return row


def _signature(value: str, field: str, errors: dict[str, list[str]]) -> bytes:
    try:
        return decode_signature(value)
    except SignatureError as exc:
        errors.setdefault(field, []).append(str(exc))
        return b""


def consent_sign(
    *,
    request: HttpRequest,
    patient_id: int,
    kind: str,
    template_id: int,
    signer_name: str,
    signer_relationship: str,
    signature: str,
    witness_name: str = "",
    witness_signature: str = "",
    photo_uses: Iterable[str] = (),
) -> SignedConsent:
    """Record a consent signed on the tablet, with its frozen PDF.

    ``template_id`` is the version shown to the signer: if the template changed meanwhile the
    signing is refused (they must read what they sign). Refused input stores nothing: no row, no file.
    Side effects: renders the PDF (WeasyPrint) and stores it through the storage API, outside the
    transaction so the database is not held while it renders; then, in one transaction, the
    ``SignedConsent`` row (its SHA-256 and template version) and audit ``consent.sign``. The file is
    removed again if that transaction fails.
    """
    access.require(request, "consent.sign")
    patient = patient_get(request=request, patient_id=patient_id)  # another clinic's: 404 first
    if kind not in ConsentKind.values:
        raise ValidationError("Unknown consent form.")
    if not patient.is_active:
        raise ValidationError("This patient's record is deactivated.")
    errors: dict[str, list[str]] = {}
    signer_name = " ".join((signer_name or "").split())
    witness_name = " ".join((witness_name or "").split())
    if not signer_name:
        errors["signer_name"] = ["Type the signer's full name."]
    elif len(signer_name) > NAME_MAX:
        errors["signer_name"] = [f"At most {NAME_MAX} characters."]
    if signer_relationship not in SignerRelationship.values:
        errors["signer_relationship"] = ["Say who signs: the patient or their legal representative."]
    signature_png = _signature(signature, "signature", errors)
    rules = settings_for(clinic_id=request.clinic.pk)
    witness_png = b""
    if rules.witness_required or witness_name or (witness_signature or "").strip():
        if not witness_name:
            errors["witness_name"] = ["Type the witness's full name."]
        elif len(witness_name) > NAME_MAX:
            errors["witness_name"] = [f"At most {NAME_MAX} characters."]
        witness_png = _signature(witness_signature, "witness_signature", errors)
        if "witness_signature" in errors:
            errors["witness_signature"] = ["The witness signs in the witness box too."]
    uses = tuple(use for use in PhotoUse.values if use in set(photo_uses))
    if kind == ConsentKind.PHOTOGRAPHY and not uses:
        errors["photo_uses"] = ["Tick at least one use the patient allows (or do not record a photo consent)."]
    if kind != ConsentKind.PHOTOGRAPHY:
        uses = ()
    template = ConsentTemplate.objects.filter(pk=template_id, clinic=request.clinic, kind=kind).first()
    if template is None:
        errors.setdefault("__all__", []).append("Unknown consent form.")
    elif not template.is_current:
        errors.setdefault("__all__", []).append(
            "This consent form was changed while it was open. Read the new version before signing."
        )
    if errors:
        raise ValidationError(errors)
    assert template is not None

    signed_at = timezone.now()
    validity = template.validity_days or rules.validity_days
    expires_at = signed_at + dt.timedelta(days=validity)
    meaning = document.meaning_for(
        statement=template.statement, signer_name=signer_name, relationship=signer_relationship, patient=patient
    )
    signing = document.Signing(
        clinic=request.clinic,
        patient=patient,
        template=template,
        signer_name=signer_name,
        signer_relationship=signer_relationship,
        signature_png=signature_png,
        meaning=meaning,
        signed_at=signed_at,
        expires_at=expires_at,
        recorded_by_name=request.user.full_name,
        witness_name=witness_name,
        witness_signature_png=witness_png,
        photo_uses=uses,
    )
    pdf = document.html_to_pdf(document.document_html(signing))
    # The name carries no patient data: the clinic, then a random id.
    name = default_storage.save(f"consents/{request.clinic.pk}/{uuid.uuid4().hex}.pdf", ContentFile(pdf))
    try:
        with transaction.atomic():
            if not ConsentTemplate.objects.select_for_update().filter(pk=template.pk, is_current=True).exists():
                raise ValidationError(
                    "This consent form was changed while it was open. Read the new version before signing."
                )
            consent = SignedConsent(
                clinic=request.clinic,
                patient=patient,
                kind=kind,
                template=template,
                template_version=template.version,
                signer_name=signer_name,
                signer_relationship=signer_relationship,
                signature_png=signature_png,
                meaning=meaning,
                photo_uses=list(uses),
                witness_name=witness_name,
                witness_signature_png=witness_png,
                signed_at=signed_at,
                signed_timezone=request.clinic.timezone,
                expires_at=expires_at,
                recorded_by=request.user,
                pdf_name=name,
                pdf_sha256=hashlib.sha256(pdf).hexdigest(),
                pdf_size=len(pdf),
            )
            consent.full_clean()
            consent.save()
            audit_record(
                action="consent.sign",
                request=request,
                obj=consent,
                changes={
                    "patient": patient.pk,
                    "kind": kind,
                    "template_version": template.version,
                    "signer_relationship": signer_relationship,
                    "witness": bool(witness_name),
                    "photo_uses": list(uses),
                    "expires_at": expires_at.isoformat(),
                    "pdf_sha256": consent.pdf_sha256,
                },
            )
    except BaseException:
        default_storage.delete(name)
        raise
    return consent


def consent_revoke(*, request: HttpRequest, consent_id: int, reason: str) -> ConsentRevocation:
    """Record that the patient withdrew a consent. The signed consent stays as it was, now revoked.

    Side effects: one ``ConsentRevocation`` row (who, when, why), audit ``consent.revoke``.
    """
    access.require(request, "consent.sign")
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError({"reason": "Say why, for the record (e.g. the patient's words)."})
    if len(reason) > 500:
        raise ValidationError({"reason": "At most 500 characters."})
    with transaction.atomic():
        consent = consent_get(request=request, consent_id=consent_id, for_update=True)
        if consent.revocation_or_none() is not None:
            raise ValidationError("This consent was already revoked.")
        revocation = ConsentRevocation(clinic=request.clinic, consent=consent, revoked_by=request.user, reason=reason)
        revocation.full_clean(validate_constraints=False)
        revocation.save()
        audit_record(
            action="consent.revoke",
            request=request,
            obj=consent,
            changes={"patient": consent.patient_id, "kind": consent.kind, "reason": reason},
        )
    return revocation


def consent_document_open(*, request: HttpRequest, consent_id: int) -> tuple[SignedConsent, bytes]:
    """The signed PDF for a staff member allowed to view consents, checked and audited as
    :func:`consent_document_verified` does."""
    access.require(request, "consent.view")
    consent = consent_get(request=request, consent_id=consent_id)
    return consent, consent_document_verified(request=request, consent=consent)


def consent_document_verified(
    *,
    request: HttpRequest,
    consent: SignedConsent,
    actor: Any = None,
    clinic: Any = None,
    role: str | None = None,
    changes: dict[str, Any] | None = None,
) -> bytes:
    """The signed PDF's bytes, after checking they still match the SHA-256 taken at signing. Audited.

    Raises ``DocumentMismatch`` when the file is missing or altered: the event is audited as
    ``consent.pdf_mismatch`` and logged (without patient data) so that someone investigates. The caller has
    already decided who may read ``consent``; ``actor``/``clinic``/``role`` name a caller that is not the
    session's staff member (a FHIR token), and ``changes`` adds to both audit events.
    """
    try:
        with default_storage.open(consent.pdf_name, "rb") as handle:
            pdf: bytes | None = handle.read()
    except (FileNotFoundError, OSError):
        pdf = None
    who: dict[str, Any] = {"request": request, "obj": consent}
    if actor is not None or clinic is not None or role is not None:
        who |= {"actor": actor, "clinic": clinic, "role": role}
    extra = changes or {}
    if pdf is None or hashlib.sha256(pdf).hexdigest() != consent.pdf_sha256:
        problem = "missing" if pdf is None else "altered"
        logger.error("Signed consent document %s is %s: its fingerprint does not match.", consent.pk, problem)
        audit_record(
            action="consent.pdf_mismatch",
            **who,
            changes={"problem": problem, "expected_sha256": consent.pdf_sha256, **extra},
        )
        raise DocumentMismatch(problem)
    audit_record(action="consent.download", **who, changes={"patient": consent.patient_id, **extra})
    return pdf
