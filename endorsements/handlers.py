"""What the endorsements app does when other apps announce something (connected in apps.ready)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from endorsements import hooks
from endorsements.services.funding import TOPUP_SUBJECT, ea_topup_from_rail
from ledger import signals as ledger_signals
from ledger.models import Business


@receiver(ledger_signals.rail_payment_succeeded, dispatch_uid="endorsements_rail_payment_succeeded")
def _rail_payment_succeeded(sender: Any, payment: Any, **kw: Any) -> None:
    if payment.subject_type == TOPUP_SUBJECT:
        ea_topup_from_rail(payment=payment)


@receiver(ledger_signals.reconciliation_run_recorded, dispatch_uid="endorsements_reconciliation_run_recorded")
def _reconciliation_run_recorded(sender: Any, run: Any, **kw: Any) -> None:
    if run.business == Business.ENDORSEMENTS:
        hooks.reconciliation_breaks_alert(run=run)


@receiver(ledger_signals.reconciliation_break_changed, dispatch_uid="endorsements_reconciliation_break_changed")
def _reconciliation_break_changed(sender: Any, break_row: Any, event: str, actor: str, **kw: Any) -> bool:
    if break_row.run.business != Business.ENDORSEMENTS:
        return False
    return hooks.reconciliation_break_audit(break_row=break_row, event=event, actor=actor)
