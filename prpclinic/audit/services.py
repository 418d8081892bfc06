"""Writing, sealing and verifying the audit trail.

``audit_record`` inserts an event without taking any lock, so clinical writes never queue
behind the audit chain. ``audit_seal_chain`` runs after the writing transaction commits, in a
background thread of the process (``audit.sealer``; inline under test), and from
``verify_audit``: it locks the chain's head row for a few milliseconds, gives each pending
event the next sequence number and an HMAC over the event and the previous HMAC, and moves
the chain's head. The HMAC key lives outside the database (settings.AUDIT_HMAC_KEY).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.http import HttpRequest

from prpclinic.audit.models import AuditChain, AuditEvent, AuditPending, AuditSeal, chain_key_for
from prpclinic.audit.sealer import sealer

SEAL_BATCH = 2000


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address: behind our proxy (a trusted REMOTE_ADDR), the one nginx passes on."""
    if request is None:
        return None
    remote = request.META.get("REMOTE_ADDR") or None
    if remote in settings.TRUSTED_PROXIES:
        forwarded = request.META.get("HTTP_X_REAL_IP", "").strip()
        try:
            return str(ipaddress.ip_address(forwarded)) if forwarded else remote
        except ValueError:
            return remote
    return remote


def audit_record(
    *,
    action: str,
    request: HttpRequest | None = None,
    actor: Any = None,
    clinic: Any = None,
    role: str | None = None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event; who, clinic and role default to those of ``request``.

    Side effects: inserts the event in the caller's transaction (the database adds its
    pending marker: migration audit 0003), and seals the chain once that transaction commits.
    """
    if request is not None:
        user = getattr(request, "user", None)
        if actor is None and user is not None and user.is_authenticated:
            actor = user
        if clinic is None:
            clinic = getattr(request, "clinic", None)
        if role is None:
            membership = getattr(request, "membership", None)
            role = membership.role if membership is not None else ""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    clinic_id = clinic.pk if clinic is not None else None
    key = chain_key_for(clinic_id)
    # One INSERT, atomic by itself: a read (a chart opening) costs one statement and one commit.
    event = AuditEvent.objects.create(
        clinic_id=clinic_id,
        chain_key=key,
        actor=actor,
        actor_label=getattr(actor, "email", "") or "",
        role=role or "",
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id != "" else "",
        changes=_jsonable(changes or {}),
        source_ip=client_ip(request),
    )
    # Outside a transaction this runs at once; inside one, after its commit (never on rollback).
    transaction.on_commit(lambda: sealer.request(key), robust=True)
    return event


def _jsonable(changes: dict[str, Any]) -> dict[str, Any]:
    """Values as text, so that the JSON stored is the JSON read back on every database."""
    return json.loads(json.dumps(changes, default=str, sort_keys=True))


def canonical(event: AuditEvent) -> str:
    """The bytes an HMAC covers: every column of the event, in a fixed order."""
    return json.dumps(
        {
            "id": event.pk,
            "clinic": event.clinic_id,
            "chain": event.chain_key,
            "actor": event.actor_id,
            "actor_label": event.actor_label,
            "role": event.role,
            "action": event.action,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "changes": event.changes,
            "source_ip": event.source_ip,
            "created_at": event.created_at.isoformat(),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )


def event_hmac(*, chain_key: str, seq: int, previous: str, event: AuditEvent) -> str:
    message = f"{chain_key}|{seq}|{previous}|{canonical(event)}".encode()
    return hmac.new(settings.AUDIT_HMAC_KEY.encode(), message, hashlib.sha256).hexdigest()


def _locked_head(key: str) -> AuditChain:
    try:
        return AuditChain.objects.select_for_update().get(key=key)
    except AuditChain.DoesNotExist:
        try:
            with transaction.atomic():
                AuditChain.objects.create(key=key)
        except IntegrityError:
            pass  # another sealer created it first
        return AuditChain.objects.select_for_update().get(key=key)


def audit_seal_chain(*, key: str) -> int:
    """Seal every pending event of one chain, in the order they were inserted.

    Side effects: inserts AuditSeal rows, deletes their pending markers, moves the chain head.
    Returns how many events were sealed.
    """
    sealed = 0
    while True:
        with transaction.atomic():
            head = _locked_head(key)
            pending_ids = list(
                AuditPending.objects.filter(chain_key=key)
                .order_by("event_id")
                .values_list("event_id", flat=True)[:SEAL_BATCH]
            )
            if not pending_ids:
                return sealed
            events = AuditEvent.objects.filter(pk__in=pending_ids).order_by("pk")
            seals = []
            seq, previous = head.last_seq, head.last_hmac
            for event in events:
                seq += 1
                previous = event_hmac(chain_key=key, seq=seq, previous=previous, event=event)
                seals.append(AuditSeal(event=event, chain_key=key, seq=seq, hmac=previous))
            AuditSeal.objects.bulk_create(seals)
            AuditPending.objects.filter(pk__in=pending_ids).delete()
            head.last_seq, head.last_hmac = seq, previous
            head.save(update_fields=["last_seq", "last_hmac"])
            sealed += len(seals)
        if len(pending_ids) < SEAL_BATCH:
            return sealed


def audit_seal_all() -> int:
    keys = set(AuditPending.objects.values_list("chain_key", flat=True).distinct())
    return sum(audit_seal_chain(key=key) for key in sorted(keys))


@dataclass(frozen=True)
class ChainReport:
    key: str
    verified: int
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def audit_verify_chain(*, key: str) -> ChainReport:
    """Walk one chain from its start and report the first tampered or missing event."""
    expected_seq, previous, count = 1, "", 0
    seals = AuditSeal.objects.filter(chain_key=key).select_related("event").order_by("seq").iterator(chunk_size=2000)
    for seal in seals:
        if seal.seq != expected_seq:
            return ChainReport(
                key,
                count,
                f"event #{expected_seq} of the chain is missing (next found: #{seal.seq}, event id {seal.event_id})",
            )
        event = seal.event
        if event.chain_key != key:
            return ChainReport(key, count, f"event #{seal.seq} (id {event.pk}) was moved to another chain")
        good = event_hmac(chain_key=key, seq=seal.seq, previous=previous, event=event)
        if not hmac.compare_digest(good, seal.hmac):
            return ChainReport(
                key, count, f"event #{seal.seq} (id {event.pk}, {event.action}) was changed after it was sealed"
            )
        previous, expected_seq, count = seal.hmac, expected_seq + 1, count + 1
    head = AuditChain.objects.filter(key=key).first()
    if head is not None and (head.last_seq != count or head.last_hmac != previous):
        return ChainReport(
            key, count, f"the chain ends at #{count} but its head says #{head.last_seq}: events are missing at the end"
        )
    return ChainReport(key, count)


def audit_verify_all() -> list[ChainReport]:
    """Seal what is pending, then verify every chain, including events that lost their seal."""
    audit_seal_all()
    keys = set(AuditChain.objects.values_list("key", flat=True)) | set(
        AuditEvent.objects.values_list("chain_key", flat=True).distinct()
    )
    reports = [audit_verify_chain(key=key) for key in sorted(keys)]
    unsealed = AuditEvent.objects.filter(seal__isnull=True).values_list("pk", "chain_key").order_by("pk").first()
    if unsealed is not None:
        pk, key = unsealed
        reports = [
            ChainReport(r.key, r.verified, r.problem or f"event id {pk} has no seal: its seal was removed")
            if r.key == key
            else r
            for r in reports
        ]
    return reports
