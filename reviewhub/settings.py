"""Settings for reviewhub, all read from the environment.

Development defaults need nothing but Python: SQLite and a filesystem broker under
``var/``. Set ``REVIEWHUB_ENV=production`` for the hardened configuration; it then
requires ``SECRET_KEY``, ``ALLOWED_HOSTS`` and ``DATABASE_URL``.
"""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Exchange, Queue

from reviewhub.env import env_bool, env_int, env_list, env_seconds, env_str
from reviewhub.logs import logging_config
from reviewhub.media import s3_storage_from_env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("REVIEWHUB_VAR_DIR", str(BASE_DIR / "var")))

REVIEWHUB_ENV = env_str("REVIEWHUB_ENV", "development")
if REVIEWHUB_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("REVIEWHUB_ENV must be 'development' or 'production'.")
PRODUCTION = REVIEWHUB_ENV == "production"

# Metrics counted in many processes (gunicorn workers, Celery pool children) are kept in files
# here and summed at scrape time (reviewhub/metrics.py). prometheus_client decides between
# files and memory when it is first imported, which comes after the settings in every process.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "prometheus"))

DEBUG = env_bool("DEBUG", default=not PRODUCTION)
SECRET_KEY = env_str("SECRET_KEY", None if PRODUCTION else "development-only-not-secret-" + "x" * 40)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # Before the admin, so that its templates (admin/base_site.html) take the admin's place.
    "refunds",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "refunds.portal",
    "refunds.notifications",
    "screening",
    # Heartbeats, health checks and metrics (reviewhub/models.py, health.py, metrics.py).
    "reviewhub",
]

MIDDLEWARE = [
    # First, so that every answer (an error page included) carries its Request-Id.
    "refunds.request_id.RequestIdMiddleware",
    # Right after: each request's log context starts empty, and its one access line.
    "reviewhub.logs.RequestLogMiddleware",
    "refunds.api.headers.ApiHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "refunds.api.errors.JsonErrorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "refunds.api.headers.ApiLanguageMiddleware",
    "refunds.api.limits.UtcApiMiddleware",
    "refunds.api.limits.QueryTextMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "refunds.outage.OutageMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "reviewhub.urls"
WSGI_APPLICATION = "reviewhub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: DATABASE_URL (PostgreSQL in production), SQLite under var/ otherwise.
_database_url = env_str("DATABASE_URL", None if PRODUCTION else f"sqlite:///{VAR_DIR / 'reviewhub.sqlite3'}")
# A PostgreSQL connection is a server process: opening one cost 9 ms on the two-core machine
# under load, as much as 140 small queries, and every API request and every task opened its
# own. They are kept for DB_CONN_MAX_AGE seconds and checked before each request or task
# reuses one (CONN_HEALTH_CHECKS), so one the database ended (a restart, pg_terminate_backend,
# a cut network) is replaced, not failed on. SQLite files open in microseconds.
DATABASES = {"default": dj_database_url.parse(_database_url, conn_health_checks=True)}
_postgres = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if _postgres:
    # Django's backend with a health check that asks the connection's socket before it sends a
    # query (reviewhub/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "reviewhub.postgresql"
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60 if _postgres else 0, minimum=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default runs a web server and a worker process on one file:
    # IMMEDIATE transactions take the write lock up front, so two writers queue
    # instead of failing half-way with "database is locked"; WAL lets readers on.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
if _postgres:
    # A database host that drops packets fails a connection in seconds (a 503, a failing
    # /readyz) instead of holding requests and probes for the system's TCP timeout.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DB_CONNECT_TIMEOUT", 5, minimum=1)
    )
    # The few statements every API request makes (refunds.compiled) are prepared once per
    # connection, for PostgreSQL plans them anew at each execution otherwise: the detail
    # read's took 0.4 to 0.8 ms to plan and 0.04 ms to run. Only those: Django's other queries
    # keep their client-side binding, which never prepares. A pooler in transaction mode must
    # then keep prepared statements per client (PgBouncer 1.21+, max_prepared_statements);
    # DB_PREPARED_STATEMENTS=0 turns them off behind one that cannot.
    if env_bool("DB_PREPARED_STATEMENTS", True):
        DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Everyone signs in on one page; the portal sends staff on to the admin.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "login"

# Lockout (django-axes) on every sign-in form, the portal's and the admin's: after
# LOGIN_FAILURE_LIMIT failures for one user name from one address, that pair waits
# LOGIN_LOCKOUT_MINUTES. Per pair, not per name alone, so that a stranger cannot lock a
# merchant out of the portal by typing the merchant's name. A success resets the count.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "portal/accounts/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
# One start-up banner per process is noise in every management command.
AXES_VERBOSE = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Internationalisation: Simplified Chinese and English, chosen per request.
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("DISPLAY_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "refunds.storage.ContentAddressedStorage"},
    "staticfiles": {
        # Hashed names need collectstatic, which deployments run and the embedded demo does not.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Outside production WhiteNoise serves static files straight from the apps' folders, so that
# the demo runs with DEBUG off (as deployed) without a collectstatic step.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", not PRODUCTION)
# Media on an S3-compatible bucket (every host sees the same files): MEDIA_STORAGE=s3 with the
# bucket below; credentials come from the standard AWS variables (AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) or the host's role, as boto3 finds them.
MEDIA_STORAGE = env_str("MEDIA_STORAGE", "filesystem")
if MEDIA_STORAGE == "s3":
    STORAGES["default"] = s3_storage_from_env()
elif MEDIA_STORAGE != "filesystem":
    raise ImproperlyConfigured(f"MEDIA_STORAGE must be 'filesystem' or 's3', not {MEDIA_STORAGE!r}.")

# Uploads: refused by size before they are decoded, by pixels before they are decompressed.
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 20 * 1024 * 1024, minimum=1024)
UPLOAD_MAX_VIDEO_BYTES = env_int("UPLOAD_MAX_VIDEO_BYTES", 200 * 1024 * 1024, minimum=1024)
UPLOAD_MAX_PIXELS = env_int("UPLOAD_MAX_PIXELS", 40_000_000, minimum=1)
UPLOAD_MAX_FILES = env_int("UPLOAD_MAX_FILES", 10, minimum=1)
# A camera's or phone's metadata (EXIF, XMP, ICC profile, thumbnails) stays well under 1 MiB;
# more in a photo is a metadata bomb aimed at the parsers that read it during screening.
UPLOAD_MAX_METADATA_BYTES = env_int("UPLOAD_MAX_METADATA_BYTES", 2 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# E-mail (password reset, notifications): printed to the console in development; in
# production EMAIL_BACKEND defaults to SMTP at EMAIL_HOST.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "reviewhub <noreply@localhost>")
# Links in e-mails (notifications, unsubscribe) start with this address; in production the
# first allowed host over HTTPS unless set.
PORTAL_BASE_URL = env_str(
    "PORTAL_BASE_URL", f"https://{ALLOWED_HOSTS[0]}" if PRODUCTION and ALLOWED_HOSTS else "http://127.0.0.1:8000"
)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set at most one of EMAIL_USE_TLS and EMAIL_USE_SSL.")

# Security: strict headers everywhere, HTTPS-only cookies in production.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Probes and scrapers often speak plain HTTP to the process itself: answer them, not a redirect.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["refunds.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["refunds.api.auth.HasApiKey"],
    "DEFAULT_PARSER_CLASSES": [
        "refunds.api.limits.BoundedJSONParser",
        "refunds.api.limits.LimitedMultiPartParser",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["refunds.api.limits.ApiKeyRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "refunds.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # Proxies in front of the API whose X-Forwarded-For is trusted for the client's address (the
    # limit on refused keys counts per address); production runs behind one (SECURE_PROXY_SSL_HEADER).
    "NUM_PROXIES": env_int("API_TRUSTED_PROXIES", 1 if PRODUCTION else 0, minimum=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "reviewhub API",
    "DESCRIPTION": "Refund-only applications with screened photo evidence.",
    "VERSION": "1.0.0",
    # Swagger UI and Redoc served from this server, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # ReDoc would otherwise fetch Google's web fonts.
    "REDOC_UI_SETTINGS": {"disableGoogleFont": True},
    # Separate request and response components, so that file fields are binary uploads in
    # requests (not URL strings) and read-only fields stay out of request bodies.
    "COMPONENT_SPLIT_REQUEST": True,
    "OAS_VERSION": "3.1.0",
    # Several vocabularies share a field name (reason_codes of a decision, a rebuttal and an
    # appeal; the state of an application and of an appeal): each enum is named after its
    # vocabulary, so that generated clients get stable names rather than hashes.
    "ENUM_NAME_OVERRIDES": {
        "ApplicationStateEnum": "refunds.states.ApplicationState",
        "AppealStateEnum": "refunds.states.AppealState",
        "DecisionReasonEnum": "refunds.states.DecisionReason",
        "RebuttalReasonEnum": "refunds.states.RebuttalReason",
        "AppealReasonEnum": "refunds.vocab.AppealReason",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "refunds.api.schema.add_errors_and_webhooks",
    ],
}

# Celery. REDIS_URL (or CELERY_BROKER_URL) in production; the embedded default is
# kombu's filesystem transport, which needs no server. It can lose a message whose
# worker is killed; the screening sweeper re-enqueues such applications.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", env_str("REDIS_URL", "filesystem://"))
# Recovery within about a minute, with the defaults chosen together:
# - a message lost with the broker or never sent waits in the task outbox; the relay (every
#   beat interval, 15 s) sends it once the broker is back;
# - a screening whose worker died is enqueued again by the sweeper once nothing has been seen
#   of it for SCREENING_STALE_AFTER (60 s, above the task's 50 s time limit and the 30 s
#   retry back-off, so a screening that is alive is never doubled), within a beat interval,
#   unless the screening queue still holds a message for each such application (a backlog);
# - Redis hands the dead worker's unacknowledged message back after the visibility timeout
#   (120 s), which must outlast every task's time limit and countdown (checked below).
CELERY_BROKER_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 120, minimum=5)
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(VAR_DIR / "broker-control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT,
        # How often a worker looks for messages whose worker died (unacknowledged past
        # the visibility timeout) and puts them back; kombu's default scans every ~100 s.
        "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_INTERVAL", 10, minimum=1),
        "unacked_restore_throttle": 1,
        # A broker that is down or hung fails a send within seconds; the outbox keeps the task.
        "socket_connect_timeout": 3,
        "socket_timeout": 15,
    }
# Sending from a request: a short retry, then give up (the task outbox relays it later)
# instead of holding the platform's request for Celery's default 3 × growing pauses.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
CELERY_BROKER_CONNECTION_TIMEOUT = 3
# A worker keeps reconnecting to a broker that restarts, however long it is away.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Two queues: screening and the workflow's jobs in Celery's own, webhook deliveries and e-mail
# notifications and beat's catch-up jobs in "deliveries". Beat's jobs wait there, not behind the
# screenings: in the full soak, with 13 000 screening messages queued, 79 rounds of each job
# waited behind them, and merchant windows, claims and lost screenings waited with them. The
# heartbeat stays in Celery's queue: it proves that the screening worker takes tasks. A worker started
# without -Q consumes every queue listed here and takes from them in turn, so a burst of
# deliveries (two events per screening, one message per endpoint) no longer stands in line
# before the screenings behind it. A deployment may also give each queue its own workers
# (-Q celery, -Q deliveries); a queue that no worker consumes loses its tasks, which
# tests/reviewhub/test_celery.py checks against the documented commands.
CELERY_TASK_DEFAULT_QUEUE = "celery"
DELIVERIES_QUEUE = "deliveries"
CELERY_TASK_QUEUES = tuple(
    Queue(name, Exchange(name, type="direct"), routing_key=name)
    for name in (CELERY_TASK_DEFAULT_QUEUE, DELIVERIES_QUEUE)
)
CELERY_TASK_ROUTES = {
    name: {"queue": DELIVERIES_QUEUE}
    for name in (
        "refunds.deliver_webhooks",
        "refunds.drain_webhooks",
        "refunds.retry_due_webhooks",
        "portal.send_notifications",
        "portal.remind_deadlines",
        "refunds.close_expired_windows",
        "refunds.release_expired_claims",
        "refunds.expire_evidence_requests",
        "screening.requeue_stale_screenings",
        "refunds.requeue_stale_videos",
        "refunds.relay_outbox",
        "refunds.purge_idempotency_records",
        "refunds.purge_unused_evidence_uploads",
    )
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fix-up closes the database connection around every task unless this is set;
# reviewhub/celery.py recycles them as Django does around a request instead (CONN_MAX_AGE,
# with the health check), so a task reuses its process's connection.
CELERY_DB_REUSE_MAX = 2**31
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Celery's default scheduler, recording beat's heartbeat as it ticks (reviewhub/heartbeat.py).
CELERY_BEAT_SCHEDULER = "reviewhub.heartbeat:HeartbeatScheduler"
BEAT_INTERVAL_SECONDS = env_int("BEAT_INTERVAL_SECONDS", 15, minimum=1)
# /readyz fails the worker or beat check when its newest heartbeat is older than this. Beat
# ticks at least every interval and sends the worker heartbeat task as often, so a few
# intervals leave room for a worker busy with a long screening.
HEALTH_HEARTBEAT_MAX_AGE = env_seconds(
    "HEALTH_HEARTBEAT_MAX_AGE", timedelta(seconds=max(90, 4 * BEAT_INTERVAL_SECONDS))
)

# Screening task limits. A message whose task outlives the broker's visibility
# timeout is handed to a second worker while the first still runs it, so every
# countdown, back-off and time limit must stay below that timeout (checked below).
SCREENING_TIME_LIMIT = env_int("SCREENING_TIME_LIMIT", 50, minimum=2)
SCREENING_SOFT_TIME_LIMIT = env_int("SCREENING_SOFT_TIME_LIMIT", 40, minimum=1)
SCREENING_RETRY_BACKOFF_MAX = env_int("SCREENING_RETRY_BACKOFF_MAX", 30, minimum=1)
# Every delivery of the task counts, whether it failed, was retried or its worker was
# killed mid-way (a poison image). Past this many the application goes to people,
# flagged "unscreened", instead of looping.
SCREENING_MAX_ATTEMPTS = env_int("SCREENING_MAX_ATTEMPTS", 5, minimum=1)
# Reference analyses each worker keeps in memory (about 1 MB each), by content hash.
SCREENING_REFERENCE_CACHE_SIZE = env_int("SCREENING_REFERENCE_CACHE_SIZE", 256, minimum=1)
SCREENING_STALE_AFTER = env_seconds("SCREENING_STALE_AFTER", timedelta(seconds=60))
if (
    not CELERY_BROKER_URL.startswith("filesystem")
    and max(SCREENING_TIME_LIMIT, SCREENING_SOFT_TIME_LIMIT, SCREENING_RETRY_BACKOFF_MAX)
    >= CELERY_BROKER_VISIBILITY_TIMEOUT
):
    raise ImproperlyConfigured(
        "SCREENING_TIME_LIMIT, SCREENING_SOFT_TIME_LIMIT and SCREENING_RETRY_BACKOFF_MAX "
        "must all stay below CELERY_VISIBILITY_TIMEOUT."
    )
if SCREENING_STALE_AFTER.total_seconds() <= max(SCREENING_TIME_LIMIT, SCREENING_RETRY_BACKOFF_MAX):
    raise ImproperlyConfigured(
        "SCREENING_STALE_AFTER must exceed SCREENING_TIME_LIMIT and SCREENING_RETRY_BACKOFF_MAX."
    )
if SCREENING_SOFT_TIME_LIMIT >= SCREENING_TIME_LIMIT:
    raise ImproperlyConfigured("SCREENING_SOFT_TIME_LIMIT must be below SCREENING_TIME_LIMIT.")

# Packing videos: a longer one is refused on upload; the playable copy the worker makes has its
# long edge capped, and the making stays below the broker's visibility timeout (as screening
# does); a video that overruns the limit is marked failed, its original still downloadable.
VIDEO_MAX_SECONDS = env_int("VIDEO_MAX_SECONDS", 120, minimum=1)
VIDEO_MAX_EDGE = env_int("VIDEO_MAX_EDGE", 1280, minimum=16)
# By default as long as the visibility timeout allows, with ten seconds to spare.
VIDEO_TIME_LIMIT = env_int("VIDEO_TIME_LIMIT", max(2, CELERY_BROKER_VISIBILITY_TIMEOUT - 10), minimum=2)
VIDEO_SOFT_TIME_LIMIT = env_int("VIDEO_SOFT_TIME_LIMIT", max(1, VIDEO_TIME_LIMIT - 10), minimum=1)
# Every delivery counts, a killed one included: past this many the video is marked failed.
VIDEO_MAX_ATTEMPTS = env_int("VIDEO_MAX_ATTEMPTS", 3, minimum=1)
# A video still being prepared this long after it was last queued or attempted lost its message.
VIDEO_STALE_AFTER = env_seconds("VIDEO_STALE_AFTER", timedelta(seconds=max(300, 2 * VIDEO_TIME_LIMIT)))
if VIDEO_STALE_AFTER.total_seconds() <= VIDEO_TIME_LIMIT:
    raise ImproperlyConfigured("VIDEO_STALE_AFTER must exceed VIDEO_TIME_LIMIT.")
if VIDEO_SOFT_TIME_LIMIT >= VIDEO_TIME_LIMIT:
    raise ImproperlyConfigured("VIDEO_SOFT_TIME_LIMIT must be below VIDEO_TIME_LIMIT.")
if not CELERY_BROKER_URL.startswith("filesystem") and VIDEO_TIME_LIMIT >= CELERY_BROKER_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured("VIDEO_TIME_LIMIT must stay below CELERY_VISIBILITY_TIMEOUT.")

# Logs: one JSON object per line in production, text in the embedded demo; each line names its
# request, task, application and actor where known (reviewhub/logs.py).
LOG_FORMAT = env_str("LOG_FORMAT", "json" if PRODUCTION else "text")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured("LOG_FORMAT must be 'json' or 'text'.")
# One line per request (gunicorn's access log can then stay off); the development server logs its own.
LOG_REQUESTS = env_bool("LOG_REQUESTS", PRODUCTION)
LOGGING = logging_config(LOG_FORMAT, env_str("LOG_LEVEL", "INFO"))

# /metrics: open to these addresses (loopback in development, none in production; never list a
# reverse proxy's own address, or everyone behind it is let in) and to a bearer token.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_ALLOWED_ADDRESSES = env_list("METRICS_ALLOWED_ADDRESSES", [] if PRODUCTION else ["127.0.0.0/8", "::1/128"])
for _network in METRICS_ALLOWED_ADDRESSES:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_ADDRESSES: {_network!r} is not an address or network.") from None
# A worker on a host without the web server serves its host's process metrics here (0: off).
WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 0, minimum=0)
WORKER_METRICS_ADDRESS = env_str("WORKER_METRICS_ADDRESS", "127.0.0.1")

# Webhooks: at-least-once with exponential back-off (about two days in all), then "failed".
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 15, minimum=1)
WEBHOOK_RETRY_MAX_SECONDS = env_int("WEBHOOK_RETRY_MAX_SECONDS", 3000, minimum=1)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 60, minimum=1)
# The URL guard: https only in production, and no loopback, private, link-local (cloud
# metadata) or reserved addresses, checked at registration and at every delivery. Local
# development and the tests deliver to receivers on this machine, so there it is relaxed.
WEBHOOK_REQUIRE_HTTPS = env_bool("WEBHOOK_REQUIRE_HTTPS", PRODUCTION)
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", not PRODUCTION)
WEBHOOK_MAX_ENDPOINTS = env_int("WEBHOOK_MAX_ENDPOINTS", 10, minimum=1)
# A rotated webhook secret keeps signing beside the new one this long (a rotation may ask for
# anything from zero to the maximum), so deliveries and retries verify while receivers switch.
WEBHOOK_SECRET_ROTATION_OVERLAP = env_seconds("WEBHOOK_SECRET_ROTATION_OVERLAP", timedelta(hours=24))
WEBHOOK_SECRET_ROTATION_MAX_OVERLAP = env_seconds("WEBHOOK_SECRET_ROTATION_MAX_OVERLAP", timedelta(days=7))
# A webhook retry further away than a beat interval is not sent as a countdown message (it
# would outlive the visibility timeout): beat's retry job sends it when it falls due.

# API limits: a rate per key (DRF syntax, e.g. "1200/min") and a whole-request ceiling
# checked against Content-Length before the body is read.
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "1200/min")
# Refused API keys per client address before the address waits (429 with Retry-After).
API_INVALID_KEY_LIMIT = env_str("API_INVALID_KEY_LIMIT", "20/min")
# A rotated API key keeps working this long, so a rolling deploy can move to the new one.
API_KEY_ROTATION_OVERLAP = env_seconds("API_KEY_ROTATION_OVERLAP", timedelta(hours=24))
# /events lists an event once it is this old: the transaction that wrote it has committed by
# then, so a reader resuming after the newest event it saw never passes over an older one.
EVENTS_FEED_DELAY = env_seconds("EVENTS_FEED_DELAY", timedelta(seconds=5))
API_MAX_REQUEST_BYTES = env_int(
    "API_MAX_REQUEST_BYTES", UPLOAD_MAX_FILES * UPLOAD_MAX_BYTES + 1024 * 1024, minimum=1024
)
_cache_url = env_str("CACHE_URL", env_str("REDIS_URL", ""))
CACHES = {
    # Short socket timeouts: the rate limiter falls back to a local count when Redis is away.
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _cache_url,
        "KEY_PREFIX": "reviewhub",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
    if _cache_url.startswith("redis")
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
