"""Celery tasks of the audit log: sealing tree heads and anchoring them on chain."""

from __future__ import annotations

import random
from typing import Any

import structlog
from celery import shared_task
from django.conf import settings

from audit import breaker, chain
from audit.models import AnchorStatus
from audit.services import anchor_confirm, anchor_fail, anchor_prepare, anchor_send, seal_due, tree_seal

logger = structlog.get_logger(__name__)

MAX_RETRIES = 5


def backoff_seconds(retries: int) -> float:
    """Exponential backoff with jitter: about 5, 10, 20, 40, 80 seconds, capped at 5 minutes."""
    return float(min(5 * 2**retries, 300) + random.uniform(0, 1))  # noqa: S311 (jitter, not security)


@shared_task(acks_late=True, soft_time_limit=100, time_limit=120)
def seal_tree_head() -> int:
    """Seal when N events wait or the oldest waited T seconds; returns the new tree size or 0."""
    if not seal_due():
        return 0
    head = tree_seal()
    return head.tree_size if head else 0


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True, soft_time_limit=50, time_limit=60)
def anchor_tree_head(self: Any) -> str:
    """Anchor the latest signed tree head (or resume an unfinished anchor); idempotent."""
    if settings.AUDIT_ANCHORING_DISABLED:
        return "disabled"
    if not breaker.allow():
        logger.warning("audit.anchor_skipped_circuit_open")
        return "circuit_open"
    anchor = None
    try:
        anchor = anchor_prepare()
        if anchor is None:
            breaker.record_success()
            return "nothing_to_anchor"
        if anchor.status == AnchorStatus.PENDING:
            anchor = anchor_send(anchor_id=anchor.pk)
        anchor = anchor_confirm(anchor_id=anchor.pk)
    except chain.ChainUnavailableError as exc:
        breaker.record_failure()
        logger.warning("audit.anchor_retry", error=str(exc), retries=self.request.retries)
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from exc
    except chain.ChainRejectedError as exc:
        breaker.record_success()  # the node answered; the refusal is about this anchor
        if anchor is not None:
            anchor_fail(anchor_id=anchor.pk, reason=str(exc))
        logger.error("audit.anchor_refused", error=str(exc))
        return "failed"
    breaker.record_success()
    return str(anchor.status)
