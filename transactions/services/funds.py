"""Money of an escrow transaction, all through ledger.services: wallet, deposits, milestones, payouts.

Accounts (ledger owner_type:owner_id/purpose):
- escrow:<id>/escrow_wallet: credit-normal, no overdraft. Deposits credit it.
- organization:<id>/escrow_payee: credit-normal; what the platform owes a payee. A milestone
  is a hold from the wallet to its agent's payee account; settlement and refunds are transfers;
  a payout takes money from the payee account to the payee's bank.
Every call carries a deterministic idempotency key, so repeats never move money twice.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from escrow_project.common import amounts
from escrow_project.common.enqueue import enqueue_on_commit
from escrow_project.common.errors import ConflictError, NotFoundError, UnprocessableError
from identity.models import Organization
from ledger import selectors as ledger_selectors
from ledger import services as ledger
from ledger.models import Account
from notifications.types import Recipient
from transactions.models import (
    Deposit,
    DepositKind,
    EscrowTransaction,
    Milestone,
    MilestoneStatus,
    PayeeProfile,
    Payment,
    PaymentKind,
    PaymentStatus,
)
from transactions.services._common import (
    PAYMENTS,
    audit,
    key,
    logger,
    notify,
    payouts_block_reason,
    transitioned,
    txn_lock,
)
from transactions.services.parties import deposit_recorder_check
from transactions.services.payments_in import deposit_amount_check
from verifications import selectors as verification_selectors
from verifications import services as verification_services


def wallet_open(txn: EscrowTransaction) -> int:
    if txn.wallet_account_id is None:
        account = ledger.account_open(
            owner_type="escrow",
            owner_id=str(txn.pk),
            purpose="escrow_wallet",
            currency=txn.currency,
            normal_side="credit",
            no_overdraft=True,
            name=f"Escrow wallet {txn.reference}",
        )
        txn.wallet_account_id = account.pk
        txn.save(update_fields=["wallet_account_id", "updated_at"])
    return txn.wallet_account_id


def system_accounts_ensure(currency: str) -> None:
    """Create the ledger's shared accounts up front, not first inside a busy payout transaction."""
    ledger.payouts_in_flight_account(currency=currency)
    ledger.rail_clearing_account(rail="simulated", currency=currency)


def wallet_available(txn: EscrowTransaction) -> Decimal:
    if txn.wallet_account_id is None:
        return Decimal(0)
    return ledger_selectors.account_balance(account_id=txn.wallet_account_id).available


def payee_account(organization_id: int, currency: str) -> int:
    # Read first: after a payee's first payout the account exists, and opening it again costs four
    # queries per payee on every milestone and settlement (five payees per settlement).
    existing = (
        Account.objects.filter(
            owner_type="organization", owner_id=str(organization_id), purpose="escrow_payee", currency=currency
        )
        .values_list("pk", flat=True)
        .first()
    )
    if existing is not None:
        return int(existing)
    profile, _ = PayeeProfile.objects.get_or_create(organization_id=organization_id)
    organization = Organization.objects.get(pk=organization_id)
    account = ledger.account_open(
        owner_type="organization",
        owner_id=str(organization.pk),
        purpose="escrow_payee",
        currency=currency,
        normal_side="credit",
        name=f"Escrow payee {organization.name}"[:200],
    )
    if profile.ledger_account_id is None:
        profile.ledger_account_id = account.pk
        profile.save(update_fields=["ledger_account_id"])
    return account.pk


def clean_amount(value: Any, currency: str, *, what: str = "amount", allow_zero: bool = False) -> Decimal:
    """The platform's amount parser (a 422 naming `what`), bounded by the largest plausible price."""
    return amounts.clean_amount(
        value, currency, field=what, allow_zero=allow_zero, maximum=Decimal(settings.ESCROW_MAX_PURCHASE_PRICE) + 1
    )


# --- deposits --------------------------------------------------------------------------------


@transaction.atomic
def deposit_receive(
    *,
    transaction_id: int,
    kind: str,
    amount: Any,
    actor: Any = None,
    provider_reference: str = "",
    rail: str = "simulated",
) -> Deposit:
    """Money arrived through a rail into the escrow wallet: earnest money, loan funds or cash to close."""
    from transactions.services.lifecycle import escrow_funded

    txn = txn_lock(transaction_id)
    deposit_recorder_check(actor, escrow_officer_id=txn.escrow_officer_id)
    if kind not in DepositKind.values:
        raise UnprocessableError(f"Unknown deposit kind {kind!r}.", code="invalid_deposit_kind")
    value = clean_amount(amount, txn.currency)
    existing = Deposit.objects.filter(transaction=txn, kind=kind).first()
    if existing is not None:
        if existing.amount == value:
            return existing  # the rail told us twice
        raise ConflictError(f"The {kind} deposit was already received.", code="deposit_already_received")
    deposit_amount_check(txn, kind, value)
    wallet = wallet_open(txn)
    entry = ledger.deposit_record(
        idempotency_key=key(txn, "deposit", kind),
        account_id=wallet,
        amount=value,
        currency=txn.currency,
        rail=rail,
        provider_reference=provider_reference,
    )
    deposit = Deposit.objects.create(
        transaction=txn,
        kind=kind,
        amount=value,
        rail=rail,
        provider_reference=provider_reference,
        ledger_reference=str(entry.pk),
    )
    audit("escrow.deposit_received", txn, actor, kind=kind, amount=str(value), currency=txn.currency)
    if kind == DepositKind.EARNEST:
        escrow_funded(txn=txn, actor=actor)
    return deposit


# --- milestones ------------------------------------------------------------------------------


def milestones_hold(txn: EscrowTransaction) -> None:
    """Reserve every milestone fee on the wallet, each credited to its agent's payee account.

    One ledger batch, so the accounts are locked once, in the ledger's order: holding them one by
    one would lock payee accounts in milestone order and can deadlock with another transaction.
    """
    from ledger.types import HoldOp

    wallet = wallet_open(txn)
    planned = list(txn.milestones.select_for_update().filter(status=MilestoneStatus.PLANNED).order_by("id"))
    to_hold = [m for m in planned if m.amount > 0]
    for milestone in to_hold:
        if milestone.payee_id is None:
            raise UnprocessableError(f"The {milestone.verification_type} milestone has no payee.", code="payee_missing")
    credit = {m.pk: payee_account(m.payee_id, txn.currency) for m in to_hold}  # type: ignore[arg-type]
    result = (
        ledger.batch_execute(
            idempotency_key=key(txn, "milestones", "hold"),
            operations=[
                HoldOp(
                    debit_account_id=wallet,
                    credit_account_id=credit[m.pk],
                    amount=m.amount,
                    currency=txn.currency,
                    description=f"{m.get_verification_type_display()} fee, {txn.reference}",
                    metadata={"escrow": str(txn.public_id), "milestone": m.verification_type},
                    idempotency_key=key(txn, "milestone", m.verification_type, "hold", m.hold_generation),
                )
                for m in to_hold
            ],
        )
        if to_hold
        else None
    )
    holds = dict(zip([m.pk for m in to_hold], result.results if result else [], strict=True))
    for milestone in planned:
        milestone.hold_id = holds[milestone.pk].pk if milestone.pk in holds else None
        milestone.hold()
        milestone.save(update_fields=["hold_id", "status"])


def _milestone_hold_to(txn: EscrowTransaction, milestone: Milestone, wallet: int, payee_id: int | None) -> None:
    if payee_id is None:
        raise UnprocessableError(f"The {milestone.verification_type} milestone has no payee.", code="payee_missing")
    hold = ledger.hold_create(
        idempotency_key=key(txn, "milestone", milestone.verification_type, "hold", milestone.hold_generation),
        debit_account_id=wallet,
        credit_account_id=payee_account(payee_id, txn.currency),
        amount=milestone.amount,
        currency=txn.currency,
        description=f"{milestone.get_verification_type_display()} fee, {txn.reference}",
        metadata={"escrow": str(txn.public_id), "milestone": milestone.verification_type},
    )
    milestone.hold_id = hold.pk
    milestone.payee_id = payee_id  # still held: by the new agent now
    milestone.save(update_fields=["hold_id", "payee"])


def milestone_void(txn: EscrowTransaction, milestone: Milestone, reason: str) -> None:
    if milestone.status not in (MilestoneStatus.HELD, MilestoneStatus.EARNED):
        return
    if milestone.hold_id is not None:
        ledger.hold_void(
            hold_id=milestone.hold_id,
            idempotency_key=key(txn, "milestone", milestone.verification_type, "void", milestone.hold_generation),
            reason=reason,
        )
    milestone.void()
    milestone.save(update_fields=["status"])


@transaction.atomic
def milestone_earn(*, transaction_id: int, verification_type: str, agent_id: int | None) -> Milestone | None:
    """A verification passed: the milestone is earned and released unless money is frozen."""
    txn = txn_lock(transaction_id)
    milestone = txn.milestones.select_for_update().filter(verification_type=verification_type).first()
    if milestone is None or milestone.status != MilestoneStatus.HELD:
        return milestone  # a repeated signal: already earned, released or voided
    if agent_id is not None and agent_id != milestone.payee_id and milestone.amount > 0:
        # The task was reassigned: the fee goes to the agent who delivered.
        ledger.hold_void(
            hold_id=milestone.hold_id,  # type: ignore[arg-type]
            idempotency_key=key(txn, "milestone", verification_type, "void", milestone.hold_generation),
            reason="reassigned",
        )
        milestone.hold_generation += 1
        _milestone_hold_to(txn, milestone, wallet_open(txn), agent_id)
    milestone.earn()
    milestone.save(update_fields=["status", "earned_at"])
    milestone_release(txn=txn, milestone=milestone)
    return milestone


def milestone_release(*, txn: EscrowTransaction, milestone: Milestone, actor: Any = None) -> bool:
    """Post an earned milestone's hold and pay the agent; False when money is frozen now."""
    if milestone.status != MilestoneStatus.EARNED:
        return False
    if payouts_block_reason(txn):
        return False
    if milestone.amount > 0:
        ledger.hold_post(
            hold_id=milestone.hold_id,  # type: ignore[arg-type]
            idempotency_key=key(txn, "milestone", milestone.verification_type, "post"),
        )
    milestone.release()
    milestone.save(update_fields=["status", "released_at"])
    audit("escrow.milestone_released", txn, actor, milestone=milestone.verification_type, amount=str(milestone.amount))
    if milestone.amount > 0:
        payment_create(
            txn=txn,
            kind=PaymentKind.MILESTONE,
            payee_id=milestone.payee_id,  # type: ignore[arg-type]
            amount=milestone.amount,
            label=f"{milestone.get_verification_type_display()} fee",
            idem=key(txn, "milestone", milestone.verification_type, "payout"),
            milestone=milestone,
        )
    return True


# --- payments --------------------------------------------------------------------------------


def payment_create(
    *,
    txn: EscrowTransaction,
    kind: str,
    payee_id: int,
    amount: Decimal,
    label: str,
    idem: str,
    milestone: Milestone | None = None,
    refund_of: str = "",
) -> Payment:
    """Record a payout of money already on the payee's account, and send it unless blocked."""
    payment = Payment.objects.filter(idempotency_key=idem).first()
    if payment is not None:
        return payment
    payment = Payment.objects.create(
        transaction=txn,
        milestone=milestone,
        kind=kind,
        label=label,
        payee_id=payee_id,
        amount=amount,
        currency=txn.currency,
        idempotency_key=idem,
        refund_of=refund_of,
    )
    payment_dispatch(txn=txn, payment=payment)
    return payment


def payee_block_reason(payee_id: int) -> str:
    profile = PayeeProfile.objects.filter(organization_id=payee_id).first()
    if profile is None or not profile.bank_details:
        return "The payee has no bank details on file."
    if profile.cooling_off_until and profile.cooling_off_until > timezone.now():
        return f"The payee's bank details changed; payouts wait until {profile.cooling_off_until:%Y-%m-%d %H:%M} UTC."
    if settings.PAYMENT_RAIL == "stripe" and not (profile.stripe_account_id and profile.stripe_payouts_enabled):
        # Money stays on the payee's ledger account, visible as blocked; it moves once Stripe says
        # the account can receive (account.updated), never before.
        return "The payee's Stripe account cannot receive payouts yet; the payment waits for it."
    return ""


def _beneficiary(payment: Payment) -> dict[str, Any]:
    if payment.refund_of:
        return {"refund_payment_intent": payment.refund_of}  # back to the card, not to an account
    profile = PayeeProfile.objects.get(organization_id=payment.payee_id)
    details = dict(cast(dict[str, Any], profile.bank_details))
    if profile.stripe_account_id:
        details["stripe_account"] = profile.stripe_account_id
    return details


def payment_dispatch(*, txn: EscrowTransaction, payment: Payment) -> Payment:
    """Send a blocked or new payment through the rail if nothing forbids it now."""
    if payment.status not in (PaymentStatus.BLOCKED,):
        return payment
    reason = payouts_block_reason(txn) or ("" if payment.refund_of else payee_block_reason(payment.payee_id))
    if reason:
        if payment.blocked_reason != reason:
            payment.blocked_reason = reason
            payment.save(update_fields=["blocked_reason", "updated_at"])
        return payment
    payment.attempts += 1
    if payment.payout_id is None:
        payout = ledger.payout_request(
            idempotency_key=f"{payment.idempotency_key}:1",
            account_id=payee_account(payment.payee_id, payment.currency),
            amount=payment.amount,
            currency=payment.currency,
            beneficiary=_beneficiary(payment),
            # One transfer group per escrow: every payout of a deal can be listed (and looked up) together.
            metadata={"escrow_payment": str(payment.public_id), "transfer_group": f"escrow-{txn.public_id}"},
            rail=settings.PAYMENT_RAIL,
        )
    else:
        payout = ledger.payout_retry(
            payout_id=payment.payout_id,
            idempotency_key=f"{payment.idempotency_key}:{payment.attempts}",
            beneficiary=_beneficiary(payment),
        )
    payment.payout_id = payout.pk
    payment.request()
    payment.save(update_fields=["attempts", "payout_id", "status", "blocked_reason", "failure_reason", "updated_at"])
    audit("escrow.payout_requested", txn, None, payment=str(payment.public_id), amount=str(payment.amount))
    return payment


def _payment_for_payout(metadata: dict[str, Any] | None) -> Payment | None:
    public_id = (metadata or {}).get("escrow_payment")
    if not public_id:
        return None
    txn_id = Payment.objects.filter(public_id=public_id).values_list("transaction_id", flat=True).first()
    if txn_id is None:
        return None
    # The transaction row first, as every other money transaction of the case locks it (a decided
    # verification, a deposit from the rail): they then queue on it instead of crossing at the
    # audit head or the rail's clearing account.
    txn_lock(txn_id)
    return Payment.objects.select_for_update().filter(public_id=public_id).first()


@transaction.atomic
def payment_record_outcome(
    *, payout_id: int, metadata: dict[str, Any] | None, succeeded: bool, reason: str = ""
) -> None:
    """The rail answered (ledger signal): mark the payment paid or failed, and tell the payee."""
    payment = _payment_for_payout(metadata)
    if payment is None or payment.payout_id != payout_id:
        return  # not ours, or an outcome of an older attempt
    if payment.status != PaymentStatus.REQUESTED:
        return
    if succeeded:
        payment.succeed()
    else:
        payment.fail(reason)
    payment.save(update_fields=["status", "failure_reason", "updated_at"])
    PAYMENTS.labels(kind=payment.kind, outcome="succeeded" if succeeded else "failed").inc()
    txn = payment.transaction
    audit(
        "escrow.payout_succeeded" if succeeded else "escrow.payout_failed",
        txn,
        None,
        payment=str(payment.public_id),
        amount=str(payment.amount),
    )
    to = [Recipient.organization(payment.payee_id)]
    if not succeeded:
        to.append(Recipient.user(txn.escrow_officer_id))
    context: dict[str, Any] = {"amount": payment.amount, "currency": payment.currency}
    if not succeeded:
        context["reason"] = payment.failure_reason or "The payee's bank refused the transfer."
    notify(
        "payment_released" if succeeded else "payment_failed",
        txn,
        to=to,
        dedupe=f"{payment.public_id}:{payment.attempts}",
        **context,
    )


@transaction.atomic
def payment_retry(*, payment_id: int, actor: Any = None) -> Payment:
    """Send a failed payout again (a new attempt; the failed one's money came back to the payee account)."""
    payment = Payment.objects.select_for_update().filter(pk=payment_id).first()
    if payment is None:
        raise NotFoundError("No such payment.")
    txn = txn_lock(payment.transaction_id)
    if payment.status != PaymentStatus.FAILED:
        raise ConflictError(
            f"The payment is {payment.status}; only a failed payment can be retried.", code="payment_not_failed"
        )
    payment.retry()
    payment.save(update_fields=["status", "updated_at"])
    payment_dispatch(txn=txn, payment=payment)
    if payment.status == PaymentStatus.BLOCKED:
        raise ConflictError(payment.blocked_reason, code="payouts_blocked")
    audit("escrow.payment_retried", txn, actor, payment=str(payment.public_id), attempt=payment.attempts)
    return payment


def unblock_after_commit(transaction_id: int) -> None:
    """Once committed, a worker pays what this transaction held back; never in the caller's request
    (the unblock sweep catches a hand-over the broker lost)."""
    from transactions.tasks import transaction_unblock_task

    enqueue_on_commit(transaction_unblock_task, transaction_id)


def unblock_all_after_commit() -> None:
    from transactions.tasks import escrow_unblock_sweep

    enqueue_on_commit(escrow_unblock_sweep)


@transaction.atomic
def transaction_unblock(*, transaction_id: int) -> int:
    """Release earned milestones and send blocked payments once nothing forbids it; returns how many moved."""
    txn = txn_lock(transaction_id)
    if payouts_block_reason(txn):
        return 0
    moved = 0
    for milestone in txn.milestones.select_for_update().filter(status=MilestoneStatus.EARNED):
        moved += int(milestone_release(txn=txn, milestone=milestone))
    for payment in txn.payments.select_for_update().filter(status=PaymentStatus.BLOCKED):
        moved += int(payment_dispatch(txn=txn, payment=payment).status == PaymentStatus.REQUESTED)
    return moved


def transactions_unblock_all() -> int:
    """Periodic: retry everything that waited for a pause, a dispute or a cooling-off to end."""
    ids = set(Payment.objects.filter(status=PaymentStatus.BLOCKED).values_list("transaction_id", flat=True))
    ids |= set(Milestone.objects.filter(status=MilestoneStatus.EARNED).values_list("transaction_id", flat=True))
    return sum(transaction_unblock(transaction_id=i) for i in sorted(ids))


def _refundable_payments_in(txn: EscrowTransaction) -> list[tuple[str, Decimal]]:
    """The buyer's payments in that the rail confirmed, latest first, with what is left to refund."""
    from django.db.models import Sum

    deposits = list(
        txn.deposits.filter(kind__in=[DepositKind.EARNEST, DepositKind.CLOSING_FUNDS], rail=settings.PAYMENT_RAIL)
        .exclude(provider_reference="")
        .order_by("-id")
    )
    confirmed = ledger_selectors.rail_payments_succeeded(
        rail=settings.PAYMENT_RAIL, references=[d.provider_reference for d in deposits]
    )
    refunded = dict(
        Payment.objects.filter(transaction=txn, refund_of__in=confirmed)
        .values("refund_of")
        .annotate(total=Sum("amount"))
        .values_list("refund_of", "total")
    )
    left = [(d.provider_reference, d.amount - refunded.get(d.provider_reference, Decimal(0))) for d in deposits]
    return [(reference, amount) for reference, amount in left if reference in confirmed and amount > 0]


def _to_the_buyer_where_it_came_from(
    txn: EscrowTransaction, shares: list[tuple[int, str, Decimal]]
) -> list[tuple[int, str, Decimal, str]]:
    """Money for the buyer goes back to the card payments it came from (one refund each, latest
    first); only what no rail payment can take back is paid out to the buyer's account."""
    sources = _refundable_payments_in(txn)
    out: list[tuple[int, str, Decimal, str]] = []
    for payee, label, amount in shares:
        if payee != txn.buyer_id:
            out.append((payee, label, amount, ""))
            continue
        while amount > 0 and sources:
            reference, left = sources[0]
            part = min(amount, left)
            out.append((payee, label, part, reference))
            amount -= part
            sources[0] = (reference, left - part)
            if sources[0][1] <= 0:
                sources.pop(0)
        if amount > 0:
            out.append((payee, label, amount, ""))
    return out


def wallet_distribute(txn: EscrowTransaction, shares: list[tuple[int, str, Decimal]], purpose: str) -> list[Payment]:
    """Move wallet money to payee accounts (one all-or-nothing batch) and pay each out."""
    from ledger.types import TransferOp

    wallet = wallet_open(txn)
    shares = [(payee, label, amount) for payee, label, amount in shares if amount > 0]
    if not shares:
        return []
    paid = _to_the_buyer_where_it_came_from(txn, shares)
    operations = [
        TransferOp(
            debit_account_id=wallet,
            credit_account_id=payee_account(payee, txn.currency),
            amount=amount,
            currency=txn.currency,
            description=f"{label}, {txn.reference}",
            metadata={"escrow": str(txn.public_id)},
        )
        for payee, label, amount in shares
    ]
    ledger.batch_execute(idempotency_key=key(txn, purpose), operations=operations)
    kind = {"settlement": PaymentKind.SETTLEMENT, "dispute": PaymentKind.DISPUTE}.get(purpose, PaymentKind.REFUND)
    payments = [
        payment_create(
            txn=txn,
            kind=kind,
            payee_id=payee,
            amount=amount,
            label=label,
            idem=key(txn, purpose, index, "payout"),
            refund_of=refund_of,
        )
        for index, (payee, label, amount, refund_of) in enumerate(paid)
    ]
    logger.info("escrow_wallet_distributed", transaction=str(txn.public_id), purpose=purpose, count=len(shares))
    return payments


def verification_agent_of(txn: EscrowTransaction, verification_type: str) -> int | None:
    if txn.workflow_id is None:
        return None
    task = (
        verification_selectors.workflow_tasks(workflow_id=txn.workflow_id)
        .filter(verification_type=verification_type)
        .first()
    )
    return task.agent_id if task else None


def cooling_off_until() -> Any:
    return timezone.now() + timedelta(seconds=settings.ESCROW_BANK_DETAILS_COOLING_OFF_SECONDS)


__all__ = [
    "deposit_receive",
    "milestone_earn",
    "payment_retry",
    "transaction_unblock",
    "transactions_unblock_all",
    "transitioned",
    "verification_services",
]
