"""Settings shared by every environment; the environment modules only override."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from escrow_project.settings.env import env_bool, env_int, env_list, env_str, install_secret

# Lets admin/serializer classes be subscripted at runtime, as the type checker wants them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = env_str("SECRET_KEY", "insecure-local-development-key-change-me-0123456789abcdef")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "django_structlog",
    "django_celery_beat",
    "axes",
    "escrow_project.common",
    "identity",
    "ledger",
    "audit",
    "notifications",
    "verifications",
    "endorsements",
    "transactions",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "escrow_project.common.server_timing.ServerTimingMiddleware",
    "escrow_project.common.request_id.RequestIdMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "escrow_project.common.security.SecurityHeadersMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After authentication, so its process_exception runs first for every view (API problem JSON).
    "escrow_project.common.api_guard.ApiGuardMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it answers a locked-out sign-in form (settings/apps/identity.py).
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "escrow_project.urls"
WSGI_APPLICATION = "escrow_project.wsgi.application"
ASGI_APPLICATION = "escrow_project.asgi.application"

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
    }
]

# The embedded default is a SQLite file so the platform runs with no external service.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'escrow.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web server, worker and scheduler share one file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # services own their transaction boundaries
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
if IS_POSTGRES and env_bool("DB_POOL", False):
    # A psycopg connection pool per process (Django 5.1+), the way to keep connections under ASGI
    # (persistent connections are not for async servers). Without one every API request and every
    # task opens a connection: a PostgreSQL backend starts with cold catalog caches each time.
    if DATABASES["default"].get("CONN_MAX_AGE"):
        raise ImproperlyConfigured("DB_POOL and DB_CONN_MAX_AGE exclude each other: set one of them.")
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env_int("DB_POOL_MAX_SIZE", 4),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "identity.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request without it
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"

REDIS_URL = env_str("REDIS_URL", "")
CHAIN_RPC_URL = env_str("CHAIN_RPC_URL", "")

# Rate limits count in the cache, so it must be shared by every web process: Redis when configured,
# otherwise a table in the database (created by a common migration), never per-process memory.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "escrow_project.common.redis_cache.SharedClientRedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "common_cache"},
    }

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # A bearer token is a partner API key (esk_...) or a person's JWT; the first class answers
    # WWW-Authenticate, which makes a missing or bad token a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "identity.authentication.ApiKeyAuthentication",
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "escrow_project.common.pagination.LinkHeaderPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "escrow_project.common.openapi.PlatformAutoSchema",
    "EXCEPTION_HANDLER": "escrow_project.common.errors.problem_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's three, refusing NUL, lone surrogates, NaN and deep nesting (escrow_project/common/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "escrow_project.common.parsers.StrictJSONParser",
        "escrow_project.common.parsers.StrictFormParser",
        "escrow_project.common.parsers.StrictMultiPartParser",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "COERCE_DECIMAL_TO_STRING": True,
    # Per authenticated client and per IP; 429 problem details with Retry-After (docs/errors.md).
    "DEFAULT_THROTTLE_CLASSES": [
        "escrow_project.common.throttling.ClientRateThrottle",
        "escrow_project.common.throttling.IPRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "client": env_str("API_RATE_PER_CLIENT", "600/min"),
        "ip": env_str("API_RATE_PER_IP", "1200/min"),
        "sign_in": env_str("API_RATE_SIGN_IN_PER_IP", "30/min"),
    },
    # How many proxies in front append to X-Forwarded-For; 0 = use the socket address only. Never
    # None: DRF would then trust the whole, caller-controlled header. Leave it 0 when the server
    # already applies the header (TRUSTED_PROXIES below), or it is applied twice.
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
}
# Addresses of the reverse proxies whose X-Forwarded-For/-Proto the web server (uvicorn, started by
# run_platform) applies; empty = none, the socket address is the client. Never a caller's choice.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "")
# Server-Timing (application time and CPU per request) on every response: for benchmarks.
SERVER_TIMING = env_bool("SERVER_TIMING", False)

SPECTACULAR_SETTINGS = {
    "TITLE": "Escrow & Endorsements Platform API",
    "DESCRIPTION": (
        "Partner API for real-estate escrow and group-insurance endorsements. Every error is an "
        "RFC 9457 problem-details object (application/problem+json) with `type`, `title`, `status`, "
        "`detail`, `errors` (per field) and `request_id`. Every POST that creates or moves something "
        "honours an `Idempotency-Key` header."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "escrow_project.common.openapi.add_problem_responses",
        "escrow_project.common.openapi.add_examples",
        "notifications.openapi.add_outbound_webhooks",
    ],
    # One name per choice set that several serializers share (else drf-spectacular warns, W001).
    "ENUM_NAME_OVERRIDES": {
        "LedgerSideEnum": "ledger.models.Side",
        "EscrowStatusEnum": "transactions.states.EscrowStatus",
        "EscrowPaymentStatusEnum": "transactions.models.PaymentStatus",
        "EscrowPaymentKindEnum": "transactions.models.PaymentKind",
        "EscrowDepositKindEnum": "transactions.models.DepositKind",
        "EscrowSettlementStatusEnum": "transactions.models.SettlementStatus",
        "EscrowDisputeStatusEnum": "transactions.models.DisputeStatus",
        "EscrowDisputeDecisionEnum": "transactions.api.serializers.DisputeDecision",
        "VerificationTaskStatusEnum": "verifications.states.TaskStatus",
        "VerificationTypeEnum": "verifications.states.VerificationType",
        "VerificationAgentStatusEnum": "verifications.api.serializers.AgentStatus",
        "EndorsementKindEnum": "endorsements.models.EndorsementKind",
        "EndorsementDirectionEnum": "endorsements.models.Direction",
        "EndorsementBatchStatusEnum": "endorsements.models.Batch.Status",
        # Named too, or the escrow enums above collide with them on the field names kind/status.
        "OrganizationKindEnum": "identity.models.OrganizationKind",
        "NotificationStatusEnum": "notifications.models.NotificationStatus",
    },
}

# From the environment; otherwise a random key made for this install (var/secrets/), so a token
# signed with a key read in the source is never accepted. Production insists on the environment.
JWT_SIGNING_KEY_FROM_ENV = bool(env_str("JWT_SIGNING_KEY", ""))
JWT_SIGNING_KEY = env_str("JWT_SIGNING_KEY", "") or install_secret(VAR_DIR, "jwt_signing_key")
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    # Pinned: PyJWT is given exactly this list, so `alg: none` and algorithm confusion are refused.
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "AUDIENCE": env_str("JWT_AUDIENCE", "escrow-platform-api"),
    "ISSUER": env_str("JWT_ISSUER", "escrow-platform"),
    "LEEWAY": 0,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}

# --- Celery ---------------------------------------------------------------------------------
# With Redis configured it is the broker. run_platform configures the bundled Redis on the embedded
# default (docs/decisions/0801); other commands without REDIS_URL fall back to kombu's filesystem
# transport, which is not safe under concurrent use (kombu issue 1551).
CELERY_BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    # kombu names a Unix-socket Redis (the embedded default's bundled server) redis+socket://.
    CELERY_BROKER_URL = "redis+socket://" + REDIS_URL[7:] if REDIS_URL.startswith("unix://") else REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        # Longer than the longest countdown or task, or Redis redelivers unacked work early.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3 * 3600),
    }
else:
    CELERY_BROKER_URL = "filesystem://"
    for _folder in ("queue", "processed", "control"):
        (CELERY_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        # Without this kombu writes its broadcast exchange files into the current directory.
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
# The beat schedule is declared in code: escrow_project/celery.py, so it is reviewed like code.

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOG_FORMAT = env_str("LOG_FORMAT", "json")  # json | console
DJANGO_STRUCTLOG_CELERY_ENABLED = True
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False

from escrow_project.common.logging import configure_logging  # noqa: E402

LOGGING = configure_logging(level=LOG_LEVEL, fmt=LOG_FORMAT)

# --- Platform -------------------------------------------------------------------------------
IDEMPOTENCY_KEY_TTL_HOURS = env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24)
HEALTH_CHECK_TIMEOUT_SECONDS = float(env_str("HEALTH_CHECK_TIMEOUT_SECONDS", "2"))
IS_PRODUCTION = False
# Prometheus scrapes /metrics with this bearer token, or from these client addresses. Loopback
# only by default; production clears the address list (behind a local proxy every client would
# look like loopback) unless METRICS_ALLOWED_IPS is set explicitly.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "127.0.0.1,::1")

# Each app keeps its own settings in its own module, so parallel work never collides here.
from escrow_project.settings.apps.audit import *  # noqa: E402, F403
from escrow_project.settings.apps.endorsements import *  # noqa: E402, F403
from escrow_project.settings.apps.identity import *  # noqa: E402, F403
from escrow_project.settings.apps.ledger import *  # noqa: E402, F403
from escrow_project.settings.apps.notifications import *  # noqa: E402, F403
from escrow_project.settings.apps.transactions import *  # noqa: E402, F403
from escrow_project.settings.apps.verifications import *  # noqa: E402, F403

# Field encryption (escrow_project.common.crypto): see .env.example and docs/decisions/0401.
FIELD_ENCRYPTION_KEYS = env_str("FIELD_ENCRYPTION_KEYS", "")
BLIND_INDEX_KEY = env_str("BLIND_INDEX_KEY", "")
KEY_PROVIDER = env_str("KEY_PROVIDER", "escrow_project.common.crypto.keys.EnvironmentKeyProvider")
# Envelope provider (KEY_PROVIDER=escrow_project.common.crypto.envelope.EnvelopeKeyProvider) only.
KEY_WRAPPER = env_str("KEY_WRAPPER", "escrow_project.common.crypto.envelope.LocalKeyWrapper")
KEY_ENCRYPTION_KEY = env_str("KEY_ENCRYPTION_KEY", "")
KEY_ENCRYPTION_KEY_FILE = env_str("KEY_ENCRYPTION_KEY_FILE", "")
WRAPPED_DATA_KEYS = env_str("WRAPPED_DATA_KEYS", "")
WRAPPED_BLIND_INDEX_KEY = env_str("WRAPPED_BLIND_INDEX_KEY", "")

# --- The API's edges ------------------------------------------------------------------------
# CORS only for the partner origins listed (exact scheme://host[:port]); nothing by default.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False  # partners send bearer tokens, never our cookies
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type", "idempotency-key", "x-request-id"]
CORS_EXPOSE_HEADERS = ["Link", "Retry-After", "X-Request-ID", "Idempotent-Replayed"]
CORS_PREFLIGHT_MAX_AGE = 600
# Content-Security-Policy for HTML (party pages, admin); API JSON is never rendered as a page.
# Inline styles are allowed because the admin uses style attributes; scripts never run inline.
CONTENT_SECURITY_POLICY = env_str("CONTENT_SECURITY_POLICY", "") or (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# The request-size gate for file uploads (escrow_project.common.api_guard): over it a 413, unread.
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 5 * 1024 * 1024)
# Django keeps bigger uploads on disk in a temp file instead of memory; the limit above still applies.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Also the limit of every API body that is not a file upload: over it a 413 problem, before reading.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# JSON bodies, webhook payloads and batch files nested deeper than this are refused unparsed.
API_MAX_JSON_DEPTH = env_int("API_MAX_JSON_DEPTH", 32)
# The OpenAPI schema and Swagger UI at /api/schema/ and /api/docs/ (production turns them off).
API_DOCS_ENABLED = env_bool("API_DOCS_ENABLED", True)
