"""The aftercare handout: what the patient takes home after a visit, printed or e-mailed.

The instructions are the treatment protocol's own ``aftercare`` text from the catalogue (the
clinic edits it there); the clinic's contact details and "what to watch for" come from its
``AftercareContact``. Nothing here adds a clinical number: the default "watch for" text names
warning signs only, and the clinic can replace it.

Rendering only: no access checks, no audit (the services do those).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.template.loader import render_to_string

from prpclinic.aftercare.models import AftercareContact
from prpclinic.prp.labels import html_to_pdf
from prpclinic.visits.selectors import protocol_of

if TYPE_CHECKING:
    from prpclinic.visits.models import Visit

# Used while the clinic has not written its own: warning signs of infection and allergy in plain
# words, no durations or temperatures (those are the clinic's to set, PRP_REFERENCE has none).
DEFAULT_WATCH_FOR = (
    "Call us if pain, redness or swelling gets worse instead of better, if the treated skin becomes hot, "
    "oozes or forms pus, if you feel feverish or unwell, or if you notice blisters, a rash or itching.\n"
    "Call the emergency number at once if your face, lips or throat swell or you have trouble breathing."
)
NO_CONTACT = "Call the clinic on its usual number."


@dataclass(frozen=True)
class Handout:
    clinic_name: str
    treatment: str
    visit_date: str
    clinician: str
    instructions: str
    watch_for: str
    contact_lines: tuple[str, ...]
    source: str

    def as_text(self) -> str:
        """The plain-text version: the e-mail body, and what the handout record keeps."""
        parts = [
            f"Aftercare after your {self.treatment.lower()} at {self.clinic_name} on {self.visit_date}",
            "",
            "What to do",
            self.instructions.strip(),
            "",
            "What to watch for",
            self.watch_for.strip(),
            "",
            "Whom to call",
            *self.contact_lines,
            "",
            f"Treated by {self.clinician}.",
        ]
        return "\n".join(parts) + "\n"


def visit_protocol(visit: Visit) -> Any | None:
    """The protocol version the visit followed (its own, or for older visits the current one)."""
    return protocol_of(visit)


def contact_of(clinic_id: int) -> AftercareContact:
    """The clinic's contact settings, or unsaved blank ones."""
    return AftercareContact.objects.filter(clinic_id=clinic_id).first() or AftercareContact(clinic_id=clinic_id)


def contact_lines(contact: AftercareContact) -> tuple[str, ...]:
    lines: list[str] = []
    if contact.phone:
        lines.append(f"{contact.phone}" + (f" ({contact.hours})" if contact.hours else ""))
    if contact.out_of_hours:
        lines.append(contact.out_of_hours.strip())
    return tuple(lines) or (NO_CONTACT,)


def handout_for(visit: Visit) -> Handout | None:
    """The handout of ``visit``; None when its protocol has no aftercare text written."""
    protocol = visit_protocol(visit)
    text = (getattr(protocol, "aftercare", "") or "").strip() if protocol is not None else ""
    if not text:
        return None
    contact = contact_of(visit.clinic_id)
    zone = zoneinfo.ZoneInfo(visit.clinic.timezone)
    version = getattr(protocol, "version", None)
    source = visit.get_treatment_display() + (f", protocol v{version}" if version is not None else "")
    return Handout(
        clinic_name=visit.clinic.name,
        treatment=visit.get_treatment_display(),
        visit_date=f"{visit.started_at.astimezone(zone):%Y-%m-%d}",
        clinician=visit.clinician.full_name,
        instructions=text,
        watch_for=contact.watch_for.strip() or DEFAULT_WATCH_FOR,
        contact_lines=contact_lines(contact),
        source=source[:200],
    )


def handout_html(handout: Handout) -> str:
    return render_to_string("aftercare/handout_pdf.html", {"h": handout})


def handout_pdf(handout: Handout) -> bytes:
    return html_to_pdf(handout_html(handout))
