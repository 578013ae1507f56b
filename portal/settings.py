"""Settings from the environment, with embedded defaults that need no server.

Embedded defaults (what `make run` uses): SQLite in var/portal.sqlite3 and the embedded Celery broker
(portal/broker.py) in var/broker.sqlite3 — a real broker shared by the web process, the worker and beat.
Production: DATABASE_URL (PostgreSQL), CELERY_BROKER_URL (Redis or RabbitMQ), EMAIL_* (SMTP).
"""

import datetime
import os
import secrets
import sys
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key():
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    # Embedded default: generated once and kept, so sessions and encrypted secrets survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# Secrets at rest (the app's Secret Token) are encrypted with PORTAL_ENCRYPTION_KEY (set it in production, kept
# apart from the database); else with the key in a file of its own, var/encryption_key (0600), made once here.
# PORTAL_ENCRYPTION_OLD_KEYS (comma-separated) are still accepted for reading, during `rotate_encryption_key`.
PORTAL_ENCRYPTION_KEY = os.environ.get("PORTAL_ENCRYPTION_KEY", "")
PORTAL_ENCRYPTION_OLD_KEYS = [k for k in os.environ.get("PORTAL_ENCRYPTION_OLD_KEYS", "").split(",") if k]
PORTAL_ENCRYPTION_KEY_FILE = VAR_DIR / "encryption_key"
if not PORTAL_ENCRYPTION_KEY and not PORTAL_ENCRYPTION_KEY_FILE.exists():
    try:
        _descriptor = os.open(PORTAL_ENCRYPTION_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it just now
        pass
    else:
        with os.fdopen(_descriptor, "w") as _file:
            _file.write(secrets.token_urlsafe(32) + "\n")
        del _descriptor, _file
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]
# The base of links in emails ("open the filtered logs").
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", f"http://127.0.0.1:{os.environ.get('PORT', '8000')}")
# Tokens the portal issues to targets (the "Token issued by this portal" authentication method): their iss, the
# signing algorithm (RS256 or ES256) and lifetime. The target validates them with {PORTAL_BASE_URL}/.well-known/jwks.json.
PORTAL_TOKEN_ISSUER = os.environ.get("PORTAL_TOKEN_ISSUER", "") or PORTAL_BASE_URL
PORTAL_TOKEN_ALGORITHM = os.environ.get("PORTAL_TOKEN_ALGORITHM", "RS256")
if PORTAL_TOKEN_ALGORITHM not in ("RS256", "ES256"):
    from django.core.exceptions import ImproperlyConfigured
    raise ImproperlyConfigured(f"PORTAL_TOKEN_ALGORITHM must be RS256 or ES256, not {PORTAL_TOKEN_ALGORITHM!r}.")
PORTAL_TOKEN_LIFETIME_SECONDS = int(os.environ.get("PORTAL_TOKEN_LIFETIME_SECONDS", "3600"))
# Where SCIM requests may go (provisioning/scim/outbound.py): comma-separated CIDRs or host names refused
# beyond the defaults (link-local, cloud metadata), and allowed in spite of them. Loopback is allowed unless denied.
PORTAL_OUTBOUND_DENY = os.environ.get("PORTAL_OUTBOUND_DENY", "")
PORTAL_OUTBOUND_ALLOW = os.environ.get("PORTAL_OUTBOUND_ALLOW", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_filters",
    # Django Ninja: only for its templates and Swagger UI static files (the API docs page, served from here).
    "ninja",
    "axes",
    "provisioning",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Early, so that answers from the middleware below (the 400 for a NUL character) carry it too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "provisioning.middleware.SessionIdleTimeout",
    "provisioning.middleware.RejectNulCharacters",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
# Django's default of 1,000 fields refused an Assign of more than 1,000 users; the form itself takes at most
# ASSIGN_LIMIT (10,000), and a request over this limit gets a 400 that states it (views/errors.py).
DATA_UPLOAD_MAX_NUMBER_FIELDS = 20_000
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "provisioning.context_processors.roles",
            ],
        },
    },
]
WSGI_APPLICATION = "portal.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and beat share one file: wait for locks instead of failing,
    # and let readers run beside the writer.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Django's default SQLite test database is in memory with a shared cache, where a worker thread's
    # write and a reader collide with "database table is locked" at once (no busy timeout applies).
    # A file gets the same WAL and lock waiting as `make run`.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-portal.sqlite3")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters travel apart from the SQL instead of being quoted into it by the client, which spends
    # less of the worker's time on a cycle's bulk writes of log entries and export state.
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# Security headers on every answer (tests/test_security_headers.py crawls every page for them). The CSP is
# Django's own (SECURE_CSP): scripts and styles from this site only, so no inline script, handler or style
# (static/js/portal.js reads data attributes instead), and no framing.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Served over HTTPS (PORTAL_HTTPS=true): cookies only over HTTPS, and plain HTTP redirected. HSTS is sent on
# HTTPS answers only (SecurityMiddleware), so it is on by default and harmless on plain HTTP.
PORTAL_HTTPS = env_bool("PORTAL_HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = PORTAL_HTTPS
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PORTAL_HTTPS)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
if env_bool("PORTAL_TRUST_X_FORWARDED_PROTO", False):
    # Behind a reverse proxy that ends TLS and says so in X-Forwarded-Proto (and strips it from clients).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# A session ends after this many minutes without a request from the person (provisioning/middleware.py:
# the pages' own polling does not count), and at once on a password change (Django checks the password
# hash stored in the session).
PORTAL_SESSION_IDLE_MINUTES = int(os.environ.get("PORTAL_SESSION_IDLE_MINUTES", str(8 * 60)))
SESSION_COOKIE_AGE = PORTAL_SESSION_IDLE_MINUTES * 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Sign-in throttling (django-axes): after PORTAL_SIGN_IN_FAILURES failed attempts for one user name from one
# address, that pair is refused for PORTAL_SIGN_IN_LOCKOUT_MINUTES after the last attempt (others can still
# sign in, so nobody locks an administrator out from elsewhere). A success clears the count.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("PORTAL_SIGN_IN_FAILURES", "5"))
AXES_COOLOFF_TIME = datetime.timedelta(minutes=int(os.environ.get("PORTAL_SIGN_IN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are not stored
AXES_LOCKOUT_CALLABLE = "provisioning.views.sign_in.locked_out"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "apps:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise serves from the finders; an absent root only makes it warn
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Email: console by default; SMTP when EMAIL_HOST is set (Django 6.1's MAILERS).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": EMAIL_HOST,
                "port": int(os.environ.get("EMAIL_PORT", "25")),
                "username": os.environ.get("EMAIL_HOST_USER", ""),
                "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS", False),
                "use_ssl": env_bool("EMAIL_USE_SSL", False),
                "timeout": 20,
            },
        }
    }
else:
    MAILERS = {"default": {"BACKEND": os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")}}
del EMAIL_HOST
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "provisioning-portal@localhost")

# Celery: the engine's runner.
BROKER_DIR = VAR_DIR / "broker"
# The embedded broker (portal/broker.py): one SQLite file, late acknowledgement that survives SIGKILL.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "embedded://")
if CELERY_BROKER_URL.startswith("embedded://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "database": str(VAR_DIR / "broker.sqlite3"),
        # On-demand provisioning is interactive: poll often (a read that finds nothing takes no lock).
        "polling_interval": 0.1,
    }
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Exchange tables; kombu's default is ./control in whatever directory the process started.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # On-demand provisioning is interactive: poll the folder often.
        "polling_interval": 0.1,
    }
# Two queues (provisioning/tasks.py); a worker without -Q serves both. PORTAL_QUEUE_PREFIX keeps a test
# run's tasks apart from another run (or `make run`) on the same broker.
from kombu import Exchange, Queue  # noqa: E402

_QUEUE_PREFIX = os.environ.get("PORTAL_QUEUE_PREFIX") or (f"test-{os.getpid()}-" if "pytest" in sys.modules else "")
PORTAL_QUEUE_PREFIX = _QUEUE_PREFIX
PROVISIONING_ON_DEMAND_QUEUE = f"{_QUEUE_PREFIX}on-demand"
PROVISIONING_CYCLES_QUEUE = f"{_QUEUE_PREFIX}cycles"
# On-demand first: a worker free for a task takes an on-demand run before the next chunk of a cycle.
# Each queue on an exchange and routing key of its own: queues that shared Celery's default exchange and key
# would each receive every task.
CELERY_TASK_QUEUES = [Queue(name, Exchange(name, type="direct"), routing_key=name)
                      for name in (PROVISIONING_ON_DEMAND_QUEUE, PROVISIONING_CYCLES_QUEUE)]
CELERY_TASK_DEFAULT_QUEUE = PROVISIONING_CYCLES_QUEUE
CELERY_TASK_ROUTES = {
    "provisioning.tasks.run_on_demand": {"queue": PROVISIONING_ON_DEMAND_QUEUE},
    "provisioning.tasks.*": {"queue": PROVISIONING_CYCLES_QUEUE},
}
# A worker process that dies (SIGKILL, OOM) gives its task back to the broker instead of losing it.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    # Queues due cycles and gives workers back to cycles whose workers died.
    "start-due-cycles": {"task": "provisioning.tasks.start_due_cycles",
                         "schedule": float(os.environ.get("PROVISIONING_BEAT_SECONDS", "15"))},
}
# Provisioning logs and audit entries are kept this many days (Entra: 30), pruned hourly in batches.
PORTAL_LOG_RETENTION_DAYS = int(os.environ.get("PORTAL_LOG_RETENTION_DAYS", "30"))
CELERY_BEAT_SCHEDULE["prune-old-entries"] = {"task": "provisioning.tasks.prune_old_entries", "schedule": 3600.0}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Minutes between cycles for a new app (each app has its own setting; Entra: a fixed 40).
PROVISIONING_INTERVAL_MINUTES = int(os.environ.get("PROVISIONING_INTERVAL_MINUTES", "40"))
# Cycles at scale: objects per chunk, chunks of one cycle running at once (the app's concurrency limit is
# shared between them), seconds a chunk's lease lasts without renewal before another worker takes it
# over, operations per POST /Bulk at most.
PROVISIONING_CHUNK_SIZE = int(os.environ.get("PROVISIONING_CHUNK_SIZE", "500"))
PROVISIONING_CHUNKS_IN_PARALLEL = int(os.environ.get("PROVISIONING_CHUNKS_IN_PARALLEL", "2"))
PROVISIONING_LEASE_SECONDS = float(os.environ.get("PROVISIONING_LEASE_SECONDS", "30"))
# How often a running chunk writes what it finished (and renews its lease, reads Stop).
PROVISIONING_RECORD_SECONDS = float(os.environ.get("PROVISIONING_RECORD_SECONDS", "0.5"))
PROVISIONING_BULK_OPERATIONS = int(os.environ.get("PROVISIONING_BULK_OPERATIONS", "200"))
# Bad days: a failing request is sent again at most this many times, within this many seconds of its first
# try; this many non-SCIM answers in a row quarantine the job; other workers' pauses and quarantine are
# read this often before a request.
PROVISIONING_RETRY_TRIES = int(os.environ.get("PROVISIONING_RETRY_TRIES", "5"))
PROVISIONING_RETRY_SECONDS = float(os.environ.get("PROVISIONING_RETRY_SECONDS", "120"))
PROVISIONING_BROKEN_TARGET_REQUESTS = int(os.environ.get("PROVISIONING_BROKEN_TARGET_REQUESTS", "20"))
PROVISIONING_GATE_SECONDS = float(os.environ.get("PROVISIONING_GATE_SECONDS", "0.025"))
# Entra's escrow thresholds: evaluated from this many failures in a cycle, quarantine when more than the
# proportion of exports failed, or this many failed without (base) or with (total) reference failures.
PROVISIONING_ESCROW_EVALUATE_FROM = int(os.environ.get("PROVISIONING_ESCROW_EVALUATE_FROM", "5000"))
PROVISIONING_ESCROW_PROPORTION = float(os.environ.get("PROVISIONING_ESCROW_PROPORTION", "0.4"))
PROVISIONING_ESCROW_BASE = int(os.environ.get("PROVISIONING_ESCROW_BASE", "40000"))
PROVISIONING_ESCROW_TOTAL = int(os.environ.get("PROVISIONING_ESCROW_TOTAL", "60000"))
# Worker processes per `celery -A portal worker`: the chunks a cycle runs at once, plus one, so that a
# Provision on demand always finds a free process while a big cycle runs.
CELERY_WORKER_CONCURRENCY = int(os.environ.get("CELERY_WORKER_CONCURRENCY", PROVISIONING_CHUNKS_IN_PARALLEL + 1))

# REST API (/api/v1/): requests per token (ninja's throttle syntax: "600/min", "20/s"), counted in Django's
# cache: per process with the default local-memory cache; configure a shared CACHES backend to count across
# web processes.
PORTAL_API_THROTTLE_RATE = os.environ.get("PORTAL_API_THROTTLE_RATE", "600/min")
# Days the record of each API call is kept.
PORTAL_API_CALL_RETENTION_DAYS = int(os.environ.get("PORTAL_API_CALL_RETENTION_DAYS", "90"))

# SCIM client
SCIM_TIMEOUT_SECONDS = float(os.environ.get("SCIM_TIMEOUT_SECONDS", "15"))
# Bounds of every answer from a target (provisioning/scim/answers.py): its size, as received and as decompressed,
# and the total time one request may take however slowly the target sends (the timeout above is per read).
SCIM_MAX_RESPONSE_BYTES = int(os.environ.get("SCIM_MAX_RESPONSE_BYTES", str(20 * 1024 * 1024)))
SCIM_DEADLINE_SECONDS = float(os.environ.get("SCIM_DEADLINE_SECONDS", "60"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"client_errors_without_traceback": {"()": "portal.log_filters.ClientErrorsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # httpx logs request lines at INFO; keep them at WARNING so query strings stay out of the log.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # A 403 (and every 4xx) is a warning line, not a traceback.
        "django.request": {"filters": ["client_errors_without_traceback"]},
    },
}
