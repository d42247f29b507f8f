"""Delivering outbox rows: claim with a lease, send outside any transaction, record the outcome.

"Exactly once" here means: at most one worker sends a row at a time (the lease), a row that is
recorded as sent is never sent again (the claim re-checks the status under a row lock), and when a
worker dies between sending and recording, the row is sent again after its lease expires with the
SAME message id (webhook-id / Idempotency-Key / e-mail Message-ID), so the receiver can drop the
repeat. An unknown outcome cannot be resolved without asking the receiver; see
docs/decisions/0301-notifications-api.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from escrow_project.common.errors import ConflictError, DomainError, NotFoundError
from escrow_project.common.redaction import scrub_text
from notifications import metrics
from notifications.channels import (
    DeliveryResult,
    PermanentDeliveryError,
    TransientDeliveryError,
    backend_for,
)
from notifications.kinds import WEBHOOK
from notifications.models import Notification, NotificationAttempt, NotificationStatus
from notifications.rendering import renders_shared
from notifications.services.circuit import (
    CircuitDecision,
    circuit_acquire,
    circuit_record_failure,
    circuit_record_success,
)
from notifications.services.scheduling import delivery_schedule_on_commit

logger = structlog.get_logger(__name__)

_TERMINAL = {NotificationStatus.SENT, NotificationStatus.FAILED, NotificationStatus.SKIPPED}
# A retry task may wake a little before next_attempt_at (clock skew between hosts).
_EARLY_TOLERANCE = timedelta(seconds=1)


class _Writes:
    """Where a claim or a record writes its rows: at once (one delivery), or, for a batch, kept and
    written with one statement per table when the batch's transaction is about to commit."""

    def __init__(self, *, batched: bool = False) -> None:
        self.batched = batched
        self._notifications: dict[int, Notification] = {}
        self._new_attempts: list[NotificationAttempt] = []
        self._attempts: dict[int, NotificationAttempt] = {}

    def notification(self, notification: Notification) -> None:
        if self.batched:
            self._notifications[notification.pk] = notification
        else:
            notification.save()

    def new_attempt(self, notification: Notification) -> NotificationAttempt:
        attempt = NotificationAttempt(notification=notification, number=notification.attempts)
        if self.batched:
            self._new_attempts.append(attempt)
        else:
            attempt.save()
        return attempt

    def attempt(self, attempt: NotificationAttempt) -> None:
        if self.batched:
            self._attempts[attempt.pk] = attempt
        else:
            attempt.save()

    def flush(self) -> None:
        if self._new_attempts:
            NotificationAttempt.objects.bulk_create(self._new_attempts)
        if self._attempts:
            NotificationAttempt.objects.bulk_update(
                list(self._attempts.values()),
                ["finished_at", "duration_ms", "status_code", "outcome", "error", "operator_detail"],
            )
        if self._notifications:
            now = timezone.now()  # bulk_update does not apply auto_now
            for notification in self._notifications.values():
                notification.updated_at = now
            Notification.objects.bulk_update(
                list(self._notifications.values()),
                [
                    "status",
                    "attempts",
                    "claimed_until",
                    "next_attempt_at",
                    "last_error",
                    "sent_at",
                    "provider_message_id",
                    "updated_at",
                ],
            )


@transaction.atomic
def _claim(notification_id: int) -> tuple[Notification, NotificationAttempt] | str:
    notification = (
        Notification.objects.select_for_update(of=("self",))
        .select_related("webhook_endpoint")
        .filter(pk=notification_id)
        .first()
    )
    if notification is None:
        return "missing"
    return _claim_locked(notification, circuit=lambda key: circuit_acquire(channel=key))


def _claim_locked(
    notification: Notification, *, circuit: Callable[[str], CircuitDecision], writes: _Writes | None = None
) -> tuple[Notification, NotificationAttempt] | str:
    """The claim of one row its caller holds locked; `circuit` asks the breaker (a batch asks once)."""
    writes = writes or _Writes()
    now = timezone.now()
    if notification.status in _TERMINAL:
        return f"already_{notification.status}"
    if notification.digest:
        return "held_for_digest"
    if notification.status == NotificationStatus.SENDING:
        if notification.claimed_until is not None and notification.claimed_until > now:
            return "in_flight_elsewhere"
        # The worker holding the lease died; the outcome of its send is unknown.
        NotificationAttempt.objects.filter(notification=notification, finished_at__isnull=True).update(
            finished_at=now, outcome="lost", error="the worker stopped before recording the outcome"
        )
        if notification.attempts >= notification.max_attempts:
            notification.status = NotificationStatus.FAILED
            notification.last_error = "the worker stopped during the last attempt; outcome unknown"
            notification.claimed_until = None
            writes.notification(notification)
            metrics.FAILED.labels(notification.channel, "worker_lost").inc()
            return "failed_worker_lost"
    elif notification.next_attempt_at is not None and notification.next_attempt_at > now + _EARLY_TOLERANCE:
        return "not_due"
    decision = circuit(breaker_key(notification))
    if not decision.allowed:
        retry_at = decision.retry_at or now + timedelta(seconds=settings.NOTIFICATIONS_RETRY_DELAY_SECONDS)
        notification.status = NotificationStatus.PENDING
        notification.next_attempt_at = retry_at
        # Partners read this: name the channel, not our internal breaker key.
        scope = " of this endpoint" if breaker_key(notification) != notification.channel else ""
        notification.last_error = f"the {notification.channel} circuit breaker{scope} is open"
        notification.claimed_until = None
        writes.notification(notification)
        delivery_schedule_on_commit(notification.pk, countdown=(retry_at - now).total_seconds())
        return "circuit_open"
    notification.status = NotificationStatus.SENDING
    notification.attempts += 1
    notification.claimed_until = now + timedelta(seconds=settings.NOTIFICATIONS_DELIVERY_LEASE_SECONDS)
    writes.notification(notification)
    attempt = writes.new_attempt(notification)
    return notification, attempt


def breaker_key(notification: Notification) -> str:
    """Webhooks trip a breaker per endpoint (partners fail independently); other channels per channel."""
    if notification.channel == WEBHOOK and notification.webhook_endpoint_id:
        return f"webhook:{notification.webhook_endpoint_id}"
    return str(notification.channel)


def retry_delay_seconds(attempts: int) -> int:
    """Growing backoff: the base delay doubled per attempt made, capped (5 s, 10 s, ... 1 h)."""
    base = settings.NOTIFICATIONS_RETRY_DELAY_SECONDS
    return int(min(base * 2 ** max(0, attempts - 1), settings.NOTIFICATIONS_RETRY_MAX_DELAY_SECONDS))


def _error_text(error: Exception, notification: Notification, *, limit: int = 2000) -> str:
    """An error as we may store it: without the recipient's address or anything that looks personal
    (SMTP replies quote the address; a provider's message may quote a phone number)."""
    return scrub_text(str(error), [notification.address] if notification.address else [])[:limit]


@transaction.atomic
def _record(
    *,
    notification_id: int,
    attempt_id: int,
    result: DeliveryResult | None,
    error: Exception | None,
    seconds: float,
) -> str:
    notification = Notification.objects.select_for_update().get(pk=notification_id)
    attempt = NotificationAttempt.objects.select_for_update().get(pk=attempt_id)
    return _record_locked(
        notification, attempt, result=result, error=error, seconds=seconds, success=circuit_record_success
    )


def _record_locked(
    notification: Notification,
    attempt: NotificationAttempt,
    *,
    result: DeliveryResult | None,
    error: Exception | None,
    seconds: float,
    success: Callable[..., None],
    writes: _Writes | None = None,
) -> str:
    """The outcome of one attempt on a row its caller holds locked; `success` closes the breaker
    (a batch does it once for all its rows)."""
    writes = writes or _Writes()
    now = timezone.now()
    status_code = result.status_code if result else getattr(error, "status_code", None)
    permanent = isinstance(error, PermanentDeliveryError | DomainError)
    attempt.finished_at = now
    attempt.duration_ms = int(seconds * 1000)
    attempt.status_code = status_code
    attempt.outcome = "sent" if error is None else ("failed" if permanent else "transient")
    attempt.error = "" if error is None else _error_text(error, notification)
    detail = getattr(error, "detail", "")
    attempt.operator_detail = scrub_text(detail, [notification.address] if notification.address else [])[:2000]
    writes.attempt(attempt)
    channel = notification.channel
    breaker = breaker_key(notification)
    if notification.status != NotificationStatus.SENDING or notification.attempts != attempt.number:
        # Our lease expired and another worker took the row over; its outcome is the one that counts.
        return "superseded"
    notification.claimed_until = None
    if error is None:
        assert result is not None
        notification.status = NotificationStatus.SENT
        notification.sent_at = now
        notification.provider_message_id = result.provider_message_id
        notification.last_error = ""
        writes.notification(notification)
        success(channel=breaker)
        metrics.SENT.labels(channel).inc()
        metrics.END_TO_END.labels(channel).observe((now - notification.created_at).total_seconds())
        return "sent"
    notification.last_error = _error_text(error, notification)
    if permanent:
        notification.status = NotificationStatus.FAILED
        writes.notification(notification)
        if isinstance(error, PermanentDeliveryError):
            success(channel=breaker)  # the provider answered: the channel itself works
        metrics.FAILED.labels(channel, "permanent").inc()
        return "failed"
    circuit_record_failure(channel=breaker, error=_error_text(error, notification, limit=1000))
    if notification.attempts >= notification.max_attempts:
        notification.status = NotificationStatus.FAILED
        writes.notification(notification)
        metrics.FAILED.labels(channel, "attempts_exhausted").inc()
        return "failed"
    delay = retry_delay_seconds(notification.attempts)
    notification.status = NotificationStatus.PENDING
    notification.next_attempt_at = now + timedelta(seconds=delay)
    writes.notification(notification)
    delivery_schedule_on_commit(notification.pk, countdown=delay)
    metrics.RETRIED.labels(channel).inc()
    return "retry_scheduled"


def notification_deliver(*, notification_id: int) -> str:
    """Make one delivery attempt of an outbox row (no-op if it is not due); returns what happened."""
    claimed = _claim(notification_id)
    if isinstance(claimed, str):
        logger.info("notification_delivery_skipped", notification_id=notification_id, reason=claimed)
        return claimed
    notification, attempt = claimed
    result, error, seconds = _send(notification)
    outcome = _record(
        notification_id=notification.pk, attempt_id=attempt.pk, result=result, error=error, seconds=seconds
    )
    _log_outcome(notification, attempt, outcome)
    return outcome


def _send(notification: Notification) -> tuple[DeliveryResult | None, Exception | None, float]:
    started = time.monotonic()
    result: DeliveryResult | None = None
    error: Exception | None = None
    try:
        result = backend_for(notification.channel).send(notification)
    except (TransientDeliveryError, PermanentDeliveryError, DomainError) as exc:
        error = exc
    except Exception as exc:
        logger.exception("notification_backend_crashed", notification_id=notification.pk)
        # Webhook rows are read by the partner (deliveries API): the class only, the text for operators.
        text = exc.__class__.__name__ if notification.channel == "webhook" else f"{exc.__class__.__name__}: {exc}"
        error = TransientDeliveryError(text, detail=str(exc))
    seconds = time.monotonic() - started
    metrics.LATENCY.labels(notification.channel).observe(seconds)
    return result, error, seconds


def _log_outcome(notification: Notification, attempt: NotificationAttempt, outcome: str) -> None:
    logger.info(
        "notification_delivery",
        notification_id=notification.pk,
        channel=notification.channel,
        kind=notification.kind,
        attempt=attempt.number,
        outcome=outcome,
    )


def notifications_deliver_batch(*, notification_ids: list[int]) -> dict[int, str]:
    """notification_deliver for several rows of a cheap local channel (live pushes of one fan-out):
    one claim transaction and one record transaction for all of them instead of two each, the
    breaker asked and closed once. Same leases, attempts and outcomes as one by one, so a worker
    dying between the two leaves every row to the sweeper exactly as it would one row."""
    outcomes: dict[int, str] = {}
    claimed: list[tuple[Notification, NotificationAttempt]] = []
    decisions: dict[str, CircuitDecision] = {}

    def circuit(key: str) -> CircuitDecision:
        # A closed breaker stays asked for the batch; an open or half-open one is asked per row, so
        # a half-open breaker still lets exactly one trial through.
        decision = decisions.get(key) or circuit_acquire(channel=key)
        if decision.allowed and not decision.probe:
            decisions[key] = decision
        return decision

    writes = _Writes(batched=True)
    with transaction.atomic():
        rows = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("webhook_endpoint")
            .filter(pk__in=notification_ids)
            .order_by("pk")  # one lock order for every batch: no deadlock between two of them
        )
        found = {row.pk: row for row in rows}
        for notification_id in notification_ids:
            notification = found.get(notification_id)
            claim = "missing" if notification is None else _claim_locked(notification, circuit=circuit, writes=writes)
            if isinstance(claim, str):
                logger.info("notification_delivery_skipped", notification_id=notification_id, reason=claim)
                outcomes[notification_id] = claim
            else:
                claimed.append(claim)
        writes.flush()
    if not claimed:
        return outcomes
    with renders_shared():
        sent = [(notification, attempt, *_send(notification)) for notification, attempt in claimed]
    closed: set[str] = set()

    def success(*, channel: str) -> None:
        if channel not in closed:
            closed.add(channel)
            circuit_record_success(channel=channel)

    writes = _Writes(batched=True)
    with transaction.atomic():
        ids = [notification.pk for notification, _ in claimed]
        locked = {n.pk: n for n in Notification.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
        attempts = {
            a.pk: a for a in NotificationAttempt.objects.select_for_update().filter(pk__in=[a.pk for _, a in claimed])
        }
        for notification, attempt, result, error, seconds in sent:
            outcome = _record_locked(
                locked[notification.pk],
                attempts[attempt.pk],
                result=result,
                error=error,
                seconds=seconds,
                success=success,
                writes=writes,
            )
            _log_outcome(notification, attempt, outcome)
            outcomes[notification.pk] = outcome
        writes.flush()
    return outcomes


@transaction.atomic
def notification_retry(*, notification_id: int) -> Notification:
    """Operator or partner action: send a failed (or already sent) row again, with the same message id."""
    notification = Notification.objects.select_for_update().filter(pk=notification_id).first()
    if notification is None:
        raise NotFoundError("No such notification.")
    if notification.status not in (NotificationStatus.FAILED, NotificationStatus.SENT):
        raise ConflictError(
            f"Only failed or sent notifications can be sent again; this one is {notification.status}.",
            code="notification_not_retryable",
        )
    notification.status = NotificationStatus.PENDING
    notification.attempts = 0
    notification.next_attempt_at = timezone.now()
    notification.claimed_until = None
    notification.digest = False
    notification.save()
    delivery_schedule_on_commit(notification.pk)
    return notification


def outbox_sweep(*, limit: int = 500) -> int:
    """Re-enqueue rows left pending past their due time and rows whose worker's lease expired."""
    from notifications.tasks import deliver_notification

    now = timezone.now()
    grace = timedelta(seconds=settings.NOTIFICATIONS_SWEEP_GRACE_SECONDS)
    overdue = Notification.objects.filter(
        status=NotificationStatus.PENDING, digest=False, next_attempt_at__lte=now - grace
    ).values_list("pk", flat=True)
    stale = Notification.objects.filter(status=NotificationStatus.SENDING, claimed_until__lt=now).values_list(
        "pk", flat=True
    )
    ids = sorted(set(overdue[:limit]) | set(stale[:limit]))
    for notification_id in ids:
        deliver_notification.delay(notification_id)
    if ids:
        logger.info("outbox_swept", count=len(ids))
    return len(ids)


@transaction.atomic
def notification_mark_read(*, notification_id: int) -> Notification:
    """The party has seen it (idempotent: the first read time stays)."""
    notification = Notification.objects.select_for_update().get(pk=notification_id)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at", "updated_at"])
    return notification
