"""The one settings module of prpclinic, configured by environment variables (see env.py).

With nothing set and DEBUG on, it runs a demo on SQLite under ``var/``. In production
(DEBUG off) it fails closed: a missing SECRET_KEY or AUDIT_HMAC_KEY stops start-up.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

from prpclinic.env import dev_secret, env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

# Tests run with fixed keys and a cheap hasher; nothing else changes under test.
TESTING = "pytest" in sys.modules or env_bool("PRPCLINIC_TESTING")
DEBUG = env_bool("DEBUG", False)

if TESTING:
    SECRET_KEY = "test-secret-key-not-for-production-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105
    AUDIT_HMAC_KEY = "test-audit-key"
else:
    SECRET_KEY = env_secret("SECRET_KEY") or (dev_secret(VAR_DIR, "secret_key") if DEBUG else "")
    AUDIT_HMAC_KEY = env_secret("AUDIT_HMAC_KEY") or (dev_secret(VAR_DIR, "audit_hmac_key") if DEBUG else "")
if not SECRET_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
if TESTING:
    ALLOWED_HOSTS = ["*"]
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csp",
    "django_htmx",
    "template_partials",
    "prpclinic.audit",
    "prpclinic.clinics",
    "prpclinic.patients",
    "prpclinic.treatments",
    "prpclinic.intake",
    "prpclinic.consents",
    "prpclinic.visits",
    "prpclinic.aftercare",
    "prpclinic.outcomes",
    "prpclinic.scheduling",
    "prpclinic.reminders",
    "prpclinic.fhir",
    "prpclinic.prp",
    "prpclinic.planning",
    "prpclinic.ops",
    "ninja",
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    # First: every request, redirects and static files included, gets an ID and an access line.
    "prpclinic.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "prpclinic.clinics.middleware.SessionTimeoutMiddleware",
    "prpclinic.clinics.middleware.ActiveClinicMiddleware",
    "prpclinic.clinics.middleware.NoStoreMiddleware",
    # django-axes must come last.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "prpclinic.urls"
WSGI_APPLICATION = "prpclinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "prpclinic" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "prpclinic.clinics.context_processors.active_clinic",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'prpclinic.sqlite3'}"),
        conn_max_age=0 if TESTING else 60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers work beside the writer; IMMEDIATE takes the write lock at BEGIN so that
    # two writers queue instead of failing half-way with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_PREPARED_STATEMENTS", True):
    # Parameters bound on the server, and a statement run five times on a connection prepared
    # there (psycopg's prepare_threshold): PostgreSQL then plans the chart's statements once per
    # connection, not on every request. Measured: 3.5 ms less database CPU per chart opening,
    # of 5-7 ms (docs/benchmark.md). Where a plan must fit the values (a name fragment's LIKE),
    # the query runs inside prpclinic.db.planned_for_its_values().
    DATABASES["default"]["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 5}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "clinics.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend that reads the user and their clinics in one statement (clinics/backends.py).
    "prpclinic.clinics.backends.ClinicModelBackend",
]
PASSWORD_HASHERS = (
    ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if TESTING
    else [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
)
PASSWORD_MIN_LENGTH = env_int("PASSWORD_MIN_LENGTH", 12)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Lockout after repeated failures, per account (OWASP ASVS 6.3.1).
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("LOGIN_LOCKOUT_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username"]
# Per account, not per address: a clinic's staff share one NAT address, and locking it would
# lock out the whole clinic after a few typos (axes.W006 asks for the address).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
# The login form posts the e-mail as "username" (Django's AuthenticationForm).
AXES_USERNAME_FORM_FIELD = "username"
AXES_LOCKOUT_TEMPLATE = "clinics/locked_out.html"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = False

OTP_TOTP_ISSUER = "prpclinic"

# Background work (e-mail now; reminders and PDFs later). Production queues tasks in the
# database for `prpclinic db_worker`; the demo and the tests run them at once.
TASKS = {
    "default": {
        "BACKEND": (
            "django_tasks.backends.immediate.ImmediateBackend"
            if DEBUG or TESTING
            else "django_tasks_db.DatabaseBackend"
        ),
        "QUEUES": ["default"],
    }
}

# Seal audit events right after commit in the request's thread (tests: deterministic), or in
# a background thread per process (production: requests never wait on the chain's lock).
AUDIT_SEAL_INLINE = TESTING
# How long the background sealer lets events gather before it seals them in one transaction.
# Sealing costs about eight statements per batch whatever its size; at 0 every chart opening
# under load paid them alone. An event is committed (and marked pending) before the response,
# so the delay only postpones its seal, never its record.
AUDIT_SEAL_DELAY_SECONDS = env_int("AUDIT_SEAL_DELAY_MS", 250) / 1000

# Sessions live in the database so that logout and deactivation end them on the server.
SESSION_ENGINE = "prpclinic.clinics.sessions"  # Django's database sessions, read by a compiled query
SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_MINUTES", 30) * 60
SESSION_MAX_SECONDS = env_int("SESSION_MAX_HOURS", 12) * 3600
SESSION_COOKIE_AGE = SESSION_MAX_SECONDS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

SECURE_SSL = env_bool("SECURE_SSL", not DEBUG and not TESTING)
SESSION_COOKIE_SECURE = SECURE_SSL
CSRF_COOKIE_SECURE = SECURE_SSL
SECURE_SSL_REDIRECT = SECURE_SSL
SECURE_HSTS_SECONDS = 31536000 if SECURE_SSL else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_SSL
SECURE_HSTS_PRELOAD = SECURE_SSL
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Requests from these addresses come through our proxy: the audit trail takes the client's
# address from X-Real-IP, which nginx overwrites (deploy/nginx/prpclinic.conf).
TRUSTED_PROXIES = frozenset(env_list("TRUSTED_PROXIES", ["127.0.0.1", "::1"]))
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# /healthz answers plain HTTP so that a load balancer can probe it behind TLS termination.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "prpclinic" / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Only the hashed names are kept and compressed: halves collectstatic (django-ninja's docs assets).
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

EMAIL_URL = env_str("EMAIL_URL", "")
if TESTING:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
elif EMAIL_URL:
    from urllib.parse import unquote, urlparse

    _mail = urlparse(EMAIL_URL)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _mail.hostname or "localhost"
    EMAIL_PORT = _mail.port or 25
    EMAIL_HOST_USER = unquote(_mail.username or "")
    EMAIL_HOST_PASSWORD = unquote(_mail.password or "")
    EMAIL_USE_TLS = _mail.scheme == "smtp+tls"
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "prpclinic@localhost")

# Reminders (prpclinic/reminders): the base of the links patients and calendar apps open, and
# how SMS leave (docs/calendar-and-reminders.md). Tests keep SMS in memory.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
SMS_BACKEND = "locmem" if TESTING else env_str("SMS_BACKEND", "console")

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
# JSON lines in production (one object per line, for a log shipper); readable text under DEBUG.
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json").lower()
if LOG_FORMAT not in ("json", "text"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}.")
# Loggers that would write values (SQL parameters, template variables) at DEBUG never go below INFO.
_LOG_LEVEL_NO_DEBUG = "INFO" if LOG_LEVEL in ("DEBUG", "NOTSET") else LOG_LEVEL
# What is logged and what is redacted: prpclinic/logs.py and docs/operations-logs.md. Every
# handler needs both filters: "request_id" puts the request's ID on each record, "redact"
# removes database error details, e-mail addresses, dates, phone numbers and record numbers.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "prpclinic.logs.RequestIdFilter"},
        "redact": {"()": "prpclinic.logs.RedactFilter"},
    },
    "formatters": {
        "json": {"()": "prpclinic.logs.JsonFormatter"},
        "text": {"()": "prpclinic.logs.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",  # stderr
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Replaces Django's default handlers (an unfiltered console under DEBUG, and mail_admins,
        # which would e-mail tracebacks): its records go through the handler above like all others.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        # SQL with its parameters (patient data) is logged at DEBUG: never.
        "django.db.backends": {"level": _LOG_LEVEL_NO_DEBUG},
        "django.template": {"level": _LOG_LEVEL_NO_DEBUG},
        # runserver's own access lines (4xx as warnings) carry query strings; prpclinic.access
        # logs every request instead.
        "django.server": {
            "level": "ERROR" if _LOG_LEVEL_NO_DEBUG in ("INFO", "WARNING") else _LOG_LEVEL_NO_DEBUG,
            "propagate": True,  # Django's default config stops it, and it would print through no handler
        },
        # Axes would log the attempted user name; the audit trail records failures instead.
        "axes": {"level": "WARNING"},
        # WeasyPrint narrates every render at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
