"""Logging without patient data: request IDs, one access line per request, JSON lines, redaction.

- ``RequestIdMiddleware`` (first in ``MIDDLEWARE``) takes the caller's ``X-Request-ID`` when it
  is a sane token, else makes one (uuid4 hex); keeps it in a context variable for every log
  record written while the request runs; returns it in the ``X-Request-ID`` response header;
  and writes one access line per request to the ``prpclinic.access`` logger: method, path
  (never the query string), status, duration, user id and clinic id (never an e-mail).
- ``RequestIdFilter`` copies the current request ID onto each record (``record.request_id``).
- ``RedactFilter`` rewrites each record's message and exception text: database error details
  (``DETAIL:`` lines, ``Key (...)=(...)``, failing rows, rejected input values), e-mail
  addresses, calendar dates, phone numbers, generated record numbers and wristband codes.
  It cannot recognise a name: the rule stays "log ids, never people" (docs/operations-logs.md).
- ``JsonFormatter`` writes one JSON object per line; ``TextFormatter`` a readable line for
  development. Both expect the two filters on their handler (settings.LOGGING does that).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.functional import LazyObject, empty

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_META = "HTTP_X_REQUEST_ID"
# A caller's ID is kept if it looks like an ID: letters, digits and . _ : = + / -, at most 128
# characters. Anything else (spaces, quotes, control characters, "@") is replaced, so that a
# header cannot inject text into the logs.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+/-]{0,127}")
MAX_LOGGED_PATH = 300

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("prpclinic_request_id", default=None)

access_logger = logging.getLogger("prpclinic.access")


def current_request_id() -> str | None:
    """The ID of the request being served by this thread, or None outside a request."""
    return request_id_var.get()


def sane_request_id(value: str | None) -> str | None:
    """``value`` if it is an acceptable request ID, else None."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


# --- Redaction -----------------------------------------------------------------------------------

REDACTED = "[redacted]"

# Order matters: whole database detail lines first, then the patterns that can occur anywhere.
_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PostgreSQL's DETAIL line carries the row's values ("Key (clinic_id, mrn)=(1, A000001) already
    # exists.", "Failing row contains (...)"); psycopg and Django put it in the exception text.
    (re.compile(r"DETAIL:[^\n]*"), f"DETAIL: {REDACTED}"),
    (re.compile(r"(Key \([^)\n]*\))=\([^\n]*?\)(?= already exists| is not present|\.|\n|$)"), rf"\1=({REDACTED})"),
    (re.compile(r"Failing row contains \([^\n]*\)"), f"Failing row contains ({REDACTED})"),
    # Rejected input: 'invalid input syntax for type date: "30.02.1985"', 'value "x" is out of range'.
    (
        re.compile(r"((?:invalid input (?:syntax|value)|malformed [\w ]+literal)[^:\n]*:\s*)\"[^\"\n]*\""),
        rf'\1"{REDACTED}"',
    ),
    (re.compile(r"(value )\"[^\"\n]*\"( is out of range)"), rf'\1"{REDACTED}"\2'),
    # Django's own "expected a number but got 'Anna'" / "'x' value has an invalid format".
    (re.compile(r"(expected a number but got )'[^'\n]*'"), rf"\1'{REDACTED}'"),
    (re.compile(r"[“\"'][^“”\"'\n]{1,200}[”\"'](?= value (?:has|must))"), f"'{REDACTED}'"),
    # E-mail addresses (patients' and staff's).
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    # Calendar dates: 1985-04-30, 30.04.1985, 30/04/1985, 4/30/1985, 30-04-1985.
    (re.compile(r"(?<!\d)\d{4}-\d{1,2}-\d{1,2}(?!\d)"), "[date]"),
    (re.compile(r"(?<![\d.])\d{1,2}[./-]\d{1,2}[./-]\d{4}(?!\d)"), "[date]"),
    # Phone numbers: international (+43 660 1234567, 0043 ...) and national (0660 1234567).
    (re.compile(r"(?<![\w.])(?:\+|00)\d(?:[ ()/.-]{0,2}\d){6,}"), "[phone]"),
    (re.compile(r"(?<![\w.])0\d{2,4}[ /-]?\d(?:[ /-]?\d){4,}"), "[phone]"),
    # Wristband codes (PT-<record number>) and generated record numbers (prefix letters + 6 digits).
    (re.compile(r"\bPT-[A-Za-z0-9-]+"), "PT-[mrn]"),
    (re.compile(r"\b[A-Z]{1,6}\d{6,}\b"), "[mrn]"),
)


def redact(text: str) -> str:
    """``text`` with the known kinds of patient data replaced by placeholders."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _format_exception(exc_info: Any) -> str:
    return "".join(traceback.format_exception(*exc_info)).rstrip("\n")


class RedactFilter(logging.Filter):
    """Redact the message, the exception text and the stack of every record passing the handler.

    The record is changed in place (``msg`` becomes the formatted, redacted message and
    ``args`` empty; ``exc_text`` the redacted traceback), so every formatter after it, and
    every other handler that sees the same record, writes only the redacted text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_prpclinic_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: log what there is rather than nothing
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(record.exc_text or _format_exception(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record._prpclinic_redacted = True
        return True


class RequestIdFilter(logging.Filter):
    """Put the current request's ID on the record (``None`` outside a request).

    django.request logs a 4xx or 5xx response that a view returned (not raised) after the
    middleware has finished, so the ID is also read from the request attached to the record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get() or getattr(getattr(record, "request", None), "request_id", None)
        return True


# --- Formatters ----------------------------------------------------------------------------------

# Fields the access line (or a caller's ``extra``) may carry, written as they are.
EXTRA_FIELDS = ("method", "path", "status", "duration_ms", "user_id", "clinic_id")


def _utc_time(created: float) -> str:
    return dt.datetime.fromtimestamp(created, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _request_fields(request: Any) -> dict[str, Any]:
    """Method, path (no query string), user and clinic ids of the request django.request attaches."""
    if not isinstance(request, HttpRequest):  # runserver attaches its socket under the same name
        return {}
    return {
        "method": request.method,
        "path": loggable_path(request.path),
        "user_id": user_id_of(request),
        "clinic_id": clinic_id_of(request),
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request_id, pid and, when
    known, method, path, status, duration_ms, user_id, clinic_id; exc_type and traceback for
    exceptions. Non-ASCII is escaped, so a line is plain ASCII whatever the locale."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None)
            or request_id_var.get()
            or getattr(getattr(record, "request", None), "request_id", None),
            "pid": record.process,
        }
        for key, value in _request_fields(getattr(record, "request", None)).items():
            if value is not None:
                entry[key] = value
        status_code = getattr(record, "status_code", None)  # django.request's 4xx and 5xx
        if isinstance(status_code, int):
            entry["status"] = status_code
        for key in EXTRA_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = f"{record.exc_info[0].__module__}.{record.exc_info[0].__qualname__}"
            entry["traceback"] = record.exc_text or redact(_format_exception(record.exc_info))
        elif record.exc_text:
            entry["traceback"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=True, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """``time level logger [request id] message`` for reading in a terminal (DEBUG, ``make run``)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get() or "-"
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(_format_exception(record.exc_info))
        return super().format(record)


# --- The middleware ------------------------------------------------------------------------------

# Password-reset links carry a token in the path: keep the route, drop the secret.
_RESET_PATH = re.compile(r"^(/account/reset/)[^/]+/[^/]+/")
# A patient's one-time link and a clinician's calendar feed carry their secret in the path too.
_PUBLIC_TOKEN_PATH = re.compile(r"^(/r/(?:feed/)?)[A-Za-z0-9_-]+(\.ics$|/)")


def loggable_path(path: str) -> str:
    """The path as logged: reset tokens removed, control characters replaced, length bounded."""
    path = _RESET_PATH.sub(r"\1[token]/", path)
    path = _PUBLIC_TOKEN_PATH.sub(r"\1[token]\2", path)
    path = "".join(ch if ch.isprintable() else "?" for ch in path)
    return path if len(path) <= MAX_LOGGED_PATH else path[:MAX_LOGGED_PATH] + "..."


def user_id_of(request: HttpRequest) -> int | None:
    """The signed-in user's id, if the request already loaded its user (never loads it: no query)."""
    user = request.__dict__.get("user")
    if isinstance(user, LazyObject):
        wrapped = user._wrapped
        if wrapped is empty:
            return None
        user = wrapped
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    pk = getattr(user, "pk", None)
    return pk if isinstance(pk, int) else None


def clinic_id_of(request: HttpRequest) -> int | None:
    clinic = getattr(request, "clinic", None)
    pk = getattr(clinic, "pk", None)
    return pk if isinstance(pk, int) else None


class RequestIdMiddleware:
    """Request ID in, request ID out, one access line per request. Put it first in MIDDLEWARE."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = sane_request_id(request.META.get(REQUEST_ID_META)) or new_request_id()
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            path = loggable_path(request.path)
            access_logger.info(
                "%s %s %s %.1fms",
                request.method,
                path,
                response.status_code,
                duration_ms,
                extra={
                    "method": request.method,
                    "path": path,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                    "user_id": user_id_of(request),
                    "clinic_id": clinic_id_of(request),
                },
            )
            return response
        finally:
            request_id_var.reset(token)


# --- gunicorn's own log --------------------------------------------------------------------------

# gunicorn's error log (start-up, workers booting and dying, timeouts) in the same JSON lines as
# the app's, through the same filters. In a gunicorn.conf.py:
#     from prpclinic.logs import GUNICORN_LOGCONFIG as logconfig_dict
# or as a file: python -c "import json, prpclinic.logs as l; print(json.dumps(l.GUNICORN_LOGCONFIG))"
# and ``gunicorn --log-config-json FILE``. Leave gunicorn's access log off (no --access-logfile):
# its request line carries the query string; prpclinic.access logs every request instead.
GUNICORN_LOGCONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "prpclinic.logs.RequestIdFilter"},
        "redact": {"()": "prpclinic.logs.RedactFilter"},
    },
    "formatters": {"json": {"()": "prpclinic.logs.JsonFormatter"}},
    "handlers": {
        "json_stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id", "redact"],
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"level": "INFO", "handlers": ["json_stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
        # A log configuration switches gunicorn's access log on; its lines hold query strings.
        "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
    },
}
