"""``prpclinic send_reminders``: claim what is due and enqueue it. Run every few minutes (systemd timer)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from prpclinic.reminders.dispatch import enqueue_due


class Command(BaseCommand):
    help = "Find reminders, aftercare and next-session messages that are due, claim each once and queue it for sending."

    def handle(self, *args: Any, **options: Any) -> None:
        result = enqueue_due()
        parts = ", ".join(f"{key} {n}" for key, n in sorted(result.claimed.items())) or "nothing due"
        self.stdout.write(f"Queued {result.total} message(s): {parts}; re-queued {result.requeued}.")
