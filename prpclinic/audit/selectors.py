"""Reads of the audit trail for the clinic admin's page and CSV export."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from prpclinic.audit.models import AuditEvent


@dataclass(frozen=True)
class AuditFilter:
    actor_id: int | None = None
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def audit_events(*, clinic_id: int, where: AuditFilter) -> QuerySet[AuditEvent]:
    """The clinic's events, newest first, filtered; every filter is served by an index."""
    events = AuditEvent.objects.filter(clinic_id=clinic_id).select_related("actor", "seal")
    if where.actor_id:
        events = events.filter(actor_id=where.actor_id)
    if where.action:
        events = events.filter(action=where.action)
    if where.object_type:
        events = events.filter(object_type=where.object_type)
    if where.object_id:
        events = events.filter(object_id=where.object_id)
    if where.date_from:
        events = events.filter(created_at__date__gte=where.date_from)
    if where.date_to:
        events = events.filter(created_at__date__lte=where.date_to)
    return events.order_by("-created_at", "-id")
