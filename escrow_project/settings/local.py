"""The embedded default: SQLite, the Redis run_platform bundles (docs/decisions/0801), debug pages. For a laptop."""

import os
from pathlib import Path

from escrow_project.settings.apps.notifications import channel_layers
from escrow_project.settings.base import *  # noqa: F403
from escrow_project.settings.env import env_bool

DEBUG = env_bool("DEBUG", True)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# A partner trying the platform on a laptop points webhooks at a receiver on the same machine
# (http://127.0.0.1:...): allowed here by default, never in production (docs/integration/webhooks.md).
NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE = env_bool("NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE", True)
# The sandbox insurer of the embedded default listens on this machine (ENDORSEMENTS_SANDBOX_PORT).
ENDORSEMENTS_GATEWAY_ALLOW_PRIVATE = env_bool("ENDORSEMENTS_GATEWAY_ALLOW_PRIVATE", True)
# Counters counted in the worker and beat show at the web process's /metrics: every process of
# the embedded default writes its metrics here (escrow_project/common/metrics.py). Set before any
# process imports prometheus_client, which happens after settings load.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "prometheus"))  # noqa: F405
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
# Live pages on the embedded default: run_platform hands REDIS_URL (its bundled Redis) to its
# children. A command started beside a running platform without it (`manage.py shell`, a worker
# started by hand) joins that Redis's channel layer too, or its changes would never reach an open
# page: an in-memory layer is one process's alone.
_BUNDLED_REDIS = VAR_DIR / "redis" / "redis.sock"  # noqa: F405 - run_platform.embedded_redis puts it there
if not REDIS_URL and _BUNDLED_REDIS.is_socket():  # noqa: F405
    CHANNEL_LAYERS = channel_layers(f"unix://{_BUNDLED_REDIS}")
