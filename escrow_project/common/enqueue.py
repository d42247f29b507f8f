"""The one way to hand work to Celery after the caller's transaction commits.

When this runs the caller's work is committed: a broker outage must not turn that into an error for
the caller (who would retry under a new key, or see a 500 for something that happened). So the
enqueue is `robust`: a failure is logged and counted, the row it was for stays in its waiting state,
and that app's sweeper enqueues it again. Outside a transaction it enqueues at once, just as robustly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from django.db import transaction
from prometheus_client import Counter

logger = structlog.get_logger(__name__)

ENQUEUE_FAILED = Counter(
    "tasks_enqueue_failed_total", "Tasks that could not be handed to the broker (a sweeper re-sends them)", ["task"]
)


def after_commit(send: Callable[[], None], *, name: str) -> None:
    """Run `send` (a hand-over to the broker) once the transaction commits; never raises into the caller."""

    def enqueue_after_commit() -> None:
        try:
            send()
        except Exception as exc:  # noqa: BLE001 - any broker failure: the sweeper takes over
            ENQUEUE_FAILED.labels(task=name).inc()
            logger.warning("task_enqueue_failed", task=name, error=str(exc)[:200])

    transaction.on_commit(enqueue_after_commit, robust=True)


def enqueue_on_commit(task: Any, *args: Any, countdown: float | None = None) -> None:
    """`task.apply_async(args)` once the transaction commits (robustly, see `after_commit`)."""
    options = {"countdown": countdown} if countdown else {}
    after_commit(lambda: task.apply_async(args=args, **options), name=getattr(task, "name", repr(task)))
