"""Settings of the notifications app (environment-driven)."""

from typing import Any

from escrow_project.settings.env import env_bool, env_int, env_str

# Delivery: retries wait 5 s, then twice as long after each attempt, up to an hour. E-mail and SMS
# get 3 attempts; webhooks 14 (about 4.4 hours: partners' outages last longer than a restart).
# A worker's lease on a row in flight outlives the slowest send.
NOTIFICATIONS_MAX_ATTEMPTS = env_int("NOTIFICATIONS_MAX_ATTEMPTS", 3)
NOTIFICATIONS_WEBHOOK_MAX_ATTEMPTS = env_int("NOTIFICATIONS_WEBHOOK_MAX_ATTEMPTS", 14)
NOTIFICATIONS_RETRY_DELAY_SECONDS = env_int("NOTIFICATIONS_RETRY_DELAY_SECONDS", 5)
NOTIFICATIONS_RETRY_MAX_DELAY_SECONDS = env_int("NOTIFICATIONS_RETRY_MAX_DELAY_SECONDS", 3600)
NOTIFICATIONS_DELIVERY_LEASE_SECONDS = env_int("NOTIFICATIONS_DELIVERY_LEASE_SECONDS", 60)
# The sweeper re-enqueues rows still pending this long after they were due (broker down at commit).
NOTIFICATIONS_SWEEP_GRACE_SECONDS = env_int("NOTIFICATIONS_SWEEP_GRACE_SECONDS", 30)
# Circuit breaker per channel, per endpoint for webhooks: opens after N consecutive transient
# failures, half-open after M seconds.
NOTIFICATIONS_CIRCUIT_FAILURE_THRESHOLD = env_int("NOTIFICATIONS_CIRCUIT_FAILURE_THRESHOLD", 3)
NOTIFICATIONS_CIRCUIT_RESET_SECONDS = env_int("NOTIFICATIONS_CIRCUIT_RESET_SECONDS", 120)
# Webhooks: timeouts, plain http (only for local receivers), grace period of an old secret.
NOTIFICATIONS_WEBHOOK_CONNECT_TIMEOUT_SECONDS = float(env_str("NOTIFICATIONS_WEBHOOK_CONNECT_TIMEOUT_SECONDS", "5"))
NOTIFICATIONS_WEBHOOK_READ_TIMEOUT_SECONDS = float(env_str("NOTIFICATIONS_WEBHOOK_READ_TIMEOUT_SECONDS", "10"))
NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE = env_bool("NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE", False)
NOTIFICATIONS_WEBHOOK_ROTATION_GRACE_HOURS = env_int("NOTIFICATIONS_WEBHOOK_ROTATION_GRACE_HOURS", 24)
# E-mail sender; the backend is Django's EMAIL_BACKEND (console locally, SMTP or anymail in production).
NOTIFICATIONS_FROM_EMAIL = env_str("NOTIFICATIONS_FROM_EMAIL", "Escrow Platform <no-reply@escrow.invalid>")
# SMS: empty picks Twilio when TWILIO_ACCOUNT_SID is set (install the twilio package), else a logging backend.
NOTIFICATIONS_SMS_BACKEND = env_str("NOTIFICATIONS_SMS_BACKEND", "")
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER", "")

# Links in messages (e-mail, SMS, webhook payloads) are absolute: built from PUBLIC_BASE_URL
# (base.py), which run_platform sets from its --port unless given. One-click unsubscribe links stay
# valid this long (RFC 8058 asks for a link that works for a reasonable time).
NOTIFICATIONS_UNSUBSCRIBE_MAX_AGE_DAYS = env_int("NOTIFICATIONS_UNSUBSCRIBE_MAX_AGE_DAYS", 60)

# channels_redis blocks 5 s in BZPOPMIN per receive; redis-py 8 reads with a 5 s socket timeout by
# default, so every idle WebSocket consumer died with "Timeout reading from ..." after 5 s
# (redis-py issue 4091). A read timeout well above the blocking time still notices a dead server.
CHANNEL_LAYER_SOCKET_TIMEOUT_SECONDS = 20


def channel_layers(redis_url: str, *, prefix: str = "asgi") -> dict[str, dict[str, Any]]:
    """CHANNEL_LAYERS on one Redis (a redis:// or unix:// URL): groups shared by every process."""
    host = {
        "address": redis_url,
        "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT_SECONDS,
        "socket_connect_timeout": 5,
    }
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [host], "prefix": prefix},
        }
    }


# Django Channels: Redis when REDIS_URL is set (several processes share groups), in-memory otherwise
# (one process only; local.py finds a running platform's bundled Redis).
_REDIS_URL = env_str("REDIS_URL", "")
CHANNEL_LAYERS: dict[str, dict[str, Any]] = (
    channel_layers(_REDIS_URL) if _REDIS_URL else {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
)
