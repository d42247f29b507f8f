"""A read-through cache that correctness never depends on.

- Keys are versioned by a generation number; a write bumps the generation *on commit*, so a rolled-back
  write bumps nothing, and a reader that loaded the old row just before the commit stores it under the
  old generation, where nobody looks any more (no stale entry survives a committed write).
- Reads inside an atomic block skip the cache entirely: they may see the block's own uncommitted
  writes, which must never reach the cache (no phantom entry after a rollback).
- Any cache error is logged and the value is loaded from the database.
- The generation doubles as the version of what is cached (`cached_versioned`, `wait_for_change`):
  an HTTP ETag and a long-poll compare it with one cache read instead of loading anything.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any, TypeVar

import structlog
from django.core.cache import cache
from django.db import connection, transaction
from prometheus_client import Counter

log = structlog.get_logger(__name__)

READS = Counter("escrow_readcache_reads_total", "Read-through cache lookups", ["space", "outcome"])

T = TypeVar("T")
_MISS = object()


def _gen_key(space: str, key: str) -> str:
    # The database name keeps a test database and a dev database on one Redis apart.
    return f"rc:{connection.settings_dict['NAME']}:{space}:{key}:gen"


def cached(*, space: str, key: str, ttl: int, load: Callable[[], T]) -> T:
    """Return the cached value of `space:key`, or load it from the database and cache it for `ttl` s."""
    return cached_versioned(space=space, key=key, ttl=ttl, load=load)[0]


def cached_versioned(*, space: str, key: str, ttl: int, load: Callable[[], T]) -> tuple[T, str | None]:
    """`cached`, with the generation the value belongs to (None when the cache was not used).

    The generation is read before the value is loaded, so a write committed meanwhile makes the
    returned version stale, never the value older than its version: a client comparing versions
    may fetch once too often but never misses a change.
    """
    if connection.in_atomic_block:
        READS.labels(space=space, outcome="bypass").inc()
        return load(), None
    try:
        gen = str(cache.get(_gen_key(space, key), 0))
        data_key = f"{_gen_key(space, key)}:{gen}"
        hit = cache.get(data_key, _MISS)
    except Exception as exc:  # noqa: BLE001 - backends raise their own errors; the cache is optional
        log.warning("readcache.unavailable", space=space, error=type(exc).__name__)
        READS.labels(space=space, outcome="error").inc()
        return load(), None
    if hit is not _MISS:
        READS.labels(space=space, outcome="hit").inc()
        return hit, gen
    READS.labels(space=space, outcome="miss").inc()
    value = load()
    try:
        cache.set(data_key, value, ttl)
    except Exception as exc:  # noqa: BLE001 - see above
        log.warning("readcache.unavailable", space=space, error=type(exc).__name__)
    return value, gen


def version(*, space: str, key: str) -> str | None:
    """The current generation of `space:key` (one cache read), None when the cache cannot say."""
    if connection.in_atomic_block:
        return None
    try:
        return str(cache.get(_gen_key(space, key), 0))
    except Exception as exc:  # noqa: BLE001 - see above
        log.warning("readcache.unavailable", space=space, error=type(exc).__name__)
        return None


def _redis() -> Any | None:
    """The redis-py client under Django's Redis cache, None for any other cache backend."""
    backend = getattr(cache, "_cache", None)
    get_client = getattr(backend, "get_client", None)
    return get_client(write=True) if get_client is not None and hasattr(backend, "_pools") else None


def wait_for_change(*, space: str, key: str, seen: str, timeout: float, recheck: float = 1.0) -> bool:
    """Block until the generation of `space:key` differs from `seen` (True) or `timeout` s pass (False).

    On Redis the waiter sleeps on a pub/sub channel that `invalidate_on_commit` publishes to, so a
    long-polling client costs no CPU while nothing changes, not a request every half second. The
    message is only a wake-up: the generation decides, read again at least every `recheck` s (a
    lost message costs that much delay, never a missed change). Other caches are read every 0.1 s.
    Returns at once (True) when the cache cannot say, so the caller answers from the database
    rather than waiting on a version it cannot see change.
    """
    deadline = time.monotonic() + timeout
    pubsub = None
    try:
        client = _redis()
        if client is not None:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(_gen_key(space, key))  # before the first read, so no publish falls between
    except Exception as exc:  # noqa: BLE001 - see above; the wait falls back to reading the version
        log.warning("readcache.unavailable", space=space, error=type(exc).__name__)
        pubsub = None
    try:
        while True:
            current = version(space=space, key=key)
            if current is None or current != seen:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if pubsub is None:
                time.sleep(min(0.1, remaining))
                continue
            try:
                pubsub.get_message(timeout=min(recheck, remaining))
            except Exception as exc:  # noqa: BLE001 - see above
                log.warning("readcache.unavailable", space=space, error=type(exc).__name__)
                pubsub = None
    finally:
        if pubsub is not None:
            with contextlib.suppress(Exception):
                pubsub.close()


def invalidate_on_commit(*, space: str, key: str, ttl: int) -> None:
    """After the surrounding transaction commits (at once outside one), retire every cached `space:key`."""

    def bump() -> None:
        try:
            # The generation outlives every entry stored under the previous one (same ttl).
            cache.set(_gen_key(space, key), time.time_ns(), ttl)
            client = _redis()
            if client is not None:  # wakes whoever waits on this key (wait_for_change)
                client.publish(_gen_key(space, key), b"1")
        except Exception as exc:  # noqa: BLE001 - see above
            log.warning("readcache.invalidate_failed", space=space, error=type(exc).__name__)

    transaction.on_commit(bump)
