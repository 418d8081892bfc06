"""The append-only audit trail.

Events are inserted freely (no lock); a short sealing step then gives each event the next
sequence number of its chain (one chain per clinic, plus a "global" chain for events without a
clinic, such as failed logins of unknown names) and an HMAC over the event and the previous
HMAC. Seals are append-only too. On PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE
on both tables (migration 0002).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

GLOBAL_CHAIN = "global"


def chain_key_for(clinic_id: int | None) -> str:
    return f"clinic:{clinic_id}" if clinic_id else GLOBAL_CHAIN


class AuditEvent(models.Model):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    chain_key = models.CharField(max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Kept as text so the event says who acted even if the account changes later.
    actor_label = models.CharField(max_length=254, blank=True)
    role = models.CharField(max_length=20, blank=True)
    action = models.CharField(max_length=40)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "-created_at"], name="audit_clinic_time"),
            models.Index(fields=["clinic", "action", "-created_at"], name="audit_clinic_action"),
            models.Index(fields=["clinic", "object_type", "object_id"], name="audit_clinic_object"),
            models.Index(fields=["clinic", "actor", "-created_at"], name="audit_clinic_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.object_type}#{self.object_id}"


class AuditSeal(models.Model):
    """The place of one event in its chain and the HMAC that binds it to the previous one."""

    event = models.OneToOneField(AuditEvent, on_delete=models.PROTECT, primary_key=True, related_name="seal")
    chain_key = models.CharField(max_length=40)
    seq = models.PositiveBigIntegerField()
    hmac = models.CharField(max_length=64)
    sealed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain_key", "seq"], name="audit_seal_chain_seq")]

    def __str__(self) -> str:
        return f"{self.chain_key} #{self.seq}"


class AuditChain(models.Model):
    """The head of one chain: the row the sealing step locks, and where the chain ends."""

    key = models.CharField(max_length=40, primary_key=True)
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hmac = models.CharField(max_length=64, default="")

    def __str__(self) -> str:
        return f"{self.key} at #{self.last_seq}"


class AuditPending(models.Model):
    """Events written but not yet sealed; a small queue, emptied by every seal."""

    event = models.OneToOneField(AuditEvent, on_delete=models.CASCADE, primary_key=True, related_name="+")
    chain_key = models.CharField(max_length=40)

    class Meta:
        indexes = [models.Index(fields=["chain_key", "event"], name="audit_pending_chain")]

    def __str__(self) -> str:
        return f"pending {self.event_id}"
