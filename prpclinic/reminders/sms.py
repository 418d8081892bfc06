"""Sending SMS: a small backend interface, chosen by ``settings.SMS_BACKEND`` (env ``SMS_BACKEND``).

Built in: ``console`` prints each message to standard output, as Django's console e-mail
backend does (development and demos); ``locmem`` keeps them in ``outbox`` (tests). A real
gateway is a class with ``send(*, to, text)`` named by its dotted path. The log line a backend
writes carries no number and no text: those are patient data.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Protocol, TextIO

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("prpclinic.reminders.sms")

ALIASES = {
    "console": "prpclinic.reminders.sms.ConsoleSmsBackend",
    "locmem": "prpclinic.reminders.sms.LocmemSmsBackend",
}


class SmsBackend(Protocol):
    def send(self, *, to: str, text: str) -> None:
        """Hand one message to the gateway; raise on failure (the reminder is then logged as failed)."""


class ConsoleSmsBackend:
    """Prints the message (the developer's console); logs only that one was sent, and its length."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, *, to: str, text: str) -> None:
        self.stream.write(f"SMS to {to}\n{text}\n{'-' * 40}\n")
        self.stream.flush()
        logger.info("sms.console sent %d characters", len(text))


@dataclass(frozen=True)
class SmsMessage:
    to: str
    text: str


# What LocmemSmsBackend "sent" in this process; tests empty it as they need.
outbox: list[SmsMessage] = []


class LocmemSmsBackend:
    def send(self, *, to: str, text: str) -> None:
        outbox.append(SmsMessage(to=to, text=text))


def get_backend() -> SmsBackend:
    name = getattr(settings, "SMS_BACKEND", "console") or "console"
    return import_string(ALIASES.get(name, name))()
