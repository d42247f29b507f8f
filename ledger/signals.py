"""Upward news from the ledger. Sent inside the transaction that records the outcome.

- `payout_succeeded(sender, payout_id, metadata)`: the rail confirmed the payout.
- `payout_failed(sender, payout_id, metadata, failure_reason)`: the rail refused it. Retry with
  `ledger.services.payout_retry`, after commit.

Both are sent before the outcome's entry is posted (same transaction): receivers lock their own rows
and append audit events, and must do so before this transaction locks payouts-in-flight, which
other transactions of the same case lock after the audit log (see `payout_record_outcome`).

Receivers live in the upper app's `handlers.py` and call one of its services.
"""

from django.dispatch import Signal

payout_succeeded = Signal()
payout_failed = Signal()

# Money in through a rail (ledger.services.rail_payments). `payment` is the RailPayment row; its
# subject_type / subject_id / purpose say whose it is. Receivers record the money (a deposit); a
# DomainError they raise leaves the payment succeeded but `applied=False` with the reason, for an
# operator (the money is at the rail; nothing is credited twice or lost).
rail_payment_succeeded = Signal()
rail_payment_failed = Signal()
# A Connect account changed (Stripe `account.updated`): `account_id`, `payouts_enabled`.
rail_account_updated = Signal()

# Reconciliation (ledger.services.reconciliation). `run` is a new ReconciliationRun; the business app
# that owns it (run.business) tells operators when it found breaks.
reconciliation_run_recorded = Signal()
# A break changed: `break_row`, `event` (resolved | write_off_requested | write_off_approved |
# write_off_rejected), `actor`. The owning business app records the audit event and returns True;
# when no receiver returns True the change is refused, so no resolution goes unaudited.
reconciliation_break_changed = Signal()
