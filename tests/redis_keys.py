"""This test process's own Redis keys: under pytest-xdist each worker prefixes its keys with its id
(escrow_project/settings/test.py), so clearing must not FLUSHDB the database the other workers share."""

from __future__ import annotations

import redis
from django.conf import settings


def client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def key(name: str) -> str:
    """A raw broker key (kombu's `unacked`) as this process's Celery names it."""
    return f"{settings.REDIS_KEY_PREFIX}{name}"


def forget_mine() -> None:
    """Delete every key this process (and its worker subprocesses) wrote: FLUSHDB when serial."""
    connection = client()
    prefix = settings.REDIS_KEY_PREFIX
    if not prefix:
        connection.flushdb()
        return
    # Django's cache adds ":1:" after KEY_PREFIX, kombu adds nothing, Channels uses "asgi:<prefix>".
    for pattern in (f"{prefix}*", f"asgi:{prefix}*"):
        batch = list(connection.scan_iter(match=pattern, count=500))
        if batch:
            connection.delete(*batch)
