"""Settings for pytest. DATABASE_URL / REDIS_URL pick PostgreSQL and Redis when CI sets them."""

from escrow_project.settings.apps.notifications import channel_layers
from escrow_project.settings.base import *  # noqa: F403
from escrow_project.settings.base import (
    CACHES,
    CELERY_BROKER_TRANSPORT_OPTIONS,
    REDIS_URL,
    REST_FRAMEWORK,
)
from escrow_project.settings.env import env_str

# Every test client calls from 127.0.0.1 and Redis keeps counts across tests: production rates would
# throttle the suite itself. The throttling tests set their own small rates.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"client": "100000/min", "ip": "100000/min", "sign_in": "100000/min"},
}

DEBUG = False
# An error code missing from the registry (docs/errors.md) fails the request (escrow_project/common/error_codes.py).
ERROR_CODES_STRICT = True
# So does appending an audit event of a kind missing from the registry (audit/kinds.py, docs/audit-events.md).
AUDIT_KINDS_STRICT = True
# The sandbox and test insurers listen on 127.0.0.1; tests/endorsements/test_rails_config.py turns this
# off to check that the gateways refuse a private insurer address.
ENDORSEMENTS_GATEWAY_ALLOW_PRIVATE = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOG_FORMAT = "console"
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# pytest-xdist runs several workers against one Redis database (each engineer and CI job owns one
# of the 16). Every key a worker writes carries its worker id, so one worker's cache.clear(), broker
# purge or Channels group never reaches another; pytest-django already gives each worker its own
# test database. Worker subprocesses (Celery, uvicorn) inherit PYTEST_XDIST_WORKER and agree.
REDIS_KEY_PREFIX = f"{_worker}:" if (_worker := env_str("PYTEST_XDIST_WORKER", "")) else ""
if REDIS_URL and REDIS_KEY_PREFIX:
    CACHES = {"default": {**CACHES["default"], "KEY_PREFIX": REDIS_KEY_PREFIX}}
    CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, "global_keyprefix": REDIS_KEY_PREFIX}
    CHANNEL_LAYERS = channel_layers(REDIS_URL, prefix=f"asgi:{REDIS_KEY_PREFIX}")
