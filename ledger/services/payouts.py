"""Payouts to the outside world: a persisted intent (outbox) per attempt, dispatched after commit.

request: debit the account, credit payouts-in-flight; the intent is enqueued on commit.
succeeded: debit payouts-in-flight, credit the rail's clearing account (the cash left).
failed: a reversing entry gives the money back to the account; `payout_retry` makes a new attempt.
unknown: nothing moves; re-dispatching uses the same rail idempotency key, so it never pays twice.
"""

from __future__ import annotations

import datetime
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed
from prometheus_client import Counter, Gauge

from escrow_project.common.db import retry_lock_conflicts
from escrow_project.common.enqueue import after_commit
from escrow_project.common.errors import ConflictError, InvalidTransitionError, NotFoundError
from ledger import signals
from ledger.errors import PayoutOutcomeUnknownError
from ledger.models import EntryKind, PayoutIntent, Side
from ledger.rails import RailError, rail_get
from ledger.services._core import amount_clean, conflict, entry_post, fingerprint, key_clean
from ledger.services.accounts import payouts_in_flight_account, rail_clearing_account
from ledger.services.entries import _reverse, rail_check
from ledger.states import PAYOUT_OPEN, PAYOUT_RECORDERS, PayoutStatus

logger = structlog.get_logger(__name__)

PAYOUT_OUTCOMES = Counter("ledger_payout_outcomes_total", "Payout outcomes recorded", ["rail", "status"])
PAYOUTS_STALE = Gauge(
    "ledger_payouts_stale",
    "Open payouts (requested, sent or unknown) untouched for longer than the sweep delay",
    multiprocess_mode="mostrecent",
)
PAYOUTS_OPEN_TOO_LONG = Gauge(
    "ledger_payouts_open_too_long",
    "Open payouts older than PAYOUT_ALERT_AFTER: a person should look at them",
    multiprocess_mode="mostrecent",
)
PAYOUT_DISPATCH_ERRORS = Counter(
    "ledger_payout_dispatch_errors_total", "Rail calls that raised instead of answering", ["rail", "error"]
)
# A `sent` row older than this was left by a worker that died, a rail that answered `pending` and
# never called back, or a lost task; it must exceed the dispatch task's time_limit (60 s).
PAYOUT_STALE_AFTER = timedelta(seconds=settings.LEDGER_PAYOUT_STALE_SECONDS)
PAYOUT_ALERT_AFTER = timedelta(hours=24)


def _payout_create(
    *,
    idempotency_key: str,
    account_id: int,
    amount: Any,
    currency: str,
    beneficiary: dict[str, Any],
    rail: str,
    metadata: dict[str, Any] | None,
    attempt: int = 1,
    retry_of: PayoutIntent | None = None,
) -> PayoutIntent:
    key_clean(idempotency_key)
    amount = amount_clean(amount, currency)
    rail_check(rail)
    content = {"account": account_id, "amount": str(amount), "currency": currency, "rail": rail}
    if retry_of is not None:
        content["retry_of"] = retry_of.pk
    existing = PayoutIntent.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if existing.fingerprint != fingerprint(content):
            raise conflict(idempotency_key, "payout")
        return existing
    in_flight = payouts_in_flight_account(currency=currency)
    entry, created = entry_post(
        key=idempotency_key,
        kind=EntryKind.PAYOUT,
        content=content,
        lines=[(account_id, Side.DEBIT, amount, currency), (in_flight.pk, Side.CREDIT, amount, currency)],
        description=f"Payout via {rail} (attempt {attempt})",
        metadata=metadata,
    )
    if not created:
        # A concurrent duplicate committed the entry and its intent first.
        payout = PayoutIntent.objects.filter(idempotency_key=idempotency_key).first()
        if payout is None:
            raise conflict(idempotency_key, "entry")
        return payout
    public_id = uuid.uuid4()
    payout = PayoutIntent.objects.create(
        public_id=public_id,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint(content),
        rail_idempotency_key=f"payout:{public_id}",
        rail=rail,
        account_id=account_id,
        amount=amount,
        currency=currency,
        beneficiary=cast(Any, beneficiary),
        metadata=metadata or {},
        attempt=attempt,
        retry_of=retry_of,
        request_entry=entry,
    )
    _dispatch_on_commit(payout.pk)
    return payout


def _dispatch_enqueue(payout_id: int) -> None:
    from ledger.tasks import payout_dispatch_task

    payout_dispatch_task.delay(payout_id)


def _dispatch_on_commit(payout_id: int) -> None:
    # The money already moved and is committed when this runs: a broker outage leaves the row
    # `requested` and payouts_sweep enqueues it again (escrow_project/common/enqueue.py).
    after_commit(lambda: _dispatch_enqueue(payout_id), name="ledger.tasks.payout_dispatch_task")


@transaction.atomic
def payout_request(
    *,
    idempotency_key: str,
    account_id: int,
    amount: Decimal,
    currency: str,
    beneficiary: dict[str, Any],
    rail: str = "simulated",
    metadata: dict[str, Any] | None = None,
) -> PayoutIntent:
    """Take the money off the account into payouts-in-flight now; the rail is called after commit."""
    return _payout_create(
        idempotency_key=idempotency_key,
        account_id=account_id,
        amount=amount,
        currency=currency,
        beneficiary=beneficiary,
        rail=rail,
        metadata=metadata,
    )


def _payout_lock(payout_id: int) -> PayoutIntent:
    payout = PayoutIntent.objects.select_for_update().filter(pk=payout_id).first()
    if payout is None:
        raise NotFoundError(f"No payout with id {payout_id}.", code="unknown_payout")
    return payout


@transaction.atomic
def payout_record_outcome(
    *, payout_id: int, status: str, provider_reference: str = "", failure_reason: str = ""
) -> PayoutIntent:
    """Record what the rail said; a failure returns the money to the account with a reversing entry."""
    payout = _payout_lock(payout_id)
    if payout.status == status and status in (PayoutStatus.SUCCEEDED, PayoutStatus.FAILED, PayoutStatus.UNKNOWN):
        return payout  # the same outcome reported twice (webhook and poll): nothing more to do
    record = getattr(payout, PAYOUT_RECORDERS[status]) if status in PAYOUT_RECORDERS else None
    if record is None or not can_proceed(record):
        raise InvalidTransitionError(f"Payout {payout_id} is {payout.status}; it cannot become {status!r}.")
    record(provider_reference=provider_reference, failure_reason=failure_reason)
    payout.save(update_fields=["status", "provider_reference", "failure_reason", "updated_at"])
    # Receivers first, entries second. Receivers append to the audit log, whose per-subject head
    # row other money transactions of the same case lock before payouts-in-flight (a verification
    # decided: audit, then milestone payout request). Posting first held payouts-in-flight while
    # waiting for that head: a deadlock that rolled back the outcome of a payment the rail had made.
    if status == PayoutStatus.SUCCEEDED:
        signals.payout_succeeded.send(sender=PayoutIntent, payout_id=payout.pk, metadata=payout.metadata)
    elif status == PayoutStatus.FAILED:
        signals.payout_failed.send(
            sender=PayoutIntent, payout_id=payout.pk, metadata=payout.metadata, failure_reason=payout.failure_reason
        )
    if status == PayoutStatus.SUCCEEDED:
        in_flight = payouts_in_flight_account(currency=payout.currency)
        clearing = rail_clearing_account(rail=payout.rail, currency=payout.currency)
        entry, _created = entry_post(
            key=f"payout:{payout.public_id}:settled",
            kind=EntryKind.PAYOUT_SETTLEMENT,
            content={"payout": payout.pk},
            lines=[
                (in_flight.pk, Side.DEBIT, payout.amount, payout.currency),
                (clearing.pk, Side.CREDIT, payout.amount, payout.currency),
            ],
            description=f"Payout {payout.pk} settled via {payout.rail}",
            metadata={"payout_id": payout.pk, "provider_reference": payout.provider_reference},
        )
        payout.outcome_entry = entry
    elif status == PayoutStatus.FAILED:
        # Closed accounts accept this: the money must go back wherever it came from.
        payout.outcome_entry = _reverse(
            entry_id=payout.request_entry_id,
            idempotency_key=f"payout:{payout.public_id}:failed",
            reason=f"Payout {payout.pk} failed: {failure_reason}"[:500],
            allow_closed=True,
        )
    if payout.outcome_entry_id is not None:
        payout.save(update_fields=["outcome_entry"])
    PAYOUT_OUTCOMES.labels(rail=payout.rail, status=status).inc()
    logger.info("ledger_payout_outcome", payout_id=payout.pk, status=status, rail=payout.rail)
    return payout


@transaction.atomic
def payout_retry(*, payout_id: int, idempotency_key: str, beneficiary: dict[str, Any] | None = None) -> PayoutIntent:
    """A new attempt of a failed payout (optionally to corrected beneficiary details)."""
    original = _payout_lock(payout_id)
    retried = PayoutIntent.objects.filter(retry_of=original).first()
    if retried is not None:
        if retried.idempotency_key == idempotency_key:
            return retried
        raise ConflictError(
            f"Payout {payout_id} was already retried as payout {retried.pk}.", code="payout_already_retried"
        )
    if original.status == PayoutStatus.SUCCEEDED:
        raise ConflictError(f"Payout {payout_id} succeeded; there is nothing to retry.", code="payout_succeeded")
    if original.status != PayoutStatus.FAILED:
        raise PayoutOutcomeUnknownError(
            f"Payout {payout_id} is {original.status}; only a failed payout may be retried (a re-dispatch of an "
            "unknown outcome reuses its rail key instead)."
        )
    return _payout_create(
        idempotency_key=idempotency_key,
        account_id=original.account_id,
        amount=original.amount,
        currency=original.currency,
        beneficiary=beneficiary if beneficiary is not None else cast(dict[str, Any], original.beneficiary),
        rail=original.rail,
        metadata=original.metadata,
        attempt=original.attempt + 1,
        retry_of=original,
    )


def payout_dispatch(*, payout_id: int) -> PayoutIntent:
    """Send one payout to its rail (outside any row lock) and record the answer.

    Not atomic on purpose: the rail call must not run while we hold the intent's lock. A deadlock
    or serialization failure in either transaction is retried at once with the same arguments, so
    with the same entry keys, and without asking the rail again: its answer is already known.
    """
    payout, claimed = retry_lock_conflicts(lambda: _dispatch_claim(payout_id), what="payout_dispatch_claim")
    if not claimed:
        return payout  # being sent right now, or settled: a duplicate task run does nothing
    try:
        result = rail_get(payout.rail).payout_send(
            idempotency_key=payout.rail_idempotency_key,
            amount=payout.amount,
            currency=payout.currency,
            beneficiary=cast(dict[str, Any], payout.beneficiary),
            attempt=payout.attempt,
            metadata={**cast(dict[str, Any], payout.metadata or {}), "payout_id": payout.pk},
        )
    except Exception as exc:  # noqa: BLE001 -- whatever the rail raised, the money may or may not have left
        # Not knowing is recorded as `unknown`, never left as `sent`: the sweeper re-sends with the same
        # rail key, so the rail answers the first attempt's outcome instead of paying again.
        PAYOUT_DISPATCH_ERRORS.labels(rail=payout.rail, error=type(exc).__name__[:40]).inc()
        log = logger.warning if isinstance(exc, RailError) else logger.exception
        log("ledger_payout_rail_error", payout_id=payout.pk, error_type=type(exc).__name__, error=str(exc)[:200])
        return _record_retrying(
            payout_id=payout.pk, status=PayoutStatus.UNKNOWN, failure_reason=f"{type(exc).__name__}: {exc}"
        )
    if result.status == "pending":
        return payout  # stays `sent`; the rail's callback or, once stale, the sweeper settles it
    return _record_retrying(
        payout_id=payout.pk,
        status=result.status,
        provider_reference=result.provider_reference,
        failure_reason=result.failure_reason,
    )


@transaction.atomic
def _dispatch_claim(payout_id: int) -> tuple[PayoutIntent, bool]:
    """Mark the payout `sent` unless another run is sending it or it is settled; (payout, claimed)."""
    payout = _payout_lock(payout_id)
    stale_sent = payout.status == PayoutStatus.SENT and payout.updated_at < timezone.now() - PAYOUT_STALE_AFTER
    if payout.status not in (PayoutStatus.REQUESTED, PayoutStatus.UNKNOWN) and not stale_sent:
        return payout, False
    payout.claim()
    payout.save(update_fields=["status", "dispatch_count", "updated_at"])
    return payout, True


def _record_retrying(
    *, payout_id: int, status: str, provider_reference: str = "", failure_reason: str = ""
) -> PayoutIntent:
    """payout_record_outcome, retried at once on a lock conflict: the rail has answered, the money must be recorded."""

    def record() -> PayoutIntent:
        return payout_record_outcome(
            payout_id=payout_id, status=status, provider_reference=provider_reference, failure_reason=failure_reason
        )

    return retry_lock_conflicts(record, what="payout_record_outcome")


def payouts_sweep(*, now: datetime.datetime | None = None, limit: int = 500) -> list[int]:
    """Enqueue payouts whose dispatch was lost or unanswered (requested, unknown or stale sent); same rail key."""
    now = now or timezone.now()
    stale = PayoutIntent.objects.filter(status__in=PAYOUT_OPEN, updated_at__lt=now - PAYOUT_STALE_AFTER)
    ids = list(stale.order_by("updated_at").values_list("id", flat=True)[:limit])
    PAYOUTS_STALE.set(stale.count())
    PAYOUTS_OPEN_TOO_LONG.set(
        PayoutIntent.objects.filter(status__in=PAYOUT_OPEN, created_at__lt=now - PAYOUT_ALERT_AFTER).count()
    )
    for payout_id in ids:
        try:
            _dispatch_enqueue(payout_id)
        except Exception:  # broker down: the next sweep tries again
            logger.exception("ledger_payout_sweep_enqueue_failed", payout_id=payout_id)
            break
    if ids:
        logger.info("ledger_payouts_swept", count=len(ids))
    return ids
