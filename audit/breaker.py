"""A circuit breaker around the chain node, shared by all workers through the cache (Redis).

Closed: calls go through. After `threshold` consecutive failures it opens: calls are skipped.
After `reset_seconds` it is half-open: one call may try; success closes it, failure re-opens it.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from prometheus_client import Gauge

CLOSED, OPEN, HALF_OPEN = 0, 1, 2
STATE = Gauge(
    "audit_anchor_circuit_state",
    "Anchoring circuit breaker: 0 closed, 1 open, 2 half-open.",
    multiprocess_mode="livemax",
)

_FAILURES = "audit:anchor-breaker:failures"
_OPENED_AT = "audit:anchor-breaker:opened-at"
_TRIAL = "audit:anchor-breaker:trial"


def state() -> int:
    opened_at = cache.get(_OPENED_AT)
    if opened_at is None:
        current = CLOSED
    elif time.time() - float(opened_at) >= settings.AUDIT_ANCHOR_BREAKER_RESET_SECONDS:
        current = HALF_OPEN
    else:
        current = OPEN
    STATE.set(current)
    return current


def allow() -> bool:
    """Whether a call may go to the chain now (in half-open state: only one caller)."""
    current = state()
    if current == CLOSED:
        return True
    if current == HALF_OPEN:
        return bool(cache.add(_TRIAL, 1, timeout=settings.AUDIT_ANCHOR_BREAKER_RESET_SECONDS))
    return False


def record_success() -> None:
    cache.delete_many([_FAILURES, _OPENED_AT, _TRIAL])
    STATE.set(CLOSED)


def record_failure() -> None:
    cache.add(_FAILURES, 0, timeout=None)
    try:
        failures = cache.incr(_FAILURES)
    except ValueError:
        cache.set(_FAILURES, 1, timeout=None)
        failures = 1
    if failures >= settings.AUDIT_ANCHOR_BREAKER_THRESHOLD or cache.get(_TRIAL) is not None:
        cache.set(_OPENED_AT, time.time(), timeout=None)
        cache.delete(_TRIAL)
    state()
