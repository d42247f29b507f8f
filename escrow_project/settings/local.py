"""The embedded default: SQLite, the Redis run_platform bundles (docs/decisions/0801), debug pages. For a laptop."""

from escrow_project.settings.base import *  # noqa: F403
from escrow_project.settings.env import env_bool

DEBUG = env_bool("DEBUG", True)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
