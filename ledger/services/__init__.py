"""Every write to the ledger. Keyword-only, typed, each in one database transaction.

Accounts:  account_open, account_close (system accounts: rail_clearing_account, payouts_in_flight_account,
           adjustments_account)
Postings:  transfer_create, entry_create (multi-line), entry_reverse, deposit_record, adjustment_record
Holds:     hold_create, hold_post (all or part; the rest is released), hold_void, holds_expire
Batches:   batch_execute (TransferOp | HoldOp | HoldPostOp | HoldVoidOp from ledger.types; all or nothing)
Payouts:   payout_request, payout_dispatch (the task's body), payout_record_outcome, payout_retry,
           payouts_sweep (re-enqueues requested, unknown and stale sent payouts with the same rail key)
Money in: rail_payment_start, rail_payment_refresh (verified retrieve), stripe_event_receive (webhook)
Reconciliation: reconciliation_run_record (idempotent per statement), break_assign, break_comment,
           break_resolve, break_write_off_approve, break_write_off_reject (docs/decisions/0103)
Checks:    invariants_run (records an InvariantRun, sets the Prometheus gauge, logs breaches)

Every posting takes a caller-supplied `idempotency_key`: the same key with the same content returns
the original result; with other content it raises `idempotency_conflict` naming the key. Errors are
in `ledger.errors`; nothing is written when one is raised.
"""

from ledger.services.accounts import (
    account_close,
    account_open,
    adjustments_account,
    payouts_in_flight_account,
    rail_clearing_account,
    system_account,
)
from ledger.services.batches import batch_execute
from ledger.services.entries import adjustment_record, deposit_record, entry_create, entry_reverse, transfer_create
from ledger.services.holds import hold_create, hold_post, hold_void, holds_expire
from ledger.services.invariants import invariants_run
from ledger.services.operator_entries import (
    operator_entry_approve,
    operator_entry_reject,
    operator_entry_request,
)
from ledger.services.payouts import (
    payout_dispatch,
    payout_record_outcome,
    payout_request,
    payout_retry,
    payouts_sweep,
)
from ledger.services.rail_payments import (
    rail_payment_refresh,
    rail_payment_refund_unapplied,
    rail_payment_start,
    sandbox_payment_pay,
    stripe_event_receive,
)
from ledger.services.reconciliation import (
    break_assign,
    break_comment,
    break_resolve,
    break_write_off_approve,
    break_write_off_reject,
    reconciliation_run_record,
)

__all__ = [
    "account_close",
    "account_open",
    "adjustment_record",
    "adjustments_account",
    "batch_execute",
    "break_assign",
    "break_comment",
    "break_resolve",
    "break_write_off_approve",
    "break_write_off_reject",
    "deposit_record",
    "entry_create",
    "entry_reverse",
    "hold_create",
    "hold_post",
    "hold_void",
    "holds_expire",
    "invariants_run",
    "operator_entry_approve",
    "operator_entry_reject",
    "operator_entry_request",
    "payout_dispatch",
    "payout_record_outcome",
    "payout_request",
    "payout_retry",
    "payouts_in_flight_account",
    "payouts_sweep",
    "rail_clearing_account",
    "rail_payment_refresh",
    "rail_payment_refund_unapplied",
    "rail_payment_start",
    "reconciliation_run_record",
    "sandbox_payment_pay",
    "stripe_event_receive",
    "system_account",
    "transfer_create",
]
