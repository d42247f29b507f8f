"""The embedded rail: settles instantly, offline, deterministically."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from typing import Any

from ledger.rails.base import PaymentStart, PaymentState, RailResult


def _reference(prefix: str, key: str) -> str:
    # Derived from the idempotency key: a re-dispatch gets the same reference, as with Stripe.
    return f"{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:24]}"


def sandbox_client_secret(reference: str) -> str:
    """Unguessable without the server's secret, checkable without storing it (as Stripe's are)."""
    from django.conf import settings

    mac = hmac.new(settings.SECRET_KEY.encode(), f"sandbox-pay:{reference}".encode(), hashlib.sha256).hexdigest()
    return f"{reference}_secret_{mac[:32]}"


class SimulatedRail:
    name = "simulated"

    def payment_start(
        self, *, idempotency_key: str, amount: Decimal, currency: str, metadata: dict[str, str], manual_capture: bool
    ) -> PaymentStart:
        # Like a PaymentIntent: nothing is paid until the payer pays with the client secret (the
        # sandbox's stand-in for Stripe.js is `ledger.services.sandbox_payment_pay`).
        reference = _reference("sim_pi", idempotency_key)
        return PaymentStart(
            reference=reference,
            client_secret=sandbox_client_secret(reference),
            state=PaymentState(reference=reference, status="requires_payment_method"),
        )

    def payment_state(self, *, reference: str) -> PaymentState:
        # The sandbox keeps no state of its own: what the payer did is on the RailPayment row.
        return PaymentState(reference=reference, status="requires_payment_method")

    def deposit_capture(
        self, *, idempotency_key: str, amount: Decimal, currency: str, source: dict[str, Any]
    ) -> RailResult:
        if source.get("simulate") == "fail":
            return RailResult("failed", failure_reason="simulated: card declined")
        return RailResult("succeeded", provider_reference=_reference("sim_ch", idempotency_key))

    def payout_send(
        self,
        *,
        idempotency_key: str,
        amount: Decimal,
        currency: str,
        beneficiary: dict[str, Any],
        attempt: int,
        metadata: dict[str, Any],
    ) -> RailResult:
        mode = beneficiary.get("simulate", "")
        if mode == "fail" or (mode == "fail_first_attempt" and attempt == 1):
            return RailResult("failed", failure_reason="simulated: beneficiary account rejected the transfer")
        if mode == "unknown":
            return RailResult("unknown", failure_reason="simulated: rail timed out")
        if beneficiary.get("refund_payment_intent"):
            return RailResult("succeeded", provider_reference=_reference("sim_re", idempotency_key))
        return RailResult("succeeded", provider_reference=_reference("sim_tr", idempotency_key))

    def refund(self, *, idempotency_key: str, provider_reference: str, amount: Decimal, currency: str) -> RailResult:
        return RailResult("succeeded", provider_reference=_reference("sim_re", idempotency_key))
