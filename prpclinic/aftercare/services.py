"""Writes of the aftercare app: adverse events and their outcomes, aftercare handouts, contact settings.

Each runs in one transaction, checks the role, and writes its audit event inside it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from prpclinic.aftercare import instructions, selectors
from prpclinic.aftercare.models import (
    AdverseEvent,
    AdverseEventOutcome,
    AdverseEventType,
    AftercareContact,
    AftercareHandout,
    HandoutMethod,
)
from prpclinic.audit.services import audit_record
from prpclinic.clinics import access
from prpclinic.clinics.tasks import send_email
from prpclinic.visits.models import VisitStatus

# A clock a minute or so ahead on the tablet must not refuse an event that is happening now.
CLOCK_SKEW = dt.timedelta(minutes=2)
NO_INSTRUCTIONS = (
    "No aftercare instructions are written for this treatment's protocol: a physician or the clinic admin "
    "writes them in the treatment catalogue."
)


def _check_onset(onset_at: dt.datetime, visit_started_at: dt.datetime, field: str = "onset_at") -> None:
    if onset_at > timezone.now() + CLOCK_SKEW:
        raise ValidationError({field: "The onset cannot be in the future."})
    # An event of this visit cannot begin before the visit's day (it may be reported days later).
    visit_day = timezone.localtime(visit_started_at).replace(hour=0, minute=0, second=0, microsecond=0)
    if onset_at < visit_day:
        raise ValidationError({field: "The onset cannot be before the visit."})


def adverse_event_record(
    *,
    request: HttpRequest,
    visit_id: int,
    type: str,
    type_other: str = "",
    severity: str,
    serious: bool,
    onset_at: dt.datetime,
    description: str = "",
    action_taken: str,
    outcome: str,
    outcome_note: str = "",
) -> AdverseEvent:
    """Record an adverse event of a visit with its first outcome.

    Side effects: an ``AdverseEvent`` and its first ``AdverseEventOutcome``; audits
    ``adverse_event.record`` with the coded values (no free text in the audit trail).
    """
    access.require(request, "visit.adverse")
    with transaction.atomic():
        visit = selectors.visit_get(request=request, visit_id=visit_id)
        if type != AdverseEventType.OTHER:
            type_other = ""
        elif not type_other.strip():
            raise ValidationError({"type_other": "Say what the event was."})
        _check_onset(onset_at, visit.started_at)
        event = AdverseEvent(
            clinic=request.clinic,
            visit=visit,
            patient=visit.patient,
            type=type,
            type_other=type_other.strip(),
            severity=severity,
            serious=serious,
            onset_at=onset_at,
            description=description.strip(),
            action_taken=action_taken.strip(),
            recorded_by=request.user,
        )
        event.full_clean()
        event.save()
        first = AdverseEventOutcome(
            clinic=request.clinic, event=event, outcome=outcome, note=outcome_note.strip(), recorded_by=request.user
        )
        first.full_clean()
        first.save()
        audit_record(
            action="adverse_event.record",
            request=request,
            obj=event,
            changes={
                "visit": visit.pk,
                "type": type,
                "severity": severity,
                "serious": serious,
                "onset_at": onset_at.isoformat(),
                "outcome": outcome,
            },
        )
    return event


def adverse_event_add_outcome(
    *, request: HttpRequest, event_id: int, outcome: str, note: str = "", assessed_at: dt.datetime | None = None
) -> AdverseEventOutcome:
    """Add a follow-up outcome to an adverse event; earlier outcomes stay as they were.

    Side effects: one ``AdverseEventOutcome``; audits ``adverse_event.outcome`` with the old and new outcome.
    """
    access.require(request, "visit.adverse")
    with transaction.atomic():
        event = selectors.event_get(request=request, event_id=event_id)
        assessed_at = assessed_at or timezone.now()
        if assessed_at > timezone.now() + CLOCK_SKEW:
            raise ValidationError({"assessed_at": "The assessment cannot be in the future."})
        if assessed_at < event.onset_at:
            raise ValidationError({"assessed_at": "The assessment cannot be before the onset."})
        previous = list(event.outcomes.all())
        update = AdverseEventOutcome(
            clinic=request.clinic,
            event=event,
            outcome=outcome,
            note=note.strip(),
            assessed_at=assessed_at,
            recorded_by=request.user,
        )
        update.full_clean()
        update.save()
        audit_record(
            action="adverse_event.outcome",
            request=request,
            obj=event,
            changes={"outcome": [previous[-1].outcome if previous else None, outcome]},
        )
    return update


def _handout_or_refuse(visit: Any) -> instructions.Handout:
    if visit.status == VisitStatus.CANCELLED:
        raise ValidationError("This visit was cancelled: there is no aftercare to give.")
    handout = instructions.handout_for(visit)
    if handout is None:
        raise ValidationError(NO_INSTRUCTIONS)
    return handout


def aftercare_print(*, request: HttpRequest, visit_id: int) -> tuple[AftercareHandout, bytes]:
    """The aftercare handout of a visit as a PDF to print, recorded with its text.

    Side effects: one ``AftercareHandout`` (method print); audits ``aftercare.print``.
    Refused for a cancelled visit and while the protocol has no aftercare text.
    """
    access.require(request, "aftercare.send")
    visit = selectors.visit_get(request=request, visit_id=visit_id)
    handout = _handout_or_refuse(visit)
    pdf = instructions.handout_pdf(handout)  # rendered before the transaction: no lock held meanwhile
    with transaction.atomic():
        record = AftercareHandout(
            clinic=request.clinic,
            visit=visit,
            patient=visit.patient,
            method=HandoutMethod.PRINT,
            source=handout.source,
            text=handout.as_text(),
            by=request.user,
        )
        record.full_clean()
        record.save()
        audit_record(action="aftercare.print", request=request, obj=record, changes={"visit": visit.pk})
    return record, pdf


def aftercare_email(*, request: HttpRequest, visit_id: int) -> AftercareHandout:
    """E-mail the aftercare handout to the patient's address on file, and record it.

    Side effects: one ``AftercareHandout`` (method e-mail, the address and the text); one e-mail
    queued through ``clinics.tasks.send_email`` once the transaction commits; audits
    ``aftercare.send`` (the address, never the body). Refused without an address on file.
    """
    access.require(request, "aftercare.send")
    visit = selectors.visit_get(request=request, visit_id=visit_id)
    handout = _handout_or_refuse(visit)
    address = visit.patient.email.strip()
    if not address:
        raise ValidationError("This patient has no e-mail address on file: add one to the record, or print instead.")
    body = handout.as_text()
    with transaction.atomic():
        record = AftercareHandout(
            clinic=request.clinic,
            visit=visit,
            patient=visit.patient,
            method=HandoutMethod.EMAIL,
            to_address=address,
            source=handout.source,
            text=body,
            by=request.user,
        )
        record.full_clean()
        record.save()
        audit_record(action="aftercare.send", request=request, obj=record, changes={"visit": visit.pk, "to": address})
        # Queued on commit: no e-mail for a handout that was rolled back.
        subject = f"Your aftercare instructions from {handout.clinic_name}"
        transaction.on_commit(lambda: send_email.enqueue(subject=subject, body=body, to=[address]))
    return record


CONTACT_FIELDS = ("phone", "hours", "out_of_hours", "watch_for")


def aftercare_contact_save(*, request: HttpRequest, data: dict[str, Any]) -> AftercareContact:
    """Save the clinic's aftercare contact details and "what to watch for" text.

    Side effects: creates or updates the clinic's ``AftercareContact``; audits ``aftercare.contact``
    with old and new values.
    """
    access.require(request, "catalogue.edit")
    unknown = set(data) - set(CONTACT_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        contact = AftercareContact.objects.select_for_update().filter(clinic=request.clinic).first()
        if contact is None:
            contact = AftercareContact(clinic=request.clinic)
        changes = {
            name: [getattr(contact, name), value] for name, value in data.items() if getattr(contact, name) != value
        }
        for name, value in data.items():
            setattr(contact, name, value)
        contact.updated_by = request.user
        contact.updated_at = timezone.now()
        contact.full_clean()
        contact.save()
        audit_record(action="aftercare.contact", request=request, obj=contact, changes=changes)
    return contact
