"""Database helpers shared by the apps: recognising (and retrying) lock conflicts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import structlog
from django.db import OperationalError, connection
from prometheus_client import Counter

logger = structlog.get_logger(__name__)

T = TypeVar("T")

LOCK_CONFLICTS_RETRIED = Counter(
    "db_lock_conflicts_retried_total",
    "Transactions aborted by a deadlock or serialization failure and run again",
    ["what"],
)

# PostgreSQL SQLSTATEs of a transaction the server aborted to break a lock cycle or keep
# serializability: nothing it wrote survives, so running it again is safe.
LOCK_CONFLICT_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


def is_lock_conflict(exc: BaseException) -> bool:
    """Whether the error is a deadlock or serialization failure (the whole transaction was rolled back)."""
    cause = exc.__cause__ if isinstance(exc, OperationalError) else None  # Django wraps psycopg's error
    return getattr(cause, "sqlstate", None) in LOCK_CONFLICT_SQLSTATES


def retry_lock_conflicts(work: Callable[[], T], *, what: str, attempts: int = 5) -> T:
    """Run `work` (one whole transaction) again at once when the server aborted it for a lock conflict.

    Only at the outermost level: inside an enclosing transaction the rollback took the caller's work
    too, so the error must reach the caller.
    """
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except OperationalError as exc:
            if attempt == attempts or connection.in_atomic_block or not is_lock_conflict(exc):
                raise
            LOCK_CONFLICTS_RETRIED.labels(what=what).inc()
            logger.warning("db_lock_conflict_retried", what=what, attempt=attempt, error=str(exc).splitlines()[0][:200])
    raise AssertionError("unreachable")  # pragma: no cover
