"""Test factory of the consents app: a consent signed as staff would take it, PDF included."""

from __future__ import annotations

import io
from typing import Any

from django.test import RequestFactory
from PIL import Image, ImageDraw

from prpclinic.clinics.models import Membership
from prpclinic.consents.models import ConsentKind, PhotoUse, SignedConsent
from prpclinic.consents.selectors import current_template
from prpclinic.consents.services import consent_sign
from prpclinic.consents.signature import data_url


def signature_png(width: int = 300, height: int = 100) -> bytes:
    """A small real PNG with a stroke of ink on a transparent background, as the canvas exports."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    ImageDraw.Draw(image).line((10, height // 2, width - 10, height // 2 + 10), fill=(17, 17, 17, 255), width=4)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def signature_data_url() -> str:
    return data_url(signature_png())


def consent_signed(
    *,
    clinic: Any,
    patient: Any,
    treatment: str,
    by: Any,
    signer_name: str = "",
    photo_uses: tuple[str, ...] = (PhotoUse.CLINICAL_RECORD,),
    witness: bool = False,
) -> SignedConsent:
    """``patient`` signs the current form for ``treatment`` (TreatmentKind value or "photography"), taken by ``by``."""
    request = RequestFactory().post("/")
    request.user = by
    request.clinic = clinic
    request.membership = Membership.objects.get(user=by, clinic=clinic)
    request.session = {}
    template = current_template(clinic_id=clinic.pk, kind=treatment)
    return consent_sign(
        request=request,
        patient_id=patient.pk,
        kind=treatment,
        template_id=template.pk,
        signer_name=signer_name or f"{patient.given_name} {patient.family_name}",
        signer_relationship="patient",
        signature=signature_data_url(),
        witness_name="Walter Witness" if witness else "",
        witness_signature=signature_data_url() if witness else "",
        photo_uses=photo_uses if treatment == ConsentKind.PHOTOGRAPHY else (),
    )
