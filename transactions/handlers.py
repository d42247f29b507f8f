"""Receivers of lower apps' signals: one line each, calling a transactions service."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from audit.services import event_record
from ledger import selectors as ledger_selectors
from ledger import signals as ledger_signals
from ledger.models import Business
from notifications.services import send_escalation_alert
from transactions import selectors, services
from transactions.models import EscrowTransaction, Milestone
from verifications import signals as verification_signals


@receiver(verification_signals.verification_decided, dispatch_uid="escrow_verification_decided")
def _verification_decided(sender: Any, **kw: Any) -> None:
    services.escrow_verification_decided(
        subject_type=kw["subject_type"], subject_id=kw["subject_id"], verification_type=kw["verification_type"],
        outcome=kw["outcome"], task_id=kw["task_id"],
    )  # fmt: skip


@receiver(verification_signals.workflow_passed, dispatch_uid="escrow_workflow_passed")
def _workflow_passed(sender: Any, **kw: Any) -> None:
    services.escrow_verifications_passed(subject_type=kw["subject_type"], subject_id=kw["subject_id"])


@receiver(verification_signals.verification_overdue, dispatch_uid="escrow_verification_overdue")
def _verification_overdue(sender: Any, **kw: Any) -> None:
    services.escrow_verification_overdue(
        subject_type=kw["subject_type"], subject_id=kw["subject_id"], verification_type=kw["verification_type"],
        level=kw["level"], task_id=kw["task_id"],
    )  # fmt: skip


@receiver(ledger_signals.payout_succeeded, dispatch_uid="escrow_payout_succeeded")
def _payout_succeeded(sender: Any, **kw: Any) -> None:
    services.payment_record_outcome(payout_id=kw["payout_id"], metadata=kw.get("metadata"), succeeded=True)


@receiver(ledger_signals.payout_failed, dispatch_uid="escrow_payout_failed")
def _payout_failed(sender: Any, **kw: Any) -> None:
    services.payment_record_outcome(
        payout_id=kw["payout_id"], metadata=kw.get("metadata"), succeeded=False, reason=kw.get("failure_reason", "")
    )


@receiver(ledger_signals.rail_payment_succeeded, dispatch_uid="escrow_rail_payment_succeeded")
def _rail_payment_succeeded(sender: Any, payment: Any, **kw: Any) -> None:
    if payment.subject_type == services.SUBJECT_TYPE:
        services.deposit_from_rail(payment=payment)


@receiver(ledger_signals.rail_account_updated, dispatch_uid="escrow_rail_account_updated")
def _rail_account_updated(sender: Any, **kw: Any) -> None:
    services.payee_rail_account_updated(account_id=kw["account_id"], payouts_enabled=kw["payouts_enabled"])


@receiver([post_save, post_delete], sender=EscrowTransaction, dispatch_uid="escrow_state_cache_txn")
def _txn_written(sender: Any, instance: EscrowTransaction, **kw: Any) -> None:
    selectors.escrow_state_invalidate(transaction_id=instance.pk)


@receiver([post_save, post_delete], sender=Milestone, dispatch_uid="escrow_state_cache_milestone")
def _milestone_written(sender: Any, instance: Milestone, **kw: Any) -> None:
    selectors.escrow_state_invalidate(transaction_id=instance.transaction_id)


@receiver(ledger_signals.reconciliation_run_recorded, dispatch_uid="escrow_reconciliation_run_recorded")
def _reconciliation_run_recorded(sender: Any, run: Any, **kw: Any) -> None:
    if run.business == Business.ESCROW and (alert := ledger_selectors.breaks_found_alert(run=run)):
        send_escalation_alert(**alert)


@receiver(ledger_signals.reconciliation_break_changed, dispatch_uid="escrow_reconciliation_break_changed")
def _reconciliation_break_changed(sender: Any, break_row: Any, event: str, actor: str, **kw: Any) -> bool:
    if break_row.run.business != Business.ESCROW:
        return False
    event_record(**ledger_selectors.break_audit_event(break_row=break_row, event=event, actor=actor))
    return True
