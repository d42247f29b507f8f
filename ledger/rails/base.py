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


class Rail(Protocol):
    name: str

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


def rail_names() -> list[str]:
    return sorted(_RAILS)
