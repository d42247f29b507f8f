"""Rails move money between the platform and the outside world.

A rail has three verbs, shaped after Stripe Connect's *separate charges and transfers*:

- `deposit_capture`: money captured from a payer lands in the platform's balance at the rail
  (Stripe: a PaymentIntent captured on the platform account). The ledger records it with
  `ledger.services.deposit_record` (debit the rail clearing account, credit the wallet).
- `payout_send`: money leaves to a beneficiary (Stripe: a Transfer to the connected account, then
  its payout). Called by the `payout_dispatch` task after commit, never under row locks, with the
  intent's `rail_idempotency_key` as the provider's Idempotency-Key so a re-dispatch never pays twice.
- `refund`: give a captured deposit back to the payer (Stripe: a Refund of the charge).
- `payment_start` / `payment_state`: a payment in that the payer completes at the rail (Stripe: a
  PaymentIntent); the ledger credits it only once the rail says it succeeded (webhook or a
  verified retrieve), never on the payer's word. `stripe` is in ledger/rails/stripe.py.

Each returns a `RailResult` (succeeded / failed / pending / unknown). `simulated` is the default and
settles instantly; a beneficiary `{"simulate": "fail"}` always fails and
`{"simulate": "fail_first_attempt"}` fails attempt 1 only, so upper apps can test failure and retry;
`{"simulate": "unknown"}` answers with an unknown outcome (a timeout).
"""

from __future__ import annotations

from ledger.rails.base import PaymentStart, PaymentState, Rail, RailError, RailResult, rail_get, rail_register
from ledger.rails.simulated import SimulatedRail
from ledger.rails.stripe import StripeRail

__all__ = [
    "PaymentStart",
    "PaymentState",
    "Rail",
    "RailError",
    "RailResult",
    "SimulatedRail",
    "StripeRail",
    "rail_get",
    "rail_register",
]

rail_register(SimulatedRail())
rail_register(StripeRail())
