"""Celery tasks of the ledger: take ids, call one service."""

from __future__ import annotations

from celery import shared_task

from ledger.services import holds_expire, invariants_run, payout_dispatch, payouts_sweep


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def payout_dispatch_task(payout_id: int) -> str:
    return payout_dispatch(payout_id=payout_id).status


@shared_task(acks_late=True, soft_time_limit=100, time_limit=120)
def holds_expire_task() -> int:
    return holds_expire()


@shared_task(acks_late=True, soft_time_limit=280, time_limit=300)
def invariants_check_task() -> bool:
    return invariants_run().ok


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def payouts_sweep_task() -> int:
    """Re-enqueue payouts whose dispatch was lost, is unknown, or was left `sent` (worker died, rail pending)."""
    return len(payouts_sweep())


@shared_task(acks_late=True, soft_time_limit=280, time_limit=300)
def rail_statement_task() -> int:
    """Yesterday's rail statement against the books (on the Stripe rail only); the breaks as a metric."""

    from django.conf import settings

    from escrow_project.common.days import utc_day_or_yesterday
    from ledger.services.rail_statement import rail_statement_compare, rail_statement_reconcile

    if settings.PAYMENT_RAIL != "stripe":
        return 0
    day = utc_day_or_yesterday(None)
    breaks = len(rail_statement_compare(rail="stripe", day=day).breaks)
    rail_statement_reconcile(rail="stripe", day=day)  # the same comparison as a run with breaks to work
    return breaks


@shared_task(soft_time_limit=50, time_limit=60)
def reconciliation_breaks_gauge() -> dict[str, int]:
    """Refresh the open-breaks-by-age gauge (read by /metrics)."""
    from ledger.services.reconciliation import breaks_gauge_refresh

    return breaks_gauge_refresh()
