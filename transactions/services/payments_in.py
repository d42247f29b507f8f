"""Money in for an escrow through the payment rail: the payer pays at the rail, the rail confirms.

A party never records its own deposit (docs/decisions/0502): it asks for a payment here, completes
it at the rail (Stripe: confirms the PaymentIntent with its card), and the deposit is recorded when
the rail says it succeeded (`rail_payment_succeeded`, from a verified webhook or retrieve). The
amount is the one due, computed here, never the payer's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings

from escrow_project.common.errors import ConflictError, PermissionDeniedError, UnprocessableError
from identity.selectors import organization_ids_for_user, user_is_operator
from ledger import services as ledger
from ledger.models import RailPayment
from transactions.models import Deposit, DepositKind, EscrowTransaction
from transactions.services._common import SUBJECT_TYPE, audit, key
from transactions.states import EscrowStatus


def amount_due(txn: EscrowTransaction, kind: str) -> Decimal:
    """What a deposit of `kind` must be now, or why none is due."""
    from transactions.services.settlement import statement_for

    if kind not in DepositKind.values:
        raise UnprocessableError(f"Unknown deposit kind {kind!r}.", code="invalid_deposit_kind")
    if Deposit.objects.filter(transaction=txn, kind=kind).exists():
        raise ConflictError(f"The {kind} deposit was already received.", code="deposit_already_received")
    if kind == DepositKind.EARNEST:
        if txn.status != EscrowStatus.AWAITING_EARNEST_MONEY:
            raise ConflictError(
                f"The transaction is {txn.status}; it does not await earnest money.", code="invalid_transition"
            )
        return txn.earnest_money
    if txn.status not in (EscrowStatus.VERIFYING, EscrowStatus.CLEAR_TO_CLOSE, EscrowStatus.NEEDS_DECISION):
        raise ConflictError(f"The transaction is {txn.status}; it takes no {kind} now.", code="invalid_transition")
    if kind == DepositKind.LOAN:
        if txn.loan_amount <= 0:
            raise ConflictError("This purchase has no loan.", code="no_loan")
        return txn.loan_amount
    due = statement_for(txn).cash_from_buyer
    if due <= 0:
        raise ConflictError("The buyer owes nothing more at closing.", code="nothing_due")
    return due


def _payer_check(user: Any, txn: EscrowTransaction, kind: str) -> None:
    if user is None or user_is_operator(user) or txn.escrow_officer_id == getattr(user, "pk", None):
        return
    payer = txn.lender_id if kind == DepositKind.LOAN else txn.buyer_id
    if payer not in organization_ids_for_user(user):
        raise PermissionDeniedError(
            "Only the paying party (the buyer, or the lender for the loan), the escrow officer or an operator "
            "asks for this payment.",
            code="not_the_payer",
        )


def payment_in_start(*, transaction_id: int, kind: str, actor: Any) -> tuple[RailPayment, str]:
    """Open the payment of what is due at the rail; returns it and the client secret the payer pays with.

    No row lock is held while the rail is called; asking twice gives the same payment.
    """
    txn = EscrowTransaction.objects.get(pk=transaction_id)
    _payer_check(actor, txn, kind)
    due = amount_due(txn, kind)
    payment, client_secret = ledger.rail_payment_start(
        rail=settings.PAYMENT_RAIL,
        idempotency_key=key(txn, "payment-in", kind, due),
        amount=due,
        currency=txn.currency,
        subject_type=SUBJECT_TYPE,
        subject_id=str(txn.public_id),
        purpose=kind,
    )
    return payment, client_secret


def deposit_from_rail(*, payment: RailPayment) -> None:
    """The rail confirmed a payment in: record it as the deposit it was asked for."""
    from transactions.services.funds import deposit_receive  # funds imports amount_due from here

    txn = EscrowTransaction.objects.filter(public_id=payment.subject_id).first()
    if txn is None:
        raise ConflictError("The escrow transaction of this payment does not exist.", code="unknown_subject")
    deposit_receive(
        transaction_id=txn.pk,
        kind=payment.purpose,
        amount=payment.amount,
        actor=None,
        provider_reference=payment.reference,
        rail=payment.rail,
    )
    audit(
        "escrow.payment_in_confirmed",
        txn,
        None,
        kind=payment.purpose,
        rail=payment.rail,
        payment=str(payment.public_id),
    )
