"""The Rail protocol and the registry of rails by name."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol

RailStatus = Literal["succeeded", "failed", "pending", "unknown"]


class RailError(Exception):
    """A rail could not be reached or answered nonsense (treated as an unknown outcome)."""


@dataclass(frozen=True, slots=True)
class RailResult:
    status: RailStatus
    provider_reference: str = ""
    failure_reason: str = ""


@dataclass(frozen=True, slots=True)
class PaymentState:
    """What the rail says of a payment in: succeeded, authorized (held, to capture), processing,
    requires_action, requires_payment_method, failed or canceled; amount None when the rail
    does not report one (the simulated rail)."""

    reference: str
    status: str
    amount: Decimal | None = None
    currency: str = ""
    failure_reason: str = ""


@dataclass(frozen=True, slots=True)
class PaymentStart:
    """A payment in that a payer can now complete (Stripe: a PaymentIntent and its client secret)."""

    reference: str
    client_secret: str
    state: PaymentState


class Rail(Protocol):
    name: str

    def payment_start(
        self, *, idempotency_key: str, amount: Decimal, currency: str, metadata: dict[str, str], manual_capture: bool
    ) -> PaymentStart: ...

    def payment_state(self, *, reference: str) -> PaymentState: ...

    def deposit_capture(
        self, *, idempotency_key: str, amount: Decimal, currency: str, source: dict[str, Any]
    ) -> RailResult: ...

    def payout_send(
        self,
        *,
        idempotency_key: str,
        amount: Decimal,
        currency: str,
        beneficiary: dict[str, Any],
        attempt: int,
        metadata: dict[str, Any],
    ) -> RailResult: ...

    def refund(
        self, *, idempotency_key: str, provider_reference: str, amount: Decimal, currency: str
    ) -> RailResult: ...


_RAILS: dict[str, Rail] = {}


def rail_register(rail: Rail) -> None:
    """Make a rail available by its name (the Stripe rail registers itself the same way)."""
    _RAILS[rail.name] = rail


def rail_get(name: str) -> Rail:
    try:
        return _RAILS[name]
    except KeyError as exc:
        raise RailError(f"Unknown rail {name!r}; known: {', '.join(sorted(_RAILS))}.") from exc
