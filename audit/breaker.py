"""The circuit breaker around the chain node: the kernel's shared breaker
(escrow_project.common.breaker), shared by all workers through the cache."""

from __future__ import annotations

from django.conf import settings
from prometheus_client import Gauge

from escrow_project.common.breaker import CLOSED, HALF_OPEN, OPEN, SharedBreaker

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "allow", "record_failure", "record_success", "state"]

STATE = Gauge(
    "audit_anchor_circuit_state",
    "Anchoring circuit breaker: 0 closed, 1 open, 2 half-open.",
    multiprocess_mode="livemax",
)

_BREAKER = SharedBreaker(
    "audit-anchor",
    threshold=lambda: int(settings.AUDIT_ANCHOR_BREAKER_THRESHOLD),
    reset_seconds=lambda: float(settings.AUDIT_ANCHOR_BREAKER_RESET_SECONDS),
    on_state=STATE.set,
    keys=("audit:anchor-breaker:failures", "audit:anchor-breaker:opened-at", "audit:anchor-breaker:trial"),
)
state = _BREAKER.state
allow = _BREAKER.allow
record_success = _BREAKER.record_success
record_failure = _BREAKER.record_failure
