"""``prpclinic verify_audit``: walk every audit chain and report the first tampered or missing event."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from prpclinic.audit.services import audit_verify_all


class Command(BaseCommand):
    help = "Verify the audit trail's HMAC chains; exits 1 at the first tampered or missing event."

    def handle(self, *args: Any, **options: Any) -> None:
        reports = audit_verify_all()
        bad = [r for r in reports if not r.ok]
        for report in reports:
            state = "ok" if report.ok else f"TAMPERED: {report.problem}"
            self.stdout.write(f"{report.key}: {report.verified} events verified; {state}")
        if bad:
            raise CommandError(f"audit trail verification failed in {len(bad)} chain(s)")
        self.stdout.write(self.style.SUCCESS(f"OK: {sum(r.verified for r in reports)} events in {len(reports)} chains"))
