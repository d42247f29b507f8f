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
