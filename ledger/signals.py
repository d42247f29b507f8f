"""Upward news from the ledger. Sent inside the transaction that records the outcome.

- `payout_succeeded(sender, payout_id, metadata)`: the rail confirmed the payout.
- `payout_failed(sender, payout_id, metadata, failure_reason)`: the rail refused it; the money is
  already back on the account (reversing entry) when receivers run. Retry with
  `ledger.services.payout_retry`.

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
