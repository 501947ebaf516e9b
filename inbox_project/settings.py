"""Settings, read only from environment variables (see README "Configuration").

Embedded mode (the default): SQLite in WAL mode, an in-process channel layer and Celery on
an in-memory broker with its worker and beat inside the server process.
Production mode: ``DATABASE_URL`` selects PostgreSQL and ``REDIS_URL`` selects
channels_redis and the Redis broker. Nothing else differs between the two.
"""

from __future__ import annotations

import warnings
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from core.redis_pool import redis_cache
from inbox_project.env import env_bool, env_float, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("INBOX_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
DATABASE_URL = env_url("DATABASE_URL", schemes=("postgres", "postgresql", "sqlite"))
REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss"))
# Embedded mode: nothing configured but Python. Production: a real database or Redis is configured.
EMBEDDED = not DATABASE_URL and not REDIS_URL


def _secret_key() -> str:
    key = env_str("SECRET_KEY", "")
    if key:
        if not DEBUG and (len(key) < 32 or key.startswith("django-insecure") or "change-me" in key):
            raise ImproperlyConfigured(
                "SECRET_KEY is too short or a known default; set a long random value when DEBUG is off"
            )
        return key
    if not EMBEDDED and not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off and DATABASE_URL or REDIS_URL is set "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    # Embedded mode: a random key made once per installation and kept beside the database.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        import secrets

        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

PUBLIC_BASE_URL = env_url("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [PUBLIC_BASE_URL])
COMPANY_NAME = env_str("COMPANY_NAME", "Acme Support")

INSTALLED_APPS = [
    "daphne",
    "core.admin_config.BackOfficeAdminConfig",  # django.contrib.admin with the back office site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "core",
    "conversations",
    "channels_app",
    "channels_app.webchat",
    "channels_app.twilio",
    "channels_app.email",
    "channels_app.api",
    "routing",
    "analytics",
]

MIDDLEWARE = [
    "core.middleware.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "inbox_project.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "inbox_project.asgi.application"

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
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
if DATABASE_URL:
    # Under daphne (ASGI) Django keeps connections per request context, not per thread: a
    # persistent connection (CONN_MAX_AGE) is never reused there, so every request opened a new
    # PostgreSQL connection (a backend process each) and left the old one for the garbage
    # collector; under load the servers ran out of them ("too many clients"). A pool per process
    # (psycopg_pool, Django >= 5.1) hands each request a connection and takes it back at its end.
    # Each connection is checked (one round trip) as it leaves the pool: after a PostgreSQL restart
    # or a terminated backend the idle ones are dead, and a request must get a fresh one, not an error.
    # Opt-in for now (0: persistent connections, as before), until the whole suite has run with it on.
    DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 0, minimum=0)
    if DB_POOL_MAX_SIZE and DATABASE_URL.startswith(("postgres://", "postgresql://")):
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # Django passes the pool its check
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": DB_POOL_MAX_SIZE,
            "timeout": env_float("DB_POOL_TIMEOUT_SECONDS", 10.0),
        }
    else:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(VAR_DIR / "inbox.sqlite3")),
            "OPTIONS": {
                # WAL lets the web server and the embedded worker read while one writes;
                # IMMEDIATE transactions take the write lock up front instead of failing late.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, Celery broker, cache ---------------------------------------------
if REDIS_URL:
    # Pub/sub: a group_send is one PUBLISH, received once by each server process subscribed to the
    # group, which hands it to its own sockets. The list-based RedisChannelLayer wrote one message
    # per member socket and each process popped them one by one: with 200 agents an inbound
    # message was about 600 Redis writes and reads, and the servers fell seconds behind. Pub/sub
    # keeps nothing for a process that is not listening; the database is the record and clients
    # resync (CHANNEL_LAYER=lists restores the old layer).
    CHANNEL_LAYER = env_str("CHANNEL_LAYER", "pubsub")
    if CHANNEL_LAYER not in ("pubsub", "lists"):
        raise ImproperlyConfigured(f"CHANNEL_LAYER must be pubsub or lists, got {CHANNEL_LAYER!r}")
    if CHANNEL_LAYER == "lists":
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [REDIS_URL], "capacity": 1000, "expiry": 30},
            }
        }
    else:
        CHANNEL_LAYERS = {
            # channels_redis's pub/sub layer, publishing many groups in one round trip (core/pubsub_layer.py).
            "default": {"BACKEND": "core.pubsub_layer.PubSubChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
        }
    # One connection pool per process (core/redis_pool.py), not one per request.
    CACHES = {"default": redis_cache(REDIS_URL)}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "core.channel_layer.EmbeddedChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Celery's Django fixup closes every database connection after each task, and in a prefork
# worker with the pool on it closes the whole pool: each task opened a new PostgreSQL connection
# (a backend process started and its catalogue caches filled). It is told to leave them
# (a reuse count it never reaches); inbox_project/celery.py recycles them as Django does around a
# request instead: closed when broken or past their age, else kept for the next task.
CELERY_DB_REUSE_MAX = 2**62
# Web servers, workers and beat freeze what they loaded at start out of the garbage collector's
# full passes (core/collector.py): a full pass over it stopped the process for 130-300 ms.
GC_FREEZE_AT_START = env_bool("GC_FREEZE_AT_START", True)
# Customers' messages, accepted by their webhook, are stored by the "inbound" queue's worker.
CELERY_TASK_ROUTES = {"channels_app.*.tasks.process_inbound_*": {"queue": "inbound"}}
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {
        "task": "core.tasks.record_heartbeat",
        "schedule": timedelta(seconds=env_int("HEARTBEAT_INTERVAL_SECONDS", 30, minimum=1)),
    },
}
CELERY_BEAT_SCHEDULE["sweep-webhook-deliveries"] = {
    "task": "conversations.tasks.sweep_webhook_deliveries",
    "schedule": timedelta(seconds=60),
}
CELERY_BEAT_SCHEDULE["status-timers"] = {
    "task": "conversations.tasks.run_status_timers",
    "schedule": timedelta(seconds=env_int("STATUS_TIMERS_INTERVAL_SECONDS", 60, minimum=5)),
}
CELERY_BEAT_SCHEDULE["sla-timers"] = {
    "task": "conversations.tasks.run_sla_timers",
    "schedule": timedelta(seconds=env_int("SLA_TIMERS_INTERVAL_SECONDS", 60, minimum=5)),
}
CELERY_BEAT_SCHEDULE["follow-up-reminders"] = {
    "task": "conversations.tasks.run_reminders",
    "schedule": timedelta(seconds=60),
}
CELERY_BEAT_SCHEDULE["routing-sweep-queues"] = {
    "task": "routing.routing_tasks.sweep_queues",
    "schedule": timedelta(minutes=1),
}
CELERY_BEAT_SCHEDULE["routing-reassign-unanswered"] = {
    "task": "routing.routing_tasks.reassign_unanswered",
    "schedule": timedelta(minutes=1),
}
CELERY_BEAT_SCHEDULE["analytics-refresh-rollups"] = {
    "task": "analytics.tasks.refresh_rollups",
    "schedule": timedelta(seconds=env_int("ANALYTICS_REFRESH_SECONDS", 300, minimum=10)),
}
CELERY_BEAT_SCHEDULE["email-poll-mailboxes"] = {
    "task": "channels_app.email.tasks.poll_mailboxes",
    "schedule": timedelta(seconds=env_int("EMAIL_POLL_BEAT_SECONDS", 30, minimum=5)),
}
CELERY_TASK_ROUTES["channels_app.email.tasks.poll_mailbox"] = {"queue": "inbound"}
# The task outbox (core/outbox.py): follow-up work written with the change, published after commit,
# published again by the sweep when the broker lost it or its worker died.
OUTBOX_LEASE_SECONDS = env_int("OUTBOX_LEASE_SECONDS", 300, minimum=1)
OUTBOX_PUBLISH_GRACE_SECONDS = env_int("OUTBOX_PUBLISH_GRACE_SECONDS", 30, minimum=0)
OUTBOX_MAX_INTERRUPTIONS = env_int("OUTBOX_MAX_INTERRUPTIONS", 3, minimum=1)
CELERY_BEAT_SCHEDULE["outbox-sweep"] = {
    "task": "core.tasks.sweep_outbox",
    "schedule": timedelta(seconds=env_int("OUTBOX_SWEEP_SECONDS", 30, minimum=1)),
}
# Only the beat holding the lease sends periodic tasks, so a second beat started by mistake doubles nothing.
CELERY_BEAT_SCHEDULER = "core.beat:LeaderScheduler"
BEAT_LEASE_SECONDS = env_int("BEAT_LEASE_SECONDS", 30, minimum=2)
CELERY_TIMEZONE = "UTC"

# --- Auth, i18n, static ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/inbox/"
LOGOUT_REDIRECT_URL = "/login/"
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# WhiteNoise serves static files straight from the apps, so no collectstatic step is needed to run
# (and it need not warn that STATIC_ROOT is missing when nobody ran collectstatic).
WHITENOISE_USE_FINDERS = True
warnings.filterwarnings("ignore", message="No directory at")
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MAX_ATTACHMENT_BYTES = env_int("MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_ATTACHMENT_BYTES + 1024 * 1024

# --- Security -------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many proxies we run in front of the web servers, each appending to X-Forwarded-For
# (core/middleware.py); 0: the header is ignored and the connecting address is the client.
TRUSTED_PROXY_HOPS = env_int("TRUSTED_PROXY_HOPS", 0, minimum=0)
_HTTPS = PUBLIC_BASE_URL.startswith("https://")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _HTTPS and not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", _HTTPS or not (DEBUG or EMBEDDED))
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", _HTTPS or not (DEBUG or EMBEDDED))
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if _HTTPS and not DEBUG else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", SECURE_HSTS_SECONDS > 0)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Error reports hide credentials inside URLs too (DATABASE_URL, REDIS_URL, the broker, the caches).
DEFAULT_EXCEPTION_REPORTER_FILTER = "core.reporting.ExceptionReporterFilter"

# --- Email ----------------------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", EMAIL_PORT == 587)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", EMAIL_PORT == 465)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be true")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", f"support@{ALLOWED_HOSTS[0] if ALLOWED_HOSTS else 'localhost'}")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)

# --- Twilio ---------------------------------------------------------------------------------
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN", "")
TWILIO_API_BASE_URL = env_url("TWILIO_API_BASE_URL", "")
TWILIO_MEDIA_HOSTS = env_list("TWILIO_MEDIA_HOSTS", ["api.twilio.com", "media.twiliocdn.com"])

# --- Outbound webhooks for integrators ---------------------------------------------------------
# Private and loopback destinations are refused in production (no probing the internal network).
WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = env_bool("WEBHOOK_ALLOW_PRIVATE_DESTINATIONS", DEBUG or EMBEDDED)
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0)

# --- Anthropic ------------------------------------------------------------------------------
ANTHROPIC_API_KEY = env_str("ANTHROPIC_API_KEY", "")
ANTHROPIC_MODEL = env_str("ANTHROPIC_MODEL", "claude-sonnet-4-5")
ANTHROPIC_BASE_URL = env_url("ANTHROPIC_BASE_URL", "")
ANTHROPIC_TIMEOUT_SECONDS = env_float("ANTHROPIC_TIMEOUT_SECONDS", 30.0)
ANTHROPIC_MAX_RETRIES = env_int("ANTHROPIC_MAX_RETRIES", 2, minimum=0)
# The assistant answers each customer message (per inbox: assistant_enabled). The test suite turns this off
# except in the tests about the assistant, so that other tests see only what they cause.
ASSISTANT_AUTORUN = env_bool("ASSISTANT_AUTORUN", True)

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": [],
    "DEFAULT_PAGINATION_CLASS": "conversations.api.pagination.KeysetPagination",
    "DEFAULT_SCHEMA_CLASS": "conversations.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "conversations.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Unified inbox API",
    "DESCRIPTION": (
        "REST API of the unified inbox. Authenticate with `Authorization: Token <key>` (keys from "
        "`POST /api/v1/auth/token/`) or the browser session with CSRF. Lists are cursor-paginated "
        '(`next`/`previous` links). Errors are `{"error": {"code", "message", "fields"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "conversations.models.Status",
        "ChannelKindEnum": "conversations.models.ChannelKind",
        "PriorityNameEnum": ["urgent", "high", "normal", "low"],
        "IdentityKindEnum": "conversations.models.IdentityKind",
        "NotificationKindEnum": "conversations.models.NotificationKind",
        "DirectionEnum": "conversations.models.Direction",
        "WebhookEventTypeEnum": "conversations.models.WebhookEventType",
        "DeliveryOutcomeEnum": "conversations.models.DeliveryOutcome",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got {LOG_LEVEL!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"daphne": {"level": "WARNING"}, "django.channels.server": {"level": "WARNING"}},
}
