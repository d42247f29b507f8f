"""Handing outbox rows to Celery after commit, without ever failing the caller's request."""

from __future__ import annotations

import structlog

from escrow_project.common.enqueue import enqueue_on_commit

logger = structlog.get_logger(__name__)


def delivery_schedule_on_commit(notification_id: int, *, countdown: float = 0) -> None:
    """Queue a delivery once the transaction commits (at once outside one). If the broker is down
    the caller's committed work stands, and the sweeper picks the pending row up later."""
    from notifications.tasks import deliver_notification

    enqueue_on_commit(deliver_notification, notification_id, countdown=countdown)
