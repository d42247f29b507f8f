"""Shared pieces of the escrow services: locking, party checks, keys, audit and notifications."""

from __future__ import annotations

from typing import Any

import structlog
from prometheus_client import Counter, Gauge, Histogram

from audit.services import event_record
from escrow_project.common.errors import NotFoundError, PermissionDeniedError
from identity.selectors import user_is_operator
from notifications.services import live_event_publish, notification_fanout_enqueue
from notifications.types import Recipient
from transactions.models import EscrowTransaction, PlatformControl
from transactions.states import EscrowStatus

logger = structlog.get_logger("transactions")

SUBJECT_TYPE = "escrow_transaction"

TRANSITIONS = Counter("escrow_transitions_total", "Escrow transaction transitions", ["to"])
PAYMENTS = Counter("escrow_payments_total", "Escrow payout outcomes", ["kind", "outcome"])
CYCLE_TIME = Histogram(
    "escrow_closing_cycle_seconds",
    "From creation to settlement",
    buckets=(60, 600, 3600, 6 * 3600, 24 * 3600, 7 * 24 * 3600, 30 * 24 * 3600, 90 * 24 * 3600),
)
BY_STATE = Gauge(
    "escrow_transactions_by_state",
    "Escrow transactions per state (refreshed by a periodic task)",
    ["state"],
    multiprocess_mode="mostrecent",
)


def key(txn: EscrowTransaction, *parts: object) -> str:
    """Deterministic idempotency key: one business event, one key, one effect."""
    return ":".join(["escrow", str(txn.public_id), *(str(p) for p in parts)])


def txn_lock(txn_id: int) -> EscrowTransaction:
    txn = EscrowTransaction.objects.select_for_update().filter(pk=txn_id).first()
    if txn is None:
        raise NotFoundError("No such escrow transaction.")
    return txn


def control() -> PlatformControl:
    row, _ = PlatformControl.objects.get_or_create(pk=1)
    return row


def payouts_block_reason(txn: EscrowTransaction) -> str:
    """Why money may not move for this transaction now ('' when it may)."""
    if control().payouts_paused:
        return "All escrow payouts are paused by an operator."
    if txn.paused:
        return "Payouts of this transaction are paused by an operator."
    if txn.status == EscrowStatus.DISPUTED:
        return "The transaction is disputed; funds are frozen."
    return ""


def user_is_party(user: Any, txn: EscrowTransaction) -> bool:
    from transactions.services.parties import user_is_party as the_party_predicate

    return the_party_predicate(user, txn)


def require_officer_or_operator(user: Any, txn: EscrowTransaction, what: str) -> None:
    if user is None:
        return  # the system itself (a task or a signal handler)
    if user_is_operator(user) or txn.escrow_officer_id == getattr(user, "pk", None):
        return
    raise PermissionDeniedError(f"Only the escrow officer or an operator may {what}.")


def require_party(user: Any, txn: EscrowTransaction) -> None:
    if user is None or user_is_operator(user) or user_is_party(user, txn):
        return
    raise NotFoundError("No such escrow transaction.")


def actor_ref(actor: Any) -> str:
    """Who did it, without personal data: a user's public id or the system component."""
    public_id = getattr(actor, "public_id", None)
    return f"user:{public_id}" if public_id else "system:escrow"


def audit(event_kind: str, txn: EscrowTransaction, actor: Any, /, **payload: Any) -> None:
    """Record an audit event on the transaction's hash chain, inside the caller's transaction."""
    event_record(
        kind=event_kind,
        subject_type=SUBJECT_TYPE,
        subject_id=str(txn.public_id),
        actor=actor_ref(actor),
        payload={"status": txn.status, **payload},
    )
    logger.info(event_kind, transaction=str(txn.public_id), status=txn.status)


def party_recipients(txn: EscrowTransaction) -> list[Recipient]:
    orgs = [txn.buyer_id, txn.seller_id, txn.buyer_agent_id, txn.seller_agent_id, txn.lender_id, txn.escrow_company_id]
    recipients = [Recipient.organization(org_id) for org_id in dict.fromkeys(o for o in orgs if o is not None)]
    return [*recipients, Recipient.user(txn.escrow_officer_id)]


def notify(
    notification_kind: str,
    txn: EscrowTransaction,
    /,
    *,
    to: list[Recipient] | None = None,
    dedupe: str = "",
    **context: Any,
) -> None:
    """Tell the parties (or `to`): one fan-out row in the caller's transaction, expanded into each
    recipient's messages by a worker after commit; the live page hears of it at commit."""
    # The link to the status page is added when each message is rendered, from the platform's
    # public address as served then (notifications.links; registered in transactions/apps.py).
    full = {"reference": txn.reference, **context}
    notification_fanout_enqueue(
        kind=notification_kind,
        recipients=to if to is not None else party_recipients(txn),
        context=full,
        dedupe_prefix=f"escrow:{txn.pk}:{notification_kind}:{dedupe}" if dedupe else "",
        subject_type=SUBJECT_TYPE,
        subject_id=str(txn.public_id),
    )
    live(txn, notification_kind)


def live(txn: EscrowTransaction, event: str) -> None:
    """Push a small event to the transaction's live page (no personal data)."""
    live_event_publish(
        subject_type=SUBJECT_TYPE, subject_id=str(txn.public_id), event={"event": event, "status": txn.status}
    )


def transitioned(txn: EscrowTransaction) -> None:
    TRANSITIONS.labels(to=txn.status).inc()
