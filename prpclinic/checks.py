"""Start-up checks of the configuration, with stable IDs (each tested)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_production(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    if not settings.AUDIT_HMAC_KEY:
        problems.append(
            Error(
                "AUDIT_HMAC_KEY is not set: the audit trail cannot be sealed.",
                hint="Set AUDIT_HMAC_KEY or AUDIT_HMAC_KEY_FILE to a long random secret kept outside the database.",
                id="prpclinic.E001",
            )
        )
    elif len(settings.AUDIT_HMAC_KEY) < 32 and not settings.TESTING:
        problems.append(Error("AUDIT_HMAC_KEY is shorter than 32 characters.", id="prpclinic.E002"))
    if not settings.DEBUG and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        problems.append(
            Warning(
                "Production on SQLite: use PostgreSQL (DATABASE_URL=postgres://…).",
                id="prpclinic.W001",
            )
        )
    if not settings.DEBUG and settings.EMAIL_BACKEND.endswith("console.EmailBackend"):
        problems.append(
            Warning(
                "E-mail goes to the console: invitations and password resets will not arrive.",
                hint="Set EMAIL_URL=smtp://user:password@host:587 (or smtp+tls://…).",
                id="prpclinic.W002",
            )
        )
    return problems
