"""Stripe as a rail: PaymentIntents for money in, Connect transfers for money out, refunds back.

Built on the official SDK's `StripeClient`, whose base address is a setting so tests can point it
at a local Stripe-compatible server (localstripe) or replay Stripe's published example objects.
The SDK retries connection errors and 5xx answers `STRIPE_MAX_NETWORK_RETRIES` times with
exponential backoff, always with the same idempotency key. A process-wide circuit breaker
(`STRIPE_BREAKER_FAILURES` failures within `STRIPE_BREAKER_WINDOW_SECONDS`) stops calling a Stripe
that keeps failing; it half-opens after the window. docs/decisions/0102-stripe-rail.md.

An outcome we could not read (a timeout, a 5xx after the retries, an idempotency key Stripe has
already pruned) never turns into a blind second transfer: the transfer is looked up by its
transfer group and our idempotency key first, and only a transfer that provably does not exist
is created.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from decimal import Decimal
from typing import Any

from django.conf import settings
from prometheus_client import Counter, Gauge

from escrow_project.common.money import Money
from ledger.rails.base import PaymentStart, PaymentState, RailError, RailResult

STRIPE_CALLS = Counter("stripe_calls_total", "Stripe API calls by operation and outcome", ["operation", "outcome"])
STRIPE_BREAKER_OPEN = Gauge(
    "stripe_breaker_open", "1 while the Stripe circuit breaker is open", multiprocess_mode="livemax"
)

# PaymentIntent statuses, as the rest of the platform reads them.
_PAYMENT_STATES: dict[str, str] = {
    "succeeded": "succeeded",
    "requires_capture": "authorized",
    "processing": "processing",
    "requires_action": "requires_action",
    "requires_payment_method": "requires_payment_method",
    "requires_confirmation": "requires_payment_method",
    "canceled": "canceled",
}


class StripeUnavailableError(RailError):
    """The breaker is open: Stripe failed too often just now; nothing was sent."""


class CircuitBreaker:
    """Opens after `failures` failures within `window` seconds; lets one call through after it."""

    def __init__(self, *, failures: int, window: float) -> None:
        self.failures, self.window = failures, window
        self._seen: deque[float] = deque()
        self._open_until = 0.0
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now < self._open_until:
                return False
            if self._open_until:
                self._open_until = 0.0  # half-open: this call decides
                self._seen.clear()
            STRIPE_BREAKER_OPEN.set(0)
            return True

    def record(self, *, ok: bool) -> None:
        with self._lock:
            now = time.monotonic()
            if ok:
                self._seen.clear()
                return
            self._seen.append(now)
            while self._seen and self._seen[0] < now - self.window:
                self._seen.popleft()
            if len(self._seen) >= self.failures:
                self._open_until = now + self.window
                STRIPE_BREAKER_OPEN.set(1)

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def describe(self) -> str:
        """For operators: open or closed, and the recent failures that count toward opening it."""
        with self._lock:
            now = time.monotonic()
            recent = sum(1 for seen in self._seen if seen >= now - self.window)
            if now < self._open_until:
                return f"OPEN for {self._open_until - now:.0f} s more: Stripe calls are paused"
            return f"closed ({recent} of {self.failures} failures within {self.window:.0f} s)"


def _minor(amount: Decimal, currency: str) -> int:
    return Money.of(amount, currency).to_minor()


def minor_to_amount(minor: int, currency: str) -> Decimal:
    """Stripe's integer minor units back to a Decimal amount."""
    return Money.from_minor(int(minor), currency.upper()).amount


class StripeRail:
    name = "stripe"

    def __init__(self, *, client: Any = None, breaker: CircuitBreaker | None = None) -> None:
        self._given_client = client
        self.breaker = breaker or CircuitBreaker(
            failures=settings.STRIPE_BREAKER_FAILURES, window=settings.STRIPE_BREAKER_WINDOW_SECONDS
        )

    # --- plumbing ----------------------------------------------------------------------------

    def client(self) -> Any:
        if self._given_client is not None:
            return self._given_client
        import stripe  # imported late: the embedded default never needs it

        if not settings.STRIPE_SECRET_KEY:
            raise RailError("STRIPE_SECRET_KEY is not set; the Stripe rail cannot be used.")
        return stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            base_addresses={"api": settings.STRIPE_API_BASE},
            max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
            http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS),
        )

    def _call(self, operation: str, call: Any) -> Any:
        import stripe

        if not self.breaker.allow():
            STRIPE_CALLS.labels(operation=operation, outcome="breaker_open").inc()
            raise StripeUnavailableError("Stripe failed repeatedly; calls pause until the breaker half-opens.")
        try:
            answer = call(self.client())
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            self.breaker.record(ok=False)
            STRIPE_CALLS.labels(operation=operation, outcome="unreachable").inc()
            raise RailError(f"Stripe unreachable: {exc.user_message or type(exc).__name__}") from exc
        except stripe.StripeError as exc:
            server_side = (exc.http_status or 500) >= 500
            self.breaker.record(ok=not server_side)
            STRIPE_CALLS.labels(operation=operation, outcome="server_error" if server_side else "refused").inc()
            raise
        self.breaker.record(ok=True)
        STRIPE_CALLS.labels(operation=operation, outcome="ok").inc()
        return answer

    # --- money in ----------------------------------------------------------------------------

    def payment_start(
        self, *, idempotency_key: str, amount: Decimal, currency: str, metadata: dict[str, str], manual_capture: bool
    ) -> PaymentStart:
        params: dict[str, Any] = {
            "amount": _minor(amount, currency),
            "currency": currency.lower(),
            "metadata": {**metadata, "idempotency_key": idempotency_key},
            "payment_method_types": ["card"],
        }
        if manual_capture:
            params["capture_method"] = "manual"
        intent = self._call(
            "payment_intent.create",
            lambda c: c.v1.payment_intents.create(params=params, options={"idempotency_key": idempotency_key}),
        )
        return PaymentStart(reference=intent.id, client_secret=intent.client_secret or "", state=self._state(intent))

    def payment_state(self, *, reference: str) -> PaymentState:
        intent = self._call("payment_intent.retrieve", lambda c: c.v1.payment_intents.retrieve(reference))
        return self._state(intent)

    @staticmethod
    def _state(intent: Any) -> PaymentState:
        error = getattr(intent, "last_payment_error", None)
        return PaymentState(
            reference=intent.id,
            status=_PAYMENT_STATES.get(intent.status, intent.status),
            amount=minor_to_amount(intent.amount, intent.currency),
            currency=intent.currency.upper(),
            failure_reason=str(getattr(error, "message", "") or "") if error else "",
        )

    def deposit_capture(
        self, *, idempotency_key: str, amount: Decimal, currency: str, source: dict[str, Any]
    ) -> RailResult:
        """Capture an authorized (manual-capture) PaymentIntent named by `source["payment_intent"]`."""
        reference = str(source.get("payment_intent", ""))
        if not reference:
            return RailResult("failed", failure_reason="No PaymentIntent to capture.")
        intent = self._call(
            "payment_intent.capture",
            lambda c: c.v1.payment_intents.capture(
                reference,
                params={"amount_to_capture": _minor(amount, currency)},
                options={"idempotency_key": idempotency_key},
            ),
        )
        return RailResult("succeeded" if intent.status == "succeeded" else "pending", provider_reference=intent.id)

    # --- money out ---------------------------------------------------------------------------

    def _find_transfer(self, *, transfer_group: str, idempotency_key: str) -> Any:
        listed = self._call(
            "transfer.list",
            lambda c: c.v1.transfers.list(params={"transfer_group": transfer_group, "limit": 100}),
        )
        for transfer in listed.data:
            metadata = transfer.metadata.to_dict() if transfer.metadata else {}  # a StripeObject, not a dict
            if metadata.get("idempotency_key") == idempotency_key:
                return transfer
        return None

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
        """A Connect transfer to the payee's account, grouped by escrow (`metadata["transfer_group"]`)."""
        import stripe

        intent = str(beneficiary.get("refund_payment_intent", ""))
        if intent:
            return self._refund_send(
                intent=intent, idempotency_key=idempotency_key, amount=amount, currency=currency, metadata=metadata
            )
        account = str(beneficiary.get("stripe_account", ""))
        if not account.startswith("acct_"):
            return RailResult("failed", failure_reason="The payee has no Stripe Connect account yet.")
        group = str(metadata.get("transfer_group", "")) or idempotency_key
        # Look first: a transfer whose answer we lost must not be made twice (keys expire after 24 h).
        found = self._find_transfer(transfer_group=group, idempotency_key=idempotency_key)
        if found is not None:
            return self._transfer_result(found)
        params = {
            "amount": _minor(amount, currency),
            "currency": currency.lower(),
            "destination": account,
            "transfer_group": group,
            "metadata": {**{k: str(v) for k, v in metadata.items()}, "idempotency_key": idempotency_key},
        }
        try:
            transfer = self._call(
                "transfer.create",
                lambda c: c.v1.transfers.create(params=params, options={"idempotency_key": idempotency_key}),
            )
        except RailError:
            raise  # unreachable: the outcome is unknown; the next dispatch looks it up first
        except stripe.StripeError as exc:
            if (exc.http_status or 500) >= 500:
                return RailResult("unknown", failure_reason=f"Stripe answered {exc.http_status}.")
            return RailResult("failed", failure_reason=str(exc.user_message or exc)[:300])
        return self._transfer_result(transfer)

    @staticmethod
    def _transfer_result(transfer: Any) -> RailResult:
        if getattr(transfer, "reversed", False):
            return RailResult("failed", provider_reference=transfer.id, failure_reason="The transfer was reversed.")
        return RailResult("succeeded", provider_reference=transfer.id)

    def transfer_reverse(
        self, *, idempotency_key: str, provider_reference: str, amount: Decimal, currency: str
    ) -> RailResult:
        """Undo (part of) a transfer: the money comes back from the connected account."""
        reversal = self._call(
            "transfer.reverse",
            lambda c: c.v1.transfers.reversals.create(
                provider_reference,
                params={"amount": _minor(amount, currency)},
                options={"idempotency_key": idempotency_key},
            ),
        )
        return RailResult("succeeded", provider_reference=reversal.id)

    def refund(self, *, idempotency_key: str, provider_reference: str, amount: Decimal, currency: str) -> RailResult:
        """Give (part of) a captured payment back to the card it came from."""
        return self._refund_send(
            intent=provider_reference, idempotency_key=idempotency_key, amount=amount, currency=currency, metadata={}
        )

    def _refund_send(
        self, *, intent: str, idempotency_key: str, amount: Decimal, currency: str, metadata: dict[str, Any]
    ) -> RailResult:
        """A refund to the PaymentIntent the money came from, looked up first like a transfer: a
        refund whose answer we lost is found by our key in its metadata, never made twice."""
        listed = self._call("refund.list", lambda c: c.v1.refunds.list(params={"payment_intent": intent, "limit": 100}))
        for existing in listed.data:
            if (existing.metadata.to_dict() if existing.metadata else {}).get("idempotency_key") == idempotency_key:
                return self._refund_result(existing)
        params = {
            "payment_intent": intent,
            "amount": _minor(amount, currency),
            "metadata": {**{k: str(v) for k, v in metadata.items()}, "idempotency_key": idempotency_key},
        }
        refund = self._call(
            "refund.create",
            lambda c: c.v1.refunds.create(params=params, options={"idempotency_key": idempotency_key}),
        )
        return self._refund_result(refund)

    @staticmethod
    def _refund_result(refund: Any) -> RailResult:
        status = {"succeeded": "succeeded", "failed": "failed", "canceled": "failed"}.get(refund.status, "pending")
        return RailResult(status, provider_reference=refund.id)  # type: ignore[arg-type]

    # --- statement ---------------------------------------------------------------------------

    def balance_transactions(self, *, created_from: int, created_to: int) -> list[dict[str, Any]]:
        """The rail's own statement for a period (Unix seconds): every balance transaction, paged."""
        rows: list[dict[str, Any]] = []
        # The source expanded: a charge then names its PaymentIntent, which is what the books know.
        params: dict[str, Any] = {
            "created": {"gte": created_from, "lt": created_to},
            "limit": 100,
            "expand": ["data.source"],
        }
        while True:
            page = self._call(
                "balance_transaction.list", lambda c, query=params: c.v1.balance_transactions.list(params=query)
            )
            for item in page.data:
                source = item.source
                intent = "" if isinstance(source, str) else getattr(source, "payment_intent", "") or ""
                rows.append(
                    {
                        "id": item.id,
                        "type": item.type,
                        "amount": minor_to_amount(item.amount, item.currency),
                        "fee": minor_to_amount(item.fee, item.currency),
                        "net": minor_to_amount(item.net, item.currency),
                        "currency": item.currency.upper(),
                        "created": item.created,
                        "source": source if isinstance(source, str) else getattr(source, "id", ""),
                        "payment_intent": intent,
                        "status": item.status,
                    }
                )
            if not page.has_more or not page.data:
                return rows
            params = {**params, "starting_after": page.data[-1].id}
