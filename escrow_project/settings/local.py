"""The embedded default: SQLite, filesystem broker, debug pages. For a laptop, never a server."""

from escrow_project.settings.base import *  # noqa: F403
from escrow_project.settings.env import env_bool

DEBUG = env_bool("DEBUG", True)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# A partner trying the platform on a laptop points webhooks at a receiver on the same machine
# (http://127.0.0.1:...): allowed here by default, never in production (docs/integration/webhooks.md).
NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE = env_bool("NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE", True)
