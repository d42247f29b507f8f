"""Fund locks that park and wake. Every decision for one EA runs under that EA's row lock."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from endorsements import funds, hooks, metrics
from endorsements.models import Direction, EndorsementAccount, EndorsementRequest, GroupPolicy
from endorsements.services.persist import requests_save
from endorsements.states import RequestState
from escrow_project.common.amounts import clean_amount
from escrow_project.common.errors import DomainError, UnprocessableError
from identity.models import Organization

logger = structlog.get_logger(__name__)

PAGE = 500


@dataclass
class DrainResult:
    locked: int = 0
    parked: int = 0
    credits: int = 0
    available: Decimal = Decimal(0)


def ea_lock(*, employer_id: int, currency: str) -> EndorsementAccount:
    """Lock the EA row. Every path takes it BEFORE any ledger call on the account and before any
    request row, so top-ups, submissions, confirmations and cancellations never deadlock."""
    return _lock_ea(employer_id=employer_id, currency=currency)


def _lock_ea(*, employer_id: int, currency: str) -> EndorsementAccount:
    employer = Organization.objects.get(pk=employer_id)
    ea = funds.ea_get_or_open(employer=employer, currency=currency)
    return EndorsementAccount.objects.select_for_update(of=("self",)).select_related("employer").get(pk=ea.pk)


@transaction.atomic
def ea_drain(*, employer_id: int, currency: str, actor: str = "system") -> DrainResult:
    """Lock funds for waiting requests, oldest effective date first; park what does not fit.

    Order is strict: once a debit does not fit, every later one waits behind it, so a stream of
    small debits can never starve an older large one.
    """
    ea = _lock_ea(employer_id=employer_id, currency=currency)
    result = DrainResult()
    base = EndorsementRequest.objects.filter(employer_id=employer_id, currency=currency)
    locking = base.select_for_update(of=("self",))

    # Credits and zero debits need no funds: they go straight to the scheduler.
    while True:
        credits = list(
            locking.filter(state=RequestState.VALIDATED).exclude(direction=Direction.DEBIT, amount__gt=0)[:PAGE]
        )
        if not credits:
            break
        for request in credits:
            request.lock_funds()
        requests_save(credits, transitions=("lock_funds",))
        hooks.requests_step(credits, "endorsement.fund_locked", actor=actor)
        result.credits += len(credits)

    available = funds.available(ea)
    blocked = False
    while not blocked:
        # Each locked row leaves these states, so the next query starts where this one stopped.
        page = list(
            locking.filter(
                state__in=[RequestState.VALIDATED, RequestState.ON_HOLD_FUNDS], direction=Direction.DEBIT, amount__gt=0
            ).order_by("effective_date", "created_at", "pk")[:PAGE]
        )
        if not page:
            break
        was_parked = {r.pk for r in page if r.state == RequestState.ON_HOLD_FUNDS}
        fitting, blocked, available = _fund_in_order(ea, page, available)
        if not fitting:
            break
        requests_save(fitting, transitions=("lock_funds",), also=("hold_id",))
        hooks.requests_step(fitting, "endorsement.fund_locked", actor=actor)
        hooks.requests_woken([r for r in fitting if r.pk in was_parked], actor=actor)
        result.locked += len(fitting)
    if blocked:
        # Park the newcomers behind the head of the queue; already parked ones stay as they are.
        while True:
            newcomers = list(locking.filter(state=RequestState.VALIDATED).order_by("pk")[:PAGE])
            if not newcomers:
                break
            for request in newcomers:
                request.park()
            requests_save(newcomers, transitions=("park",))
            hooks.requests_step(newcomers, "endorsement.on_hold_funds", actor=actor)
            result.parked += len(newcomers)
    result.available = available
    _drained(ea, result, actor)
    return result


def _fund_in_order(
    ea: EndorsementAccount, debits: list[EndorsementRequest], available: Decimal
) -> tuple[list[EndorsementRequest], bool, Decimal]:
    """Hold funds for the leading debits that fit, in order, and move them to FUND_LOCKED in memory.

    Returns the funded ones, whether a debit did not fit (everything after it waits), and what is
    left available.
    """
    fitting: list[EndorsementRequest] = []
    blocked = False
    for request in debits:
        if request.amount > available:
            blocked = True
            break
        available -= request.amount
        fitting.append(request)
    if not fitting:
        return fitting, blocked, available
    try:
        hold_ids = funds.holds_place(ea=ea, requests=fitting)
    except DomainError as exc:
        if exc.code != "insufficient_funds":
            raise
        # Someone else moved money on the ledger account outside our lock: take what fits one by one.
        available = funds.available(ea)
        hold_ids = []
        for request in fitting:
            if request.amount > available:
                blocked = True
                break
            hold_ids.extend(funds.holds_place(ea=ea, requests=[request]))
            available -= request.amount
        fitting = fitting[: len(hold_ids)]
    for request, hold_id in zip(fitting, hold_ids, strict=True):
        request.hold_id = hold_id
        request.lock_funds()
    return fitting, blocked, available


@dataclass
class Funded:
    """What `ea_fund_new` decided for requests not yet written; `queued` were left to `ea_drain`."""

    locked: list[EndorsementRequest]
    parked: list[EndorsementRequest]
    credits: int = 0
    available: Decimal = Decimal(0)
    queued: bool = False


def ea_fund_new(*, ea: EndorsementAccount, requests: list[EndorsementRequest]) -> Funded:
    """Fund locks for validated requests about to be inserted (the caller holds the EA row lock).

    When nothing of this EA waits in the queue, they are locked or parked now, in memory, in the
    queue's own order (effective date, then arrival), so they are written once in their final state
    instead of inserted and then updated. When something waits, they stay VALIDATED (`queued`) and
    the caller runs `ea_drain` after inserting them, which orders them behind the waiting ones.
    Call `ea_funded` after the insert: it records the steps.
    """
    waiting = EndorsementRequest.objects.filter(
        employer_id=ea.employer_id,
        currency=ea.currency,
        state__in=[RequestState.VALIDATED, RequestState.ON_HOLD_FUNDS],
        direction=Direction.DEBIT,
        amount__gt=0,
    ).exists()
    if waiting:
        return Funded(locked=[], parked=[], queued=True)
    credits = [r for r in requests if not r.is_debit]
    for request in credits:
        request.lock_funds()
    debits = sorted((r for r in requests if r.is_debit), key=lambda r: r.effective_date)
    fitting, blocked, available = _fund_in_order(ea, debits, funds.available(ea))
    parked = debits[len(fitting) :] if blocked else []
    for request in parked:
        request.park()
    return Funded(locked=credits + fitting, parked=parked, credits=len(credits), available=available)


def ea_funded(*, ea: EndorsementAccount, funded: Funded, actor: str) -> None:
    """Record what `ea_fund_new` decided, once its requests are written."""
    hooks.requests_step(funded.locked, "endorsement.fund_locked", actor=actor)
    hooks.requests_step(funded.parked, "endorsement.on_hold_funds", actor=actor)
    result = DrainResult(
        locked=len(funded.locked) - funded.credits,
        parked=len(funded.parked),
        credits=funded.credits,
        available=funded.available,
    )
    _drained(ea, result, actor)


def _drained(ea: EndorsementAccount, result: DrainResult, actor: str) -> None:
    _parked_gauge(ea)
    if ea.low_balance_threshold and result.available < ea.low_balance_threshold:
        hooks.low_balance(
            employer_id=ea.employer_id,
            employer_name=ea.employer.name,
            currency=ea.currency,
            available=str(result.available),
            threshold=str(ea.low_balance_threshold),
            day=timezone.localdate().isoformat(),
        )
    if result.locked or result.parked or result.credits:
        logger.info(
            "endorsement_ea_drained", employer_id=ea.employer_id, currency=ea.currency, actor=actor, **_counts(result)
        )


def _counts(result: DrainResult) -> dict[str, int]:
    return {"locked": result.locked, "parked": result.parked, "credits": result.credits}


def _parked_gauge(ea: EndorsementAccount) -> None:
    from django.db.models import Sum

    total = EndorsementRequest.objects.filter(
        employer_id=ea.employer_id, currency=ea.currency, state=RequestState.ON_HOLD_FUNDS
    ).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    metrics.PARKED_AMOUNT.labels(employer=str(ea.employer_id), currency=ea.currency).set(float(total))


TOPUP_SUBJECT = "endorsement_account"


def _topup_currency_check(employer: Organization, currency: str) -> None:
    if not GroupPolicy.objects.filter(employer=employer, currency=currency, is_active=True).exists():
        # An account in a currency no policy bills would hold money nothing can ever spend.
        raise UnprocessableError(
            f"No active policy of this employer is billed in {currency}; top up in a policy's currency.",
            code="currency_without_policy",
            errors=[{"field": "currency", "code": "no_policy_in_currency", "message": f"No {currency} policy."}],
        )


@transaction.atomic
def ea_topup(
    *,
    employer: Organization,
    amount: object,
    currency: str,
    idempotency_key: str,
    actor: str,
    rail: str = "simulated",
    reference: str = "",
) -> DrainResult:
    """Credit money the rail has confirmed, then wake parked requests. Callers: the rail's confirmation
    (`ea_topup_pay`'s handler), the demo seed and tests; never an employer's word."""
    value = clean_amount(amount, currency)
    _topup_currency_check(employer, currency)
    ea = ea_lock(employer_id=employer.pk, currency=currency)
    funds.topup_record(
        key=f"ea-topup:{employer.pk}:{idempotency_key}",
        ea=ea,
        amount=value,
        currency=currency,
        reference=reference,
        rail=rail,
    )
    hooks.employer_event(
        employer_id=employer.pk,
        kind="endorsement_account.topped_up",
        actor=actor,
        payload={"amount": str(value), "currency": currency},
    )
    return ea_drain(employer_id=employer.pk, currency=currency, actor=actor)


@dataclass(frozen=True)
class TopupPayment:
    payment: Any
    client_secret: str
    woken: DrainResult | None  # set only when the rail had already confirmed (a repeated request)


def _parked_count(employer: Organization, currency: str) -> int:
    return EndorsementRequest.objects.filter(
        employer_id=employer.pk, currency=currency, state=RequestState.ON_HOLD_FUNDS
    ).count()


def ea_topup_pay(*, employer: Organization, amount: object, currency: str, idempotency_key: str) -> TopupPayment:
    """An employer pays money into its EA at the rail; it is credited when the rail confirms it.

    With Stripe the answer carries the PaymentIntent's client secret and the credit follows its
    webhook; on the embedded default the sandbox payer pays it (`POST /sandbox/payments/pay`).
    No row lock is held while the rail is called.
    """
    from ledger import services as ledger

    value = clean_amount(amount, currency)
    _topup_currency_check(employer, currency)
    parked_before = _parked_count(employer, currency)
    payment, client_secret = ledger.rail_payment_start(
        rail=settings.PAYMENT_RAIL,
        idempotency_key=f"ea-topup-pay:{employer.pk}:{idempotency_key}",
        amount=value,
        currency=currency,
        subject_type=TOPUP_SUBJECT,
        subject_id=str(employer.public_id),
        purpose="ea_topup",
    )
    woken = None
    if payment.applied:
        still = _parked_count(employer, currency)
        woken = DrainResult(locked=max(parked_before - still, 0), parked=still)
    return TopupPayment(payment=payment, client_secret=client_secret, woken=woken)


def ea_topup_from_rail(*, payment: Any) -> None:
    """The rail confirmed an employer's payment: credit it (once: the ledger key is the payment's)."""
    employer = Organization.objects.get(public_id=payment.subject_id)
    ea_topup(
        employer=employer,
        amount=payment.amount,
        currency=payment.currency,
        idempotency_key=f"rail:{payment.public_id}",
        actor="rail",
        rail=payment.rail,
        reference=payment.reference,
    )
