"""Handing outbox rows to Celery after commit, without ever failing the caller's request."""

from __future__ import annotations

import structlog
from django.db import transaction

logger = structlog.get_logger(__name__)


def _send_task(notification_id: int, countdown: float) -> None:
    from notifications.tasks import deliver_notification

    if countdown > 0:
        deliver_notification.apply_async(args=(notification_id,), countdown=countdown)
    else:
        deliver_notification.apply_async(args=(notification_id,))


def delivery_schedule_on_commit(notification_id: int, *, countdown: float = 0) -> None:
    """Queue a delivery once the transaction commits (at once outside one).

    `robust=True`: if the broker is down the caller's committed work stands, the error is logged,
    and the sweeper picks the pending row up later. Plain `delay_on_commit` would raise into the
    caller after its commit.
    """

    # A named closure, not functools.partial: when a robust callback fails, Django logs its
    # __qualname__, which a partial lacks, and the AttributeError would escape after all.
    def send_delivery_task() -> None:
        _send_task(notification_id, countdown)

    transaction.on_commit(send_delivery_task, robust=True)
