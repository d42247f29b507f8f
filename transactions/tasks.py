"""Celery tasks of the escrow lifecycle: take ids, call one service."""

from __future__ import annotations

from celery import shared_task
from django.db.models import Count

from transactions import services
from transactions.models import EscrowTransaction
from transactions.services._common import BY_STATE
from transactions.states import EscrowStatus


@shared_task(acks_late=True, soft_time_limit=100, time_limit=120)
def escrow_unblock_sweep() -> int:
    """Pay what waited for a pause, a dispute or a bank-details cooling-off to end."""
    return services.transactions_unblock_all()


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def transaction_unblock_task(transaction_id: int) -> None:
    """Pay what one transaction's pause or dispute held back (the sweep above catches a lost one)."""
    services.transaction_unblock(transaction_id=transaction_id)


@shared_task(soft_time_limit=50, time_limit=60)
def escrow_state_gauge() -> dict[str, int]:
    """Refresh the transactions-by-state gauge (read by /metrics)."""
    counts = dict(EscrowTransaction.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    for state in EscrowStatus.values:
        BY_STATE.labels(state=state).set(counts.get(state, 0))
    return counts


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def escrow_three_way_task(day: str | None = None) -> int:
    """Yesterday's (UTC) three-way reconciliation, once the rail's day is complete; returns its breaks."""
    from escrow_project.common.days import utc_day_or_yesterday

    return services.escrow_three_way(day=utc_day_or_yesterday(day)).break_count
