"""Typed readers for environment variables.

Every setting prpclinic takes from the environment goes through these helpers, and every
variable they read is listed in ``ENV_VARS`` so that the README's configuration table and the
code cannot drift apart (a test compares them).
"""

from __future__ import annotations

import os
from pathlib import Path

# name -> (default shown in the docs, meaning). The README table is checked against this.
ENV_VARS: dict[str, tuple[str, str]] = {
    "DEBUG": ("0 (1 under `make run`)", "Development mode: detailed error pages, console e-mail."),
    "SECRET_KEY": ("generated into `var/` when DEBUG", "Django's signing key; required in production."),
    "AUDIT_HMAC_KEY": (
        "generated into `var/` when DEBUG",
        "Key of the audit trail's HMAC chain; keep it outside the database. Required in production.",
    ),
    "AUDIT_SEAL_DELAY_MS": (
        "250",
        "How long each server process lets new audit events gather before sealing them into the chain "
        "in one transaction (the events themselves are committed at once).",
    ),
    "BACKUP_KEY": (
        "none (`backup` refuses to run)",
        "Key that encrypts backups: 32 bytes, base64 or hex; keep it apart from the backups and from "
        "AUDIT_HMAC_KEY (docs/backups.md).",
    ),
    "DATABASE_URL": ("`sqlite:///var/prpclinic.sqlite3`", "Database; `postgres://…` in production."),
    "DATABASE_PREPARED_STATEMENTS": (
        "1",
        "PostgreSQL: bind parameters on the server and prepare statements a connection runs often, so "
        "they are planned once per connection. Set 0 behind a pooler in transaction mode that cannot "
        "keep prepared statements (PgBouncer before 1.21).",
    ),
    "ALLOWED_HOSTS": ("`127.0.0.1,localhost`", "Comma-separated host names the app answers to."),
    "CSRF_TRUSTED_ORIGINS": ("empty", "Comma-separated origins (scheme and host) trusted for POSTs."),
    "SECURE_SSL": ("1 unless DEBUG", "Secure cookies, HTTPS redirect and HSTS (behind TLS)."),
    "SESSION_IDLE_MINUTES": ("30", "Log a user out after this many minutes without a request."),
    "SESSION_MAX_HOURS": ("12", "Absolute session lifetime, whatever the activity."),
    "LOGIN_FAILURE_LIMIT": ("5", "Failed logins for one account before it is locked."),
    "LOGIN_LOCKOUT_MINUTES": ("15", "How long a locked account stays locked."),
    "PASSWORD_MIN_LENGTH": ("12", "Shortest password accepted."),
    "EMAIL_URL": ("console (prints mail)", "`smtp://user:pass@host:port` (or `smtp+tls://…`) to send mail."),
    "DEFAULT_FROM_EMAIL": ("`prpclinic@localhost`", "Sender address of mails."),
    "MEDIA_ROOT": ("`var/media`", "Where uploaded files are stored (never served publicly)."),
    "STATIC_ROOT": ("`var/static`", "Where `collectstatic` puts static files."),
    "LOG_LEVEL": ("INFO", "Level of the application's logs."),
    "LOG_FORMAT": (
        "json (text when DEBUG)",
        "Log lines as `json` (one object per line) or `text`; see docs/operations-logs.md.",
    ),
    "TRUSTED_PROXIES": (
        "`127.0.0.1,::1`",
        "Addresses of the reverse proxy; from them the client address is taken from `X-Real-IP` (audit trail).",
    ),
    "PORT": ("8000", "Port `make run` serves on."),
    "SITE_URL": (
        "`http://127.0.0.1:8000`",
        "Address of the app as patients reach it: the base of links in reminders (confirm/cancel) and calendar feeds.",
    ),
    "SMS_BACKEND": (
        "console (prints messages)",
        "How reminders' SMS are sent: `console`, `locmem` (tests) or the dotted path of a gateway class "
        "(docs/calendar-and-reminders.md).",
    ),
    "PRPCLINIC_TESTING": ("0", "Test mode, set by the test suite: fixed keys, fast hashing. Never in production."),
}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_secret(name: str) -> str:
    """A secret from ``NAME`` or from the file named by ``NAME_FILE`` (Docker/systemd secrets)."""
    value = os.environ.get(name, "")
    if value:
        return value
    path = os.environ.get(f"{name}_FILE", "")
    if path:
        return Path(path).read_text().strip()
    return ""


def dev_secret(var_dir: Path, filename: str) -> str:
    """A per-checkout secret for development, created once under ``var/``.

    Only used when DEBUG is on, so a demo needs no set-up but no secret is ever committed.
    """
    import secrets

    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / filename
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()
