"""Money in through a rail, and the rail's signed events.

A payment in is started at the rail (outside any row lock), recorded as a RailPayment, and
credited only when the rail itself says it succeeded: a verified webhook event, or a retrieve we
make ourselves. The owning app hears `rail_payment_succeeded` inside that transaction and records
the deposit. Nothing here takes a payer's word for money.
"""

from __future__ import annotations

import hmac
import json
import time
from decimal import Decimal
from typing import Any

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from prometheus_client import Counter

from escrow_project.common.errors import (
    ConflictError,
    DomainError,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableError,
)
from ledger.models import RailEvent, RailPayment, RailPaymentStatus
from ledger.rails import PaymentState, rail_get
from ledger.rails.stripe import minor_to_amount as _major
from ledger.services._core import amount_clean, conflict, key_clean
from ledger.signals import rail_account_updated, rail_payment_failed, rail_payment_succeeded
from ledger.states import RAIL_PAYMENT_FINAL

logger = structlog.get_logger(__name__)

RAIL_EVENTS = Counter("ledger_rail_events_total", "Rail webhook events by rail, type and verdict", ["rail", "verdict"])
RAIL_PAYMENTS = Counter("ledger_rail_payments_total", "Payments in by rail and outcome", ["rail", "status"])

_BAD_SIGNATURE = "webhook_signature_invalid"


def rail_payment_start(
    *,
    rail: str,
    idempotency_key: str,
    amount: Decimal,
    currency: str,
    subject_type: str,
    subject_id: str,
    purpose: str,
    manual_capture: bool = False,
) -> tuple[RailPayment, str]:
    """Open a payment the payer completes at the rail; returns it and the rail's client secret.

    The same key always gives the same payment (Stripe answers the same PaymentIntent).
    """
    key = key_clean(idempotency_key)
    value = amount_clean(amount, currency)
    earlier = RailPayment.objects.filter(idempotency_key=key).first()
    if earlier is not None and (earlier.amount, earlier.currency, earlier.rail) != (value, currency, rail):
        raise conflict(key, "payment")  # before the rail: Stripe, too, refuses a key reused with new values
    started = rail_get(rail).payment_start(
        idempotency_key=key,
        amount=value,
        currency=currency,
        metadata={"subject_type": subject_type, "subject_id": subject_id, "purpose": purpose},
        manual_capture=manual_capture,
    )
    with transaction.atomic():
        try:
            with transaction.atomic():
                payment = RailPayment.objects.create(
                    rail=rail,
                    reference=started.reference,
                    idempotency_key=key,
                    amount=value,
                    currency=currency,
                    subject_type=subject_type,
                    subject_id=subject_id,
                    purpose=purpose,
                )
        except IntegrityError:
            payment = RailPayment.objects.get(idempotency_key=key)
        _apply_state(payment.pk, started.state)
    payment.refresh_from_db()
    return payment, started.client_secret


def rail_payment_refresh(*, payment_id: int) -> RailPayment:
    """Ask the rail ourselves (a verified retrieve) and apply what it says."""
    payment = RailPayment.objects.get(pk=payment_id)
    state = rail_get(payment.rail).payment_state(reference=payment.reference)  # no lock held during the call
    with transaction.atomic():
        _apply_state(payment.pk, state)
    payment.refresh_from_db()
    return payment


def _apply_state(payment_id: int, state: PaymentState) -> str:
    """Move a payment to what the rail reported; a success is announced once. Out of order safe:
    a success is final, a late 'failed' or 'processing' after it changes nothing."""
    payment = RailPayment.objects.select_for_update().get(pk=payment_id)
    if payment.status in RAIL_PAYMENT_FINAL:
        return "stale"
    if state.amount is not None and (state.amount != payment.amount or state.currency != payment.currency):
        # The rail reports another amount than we asked for: never credit what we did not expect.
        payment.failure_reason = f"The rail reported {state.amount} {state.currency}; expected {payment.amount}."
        payment.save(update_fields=["failure_reason", "updated_at"])
        logger.error("rail_payment_amount_mismatch", payment=str(payment.public_id), rail=payment.rail)
        return "amount_mismatch"
    status = state.status if state.status in RailPaymentStatus.values else RailPaymentStatus.PROCESSING
    payment.record(status, state.failure_reason)
    if status != RailPaymentStatus.SUCCEEDED:
        payment.save(update_fields=["status", "failure_reason", "updated_at"])
        if status == RailPaymentStatus.FAILED:
            rail_payment_failed.send(sender=RailPayment, payment=payment)
        RAIL_PAYMENTS.labels(rail=payment.rail, status=status).inc()
        return "recorded"
    try:
        with transaction.atomic():
            rail_payment_succeeded.send(sender=RailPayment, payment=payment)
        payment.applied, payment.apply_error = True, ""
    except DomainError as exc:
        # The money is at the rail but its owner refused it (say, the escrow was cancelled meanwhile):
        # it stays visible for an operator to refund; it is never credited blindly.
        payment.applied, payment.apply_error = False, exc.detail[:500]
        logger.error("rail_payment_not_applied", payment=str(payment.public_id), code=exc.code)
    payment.save()
    RAIL_PAYMENTS.labels(rail=payment.rail, status=status).inc()
    return "applied" if payment.applied else "unapplied"


def rail_payment_refund_unapplied(*, payment_id: int, actor: str) -> RailPayment:
    """Give back money that reached the rail but that its owner refused (the escrow was cancelled
    meanwhile): it was never credited, so only the rail moves; refunded once, by a stable key."""
    payment = RailPayment.objects.get(pk=payment_id)
    if payment.status != RailPaymentStatus.SUCCEEDED or payment.applied:
        raise ConflictError(
            "Only a payment the rail took and the platform did not credit is refunded here.", code="not_refundable"
        )
    left = payment.amount - payment.amount_refunded
    if left <= 0:
        raise ConflictError("This payment was already refunded.", code="already_refunded")
    result = rail_get(payment.rail).refund(
        idempotency_key=f"unapplied-refund:{payment.public_id}",
        provider_reference=payment.reference,
        amount=left,
        currency=payment.currency,
    )
    if result.status == "failed":
        raise ConflictError(f"The rail refused the refund: {result.failure_reason}", code="refund_failed")
    RailPayment.objects.filter(pk=payment.pk).update(amount_refunded=payment.amount, apply_error=(
        f"{payment.apply_error} Refunded to the payer by {actor} ({result.provider_reference})."[:500]
    ))  # fmt: skip
    logger.info("rail_payment_refunded_unapplied", payment=str(payment.public_id), actor=actor)
    payment.refresh_from_db()
    return payment


# Card numbers the sandbox payer may use, as in Stripe's test mode: this one is declined.
SANDBOX_DECLINED_CARD = "4000000000000002"


def sandbox_payment_pay(*, client_secret: str, card_number: str = "4242424242424242") -> RailPayment:
    """The sandbox's stand-in for Stripe.js: the payer pays a simulated-rail payment with its client
    secret. Only while the platform runs on the simulated rail (never next to real money)."""
    from ledger.rails.simulated import sandbox_client_secret

    if settings.PAYMENT_RAIL != "simulated":
        raise NotFoundError("The sandbox payer exists only on the simulated rail.", code="not_found")
    reference = client_secret.split("_secret_", 1)[0]
    if not hmac.compare_digest(sandbox_client_secret(reference), client_secret):
        raise PermissionDeniedError("The client secret is not valid.", code="invalid_client_secret")
    payment = RailPayment.objects.filter(rail="simulated", reference=reference).first()
    if payment is None:
        raise NotFoundError("No such payment.", code="not_found")
    declined = card_number == SANDBOX_DECLINED_CARD
    state = PaymentState(
        reference=reference,
        status="failed" if declined else "succeeded",
        amount=payment.amount,
        currency=payment.currency,
        failure_reason="Your card was declined (sandbox test card)." if declined else "",
    )
    with transaction.atomic():
        _apply_state(payment.pk, state)
    payment.refresh_from_db()
    return payment


# --- webhook events ----------------------------------------------------------------------------


def _signature_parts(header: str) -> tuple[int, list[str]]:
    """`t=<unix seconds>,v1=<hex>[,v1=...]`, read defensively: anything odd is a refusal, not a 500."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(",")[:20]:
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1" and value.isascii() and len(value) == 64:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise PermissionDeniedError(
            "The Stripe-Signature header is missing or malformed.", code="webhook_signature_invalid"
        )
    return timestamp, signatures


def stripe_signature_verify(*, payload: bytes, header: str, now: float | None = None) -> None:
    """The SDK's check against each configured secret (rotation), and no timestamp too far either way."""
    import stripe

    timestamp, _ = _signature_parts(header)
    tolerance = settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        raise PermissionDeniedError(
            "The webhook timestamp is outside the tolerance (too old, or in the future).", code="webhook_stale"
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise PermissionDeniedError(
            "The webhook signature does not verify.", code="webhook_signature_invalid"
        ) from None
    for secret in settings.STRIPE_WEBHOOK_SECRETS:
        try:
            stripe.WebhookSignature.verify_header(text, header, secret, tolerance=tolerance)
            return
        except stripe.SignatureVerificationError:
            continue
    raise PermissionDeniedError("The webhook signature does not verify.", code=_BAD_SIGNATURE)


@transaction.atomic
def stripe_event_receive(*, payload: bytes, signature_header: str) -> tuple[RailEvent, bool]:
    """Verify, record once (by event id) and apply a Stripe event. Returns the record and whether
    it was new; a repeat changes nothing."""
    stripe_signature_verify(payload=payload, header=signature_header)
    try:
        event = json.loads(payload)
    except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON, even if signed
        raise UnprocessableError("The event is not JSON.", code="malformed_request") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise UnprocessableError("The event has no id or type.", code="malformed_event")
    obj = (event.get("data") or {}).get("object") if isinstance(event.get("data"), dict) else None
    if not isinstance(obj, dict):
        raise UnprocessableError("The event has no data.object.", code="malformed_event")
    try:
        with transaction.atomic():
            record = RailEvent.objects.create(
                rail="stripe",
                event_id=event["id"][:255],
                type=event["type"][:100],
                livemode=bool(event.get("livemode")),
                body=event,
                verdict="received",
            )
    except IntegrityError:
        RAIL_EVENTS.labels(rail="stripe", verdict="duplicate").inc()
        return RailEvent.objects.get(rail="stripe", event_id=event["id"][:255]), False
    if bool(event.get("livemode")) != settings.STRIPE_LIVE_MODE:
        verdict, detail = "ignored", "live/test mode does not match this platform's"
    else:
        verdict, detail = _stripe_event_apply(event["type"], obj)
    record.verdict, record.detail = verdict, detail[:500]
    record.save(update_fields=["verdict", "detail"])
    RAIL_EVENTS.labels(rail="stripe", verdict=verdict).inc()
    logger.info("stripe_event", event_type=event["type"], verdict=verdict)
    return record, True


def _stripe_event_apply(event_type: str, obj: dict[str, Any]) -> tuple[str, str]:
    if event_type.startswith("payment_intent."):
        payment = RailPayment.objects.filter(rail="stripe", reference=str(obj.get("id", ""))).first()
        if payment is None:
            return "unknown_object", "No payment in with this PaymentIntent."
        state = _stripe_intent_state(obj, event_type)
        return _apply_state(payment.pk, state), ""
    if event_type == "charge.refunded":
        payment = RailPayment.objects.filter(rail="stripe", reference=str(obj.get("payment_intent", ""))).first()
        if payment is None:
            return "unknown_object", "No payment in with this charge's PaymentIntent."
        refunded = _major(int(obj.get("amount_refunded", 0)), payment.currency)
        RailPayment.objects.filter(pk=payment.pk).update(amount_refunded=refunded)
        return "recorded", f"refunded {refunded} {payment.currency}"
    if event_type == "account.updated":
        rail_account_updated.send(
            sender=RailEvent, account_id=str(obj.get("id", "")), payouts_enabled=bool(obj.get("payouts_enabled"))
        )
        return "applied", ""
    if event_type in ("transfer.created", "transfer.reversed", "payout.paid", "payout.failed"):
        # Outcomes of our own calls (recorded when we made them) and of Stripe's payouts to the bank:
        # kept for the daily rail statement and the operators; the ledger moved at the call.
        return "recorded", ""
    return "ignored", "not an event type this platform acts on"


def _stripe_intent_state(obj: dict[str, Any], event_type: str) -> PaymentState:
    status = {
        "payment_intent.succeeded": "succeeded",
        "payment_intent.payment_failed": "failed",
        "payment_intent.requires_action": "requires_action",
        "payment_intent.canceled": "canceled",
        "payment_intent.amount_capturable_updated": "authorized",
        "payment_intent.processing": "processing",
    }.get(event_type, "processing")
    error = obj.get("last_payment_error") or {}
    currency = str(obj.get("currency", "")).upper()
    try:
        amount = _major(int(obj.get("amount", 0)), currency) if currency else None
    except Exception:  # noqa: BLE001 - an unknown currency or a bad number: do not trust the amount
        amount = Decimal(-1)
    return PaymentState(
        reference=str(obj.get("id", "")),
        status=status,
        amount=amount,
        currency=currency,
        failure_reason=str(error.get("message", "") if isinstance(error, dict) else ""),
    )
