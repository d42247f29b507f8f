"""Settings for pytest. DATABASE_URL / REDIS_URL pick PostgreSQL and Redis when CI sets them."""

from escrow_project.settings.base import *  # noqa: F403
from escrow_project.settings.base import REST_FRAMEWORK

# Every test client calls from 127.0.0.1 and Redis keeps counts across tests: production rates would
# throttle the suite itself. The throttling tests set their own small rates.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"client": "100000/min", "ip": "100000/min", "sign_in": "100000/min"},
}

DEBUG = False
# An error code missing from the registry (docs/errors.md) fails the request (escrow_project/common/error_codes.py).
ERROR_CODES_STRICT = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOG_FORMAT = "console"
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
