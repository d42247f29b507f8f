"""A read-through cache that correctness never depends on.

- Keys are versioned by a generation number; a write bumps the generation *on commit*, so a rolled-back
  write bumps nothing, and a reader that loaded the old row just before the commit stores it under the
  old generation, where nobody looks any more (no stale entry survives a committed write).
- Reads inside an atomic block skip the cache entirely: they may see the block's own uncommitted
  writes, which must never reach the cache (no phantom entry after a rollback).
- Any cache error is logged and the value is loaded from the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

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
    if connection.in_atomic_block:
        READS.labels(space=space, outcome="bypass").inc()
        return load()
    try:
        gen = cache.get(_gen_key(space, key), 0)
        data_key = f"{_gen_key(space, key)}:{gen}"
        hit = cache.get(data_key, _MISS)
    except Exception as exc:  # noqa: BLE001 - backends raise their own errors; the cache is optional
        log.warning("readcache.unavailable", space=space, error=type(exc).__name__)
        READS.labels(space=space, outcome="error").inc()
        return load()
    if hit is not _MISS:
        READS.labels(space=space, outcome="hit").inc()
        return hit
    READS.labels(space=space, outcome="miss").inc()
    value = load()
    try:
        cache.set(data_key, value, ttl)
    except Exception as exc:  # noqa: BLE001 - see above
        log.warning("readcache.unavailable", space=space, error=type(exc).__name__)
    return value


def invalidate_on_commit(*, space: str, key: str, ttl: int) -> None:
    """After the surrounding transaction commits (at once outside one), retire every cached `space:key`."""

    def bump() -> None:
        try:
            # The generation outlives every entry stored under the previous one (same ttl).
            cache.set(_gen_key(space, key), time.time_ns(), ttl)
        except Exception as exc:  # noqa: BLE001 - see above
            log.warning("readcache.invalidate_failed", space=space, error=type(exc).__name__)

    transaction.on_commit(bump)
