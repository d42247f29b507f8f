"""Production: everything from the environment, and a refusal to start when it is unsafe."""

from django.core.exceptions import ImproperlyConfigured

from escrow_project.settings.apps.audit import AUDIT_ANCHORING_DISABLED
from escrow_project.settings.apps.ledger import (
    ALLOW_SIMULATED_RAIL,
    PAYMENT_RAIL,
    STRIPE_LIVE_MODE,
    STRIPE_SECRET_KEY,
    STRIPE_WEBHOOK_SECRETS,
)
from escrow_project.settings.base import *  # noqa: F403
from escrow_project.settings.base import (
    BLIND_INDEX_KEY,
    CHAIN_RPC_URL,
    DATABASES,
    DEBUG,
    FIELD_ENCRYPTION_KEYS,
    JWT_SIGNING_KEY,
    JWT_SIGNING_KEY_FROM_ENV,
    KEY_PROVIDER,
    REDIS_URL,
    SECRET_KEY,
)
from escrow_project.settings.env import env_bool, env_int, env_list

_KNOWN_INSECURE_PREFIXES = ("insecure", "django-insecure", "change-me", "changeme", "secret")


def _refuse_insecure_key(name: str, value: str) -> None:
    lowered = value.lower()
    if len(value) < 50 or len(set(value)) < 5 or lowered.startswith(_KNOWN_INSECURE_PREFIXES):
        raise ImproperlyConfigured(
            f"{name} is missing or insecure: production needs at least 50 random characters "
            "(generate one with `python -c 'import secrets; print(secrets.token_urlsafe(64))'`)."
        )


if DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production.")
_refuse_insecure_key("SECRET_KEY", SECRET_KEY)
if not JWT_SIGNING_KEY_FROM_ENV:  # a per-host key in var/ would split the fleet's tokens
    raise ImproperlyConfigured("Production needs JWT_SIGNING_KEY in the environment.")
_refuse_insecure_key("JWT_SIGNING_KEY", JWT_SIGNING_KEY)
if JWT_SIGNING_KEY == SECRET_KEY:
    raise ImproperlyConfigured("JWT_SIGNING_KEY must differ from SECRET_KEY in production.")

# The embedded defaults (SQLite, filesystem broker, per-process channel layer) are for one laptop:
# they lose locking guarantees and cross-process delivery that money movement relies on.
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise ImproperlyConfigured("Production needs DATABASE_URL pointing at PostgreSQL (postgres://...).")
if not REDIS_URL:
    raise ImproperlyConfigured("Production needs REDIS_URL (Celery broker, cache, rate limits, live events).")

# Production moves real money: the simulated rail settles anything instantly, so it needs an explicit yes.
if PAYMENT_RAIL == "simulated" and not ALLOW_SIMULATED_RAIL:
    raise ImproperlyConfigured(
        "Production refuses the simulated payment rail: set PAYMENT_RAIL=stripe with STRIPE_SECRET_KEY and "
        "STRIPE_WEBHOOK_SECRETS, or ALLOW_SIMULATED_RAIL=true for a deployment that moves no real money."
    )
if PAYMENT_RAIL == "stripe":
    if not STRIPE_SECRET_KEY or not STRIPE_WEBHOOK_SECRETS:
        raise ImproperlyConfigured("PAYMENT_RAIL=stripe needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRETS.")
    if ("_live_" in STRIPE_SECRET_KEY) != STRIPE_LIVE_MODE:
        raise ImproperlyConfigured(
            "STRIPE_LIVE_MODE and STRIPE_SECRET_KEY disagree: a live key needs STRIPE_LIVE_MODE=true, a test key false."
        )

# Without CHAIN_RPC_URL anchors go to an in-process chain that lives and dies with each worker:
# no party can read it, so its anchors would look like proof and prove nothing.
if not CHAIN_RPC_URL and not AUDIT_ANCHORING_DISABLED:
    raise ImproperlyConfigured(
        "Production refuses to anchor the audit log on the in-process chain, which nobody else can read: set "
        "CHAIN_RPC_URL (with AUDIT_CHAIN_PRIVATE_KEY and AUDIT_ANCHOR_CONTRACT_ADDRESS), or "
        "AUDIT_ANCHORING_DISABLED=true to run without anchors (bundles then prove no anchor; --strict fails)."
    )

# Personal data is encrypted with keys from the environment (or a KMS provider); never derived ones.
if KEY_PROVIDER.endswith(".EnvironmentKeyProvider") and (
    not FIELD_ENCRYPTION_KEYS.strip() or not BLIND_INDEX_KEY.strip()
):
    raise ImproperlyConfigured(
        "Production needs FIELD_ENCRYPTION_KEYS and BLIND_INDEX_KEY "
        "(generate them with `manage.py generate_encryption_keys`), or another KEY_PROVIDER."
    )

METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "")
# The API's map is for partners' developers, not for the public: serve it only when asked to.
API_DOCS_ENABLED = env_bool("API_DOCS_ENABLED", False)

# TLS is terminated by the proxy in front, which must set X-Forwarded-Proto to the scheme the
# client used and strip any X-Forwarded-Proto the client sent; otherwise a client could claim https.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# __Host- cookies are refused by browsers unless Secure, host-only and Path=/: no subdomain can set them.
SESSION_COOKIE_NAME = "__Host-sessionid"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_NAME = "__Host-csrftoken"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
IS_PRODUCTION = True
