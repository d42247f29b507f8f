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
from django.db import transaction

from escrow_project.common.errors import ConflictError, PermissionDeniedError, UnprocessableError
from escrow_project.common.four_eyes import decision_record, second_person_check
from identity.models import Role
from identity.selectors import organization_ids_for_user, user_has_role, user_is_operator
from ledger import services as ledger
from ledger.models import RailPayment
from transactions.models import Deposit, DepositKind, EscrowTransaction, ManualDeposit, ManualDepositStatus
from transactions.services._common import SUBJECT_TYPE, audit, key, txn_lock
from transactions.services.parties import deposit_recorder_check
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


def deposit_amount_check(txn: EscrowTransaction, kind: str, value: Decimal) -> None:
    """Earnest money and loan funds are exact; cash to close may differ (the excess is refunded)."""
    due = amount_due(txn, kind)
    if kind != DepositKind.CLOSING_FUNDS and value != due:
        raise UnprocessableError(f"The {kind} deposit must be exactly {due} {txn.currency}.", code="amount_mismatch")


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


# --- wires received outside the rail, entered by hand ------------------------------------------


def _is_escrow_staff(user: Any, txn: EscrowTransaction) -> bool:
    """A platform operator, or an escrow officer of the escrow company that holds this escrow."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user_is_operator(user) or txn.escrow_officer_id == user.pk:
        return True
    return user_has_role(user, Role.ESCROW_OFFICER) and txn.escrow_company_id in organization_ids_for_user(user)


def manual_deposit_record(
    *, transaction_id: int, kind: str, amount: Any, actor: Any, provider_reference: str = ""
) -> tuple[Deposit | None, ManualDeposit | None]:
    """A wire that arrived outside the rail. Up to the threshold it is recorded at once; above it, it
    waits for a second person (`manual_deposit_confirm`). Returns (deposit, None) or (None, pending)."""
    from transactions.services.funds import clean_amount, deposit_receive

    with transaction.atomic():
        txn = txn_lock(transaction_id)
        deposit_recorder_check(actor, escrow_officer_id=txn.escrow_officer_id)
        value = clean_amount(amount, txn.currency)
        deposit_amount_check(txn, kind, value)
        if value <= Decimal(settings.ESCROW_MANUAL_DEPOSIT_CONFIRM_ABOVE):
            deposit = deposit_receive(
                transaction_id=txn.pk,
                kind=kind,
                amount=value,
                actor=actor,
                provider_reference=provider_reference,
                rail=settings.PAYMENT_RAIL,
            )
            return deposit, None
        if ManualDeposit.objects.filter(transaction=txn, kind=kind, status=ManualDepositStatus.PENDING).exists():
            raise ConflictError(
                f"A {kind} wire already waits for confirmation; confirm or reject it first.",
                code="manual_deposit_pending",
            )
        pending = ManualDeposit.objects.create(
            transaction=txn, kind=kind, amount=value, provider_reference=provider_reference, recorded_by=actor
        )
        audit(
            "escrow.manual_deposit_recorded",
            txn,
            actor,
            kind=kind,
            amount=str(value),
            currency=txn.currency,
            manual_deposit=str(pending.public_id),
            needs="a second person's confirmation",
        )
    return None, pending


def _pending_wire(manual_deposit_id: int, actor: Any) -> ManualDeposit:
    wire = ManualDeposit.objects.select_for_update().select_related("transaction").get(pk=manual_deposit_id)
    if not _is_escrow_staff(actor, wire.transaction):
        raise PermissionDeniedError(
            "Only an operator or an escrow officer of this escrow company confirms a wire.",
            code="deposit_not_allowed",
        )
    second_person_check(row=wire, first_person=wire.recorded_by_id, actor=actor.pk, closed_code="manual_deposit_closed")
    return wire


@transaction.atomic
def manual_deposit_confirm(*, manual_deposit_id: int, actor: Any) -> Deposit:
    """The second person confirms the wire: now it is a deposit in the wallet."""
    from transactions.services.funds import deposit_receive

    wire = _pending_wire(manual_deposit_id, actor)
    decision_record(wire, status=ManualDepositStatus.CONFIRMED, actor=actor)
    audit(
        "escrow.manual_deposit_confirmed",
        wire.transaction,
        actor,
        manual_deposit=str(wire.public_id),
        recorded_by=str(wire.recorded_by_id),
    )
    return deposit_receive(  # the four eyes were checked above: this is now the money's arrival
        transaction_id=wire.transaction_id,
        kind=wire.kind,
        amount=wire.amount,
        actor=None,
        provider_reference=wire.provider_reference,
        rail=settings.PAYMENT_RAIL,
    )


@transaction.atomic
def manual_deposit_reject(*, manual_deposit_id: int, actor: Any, reason: str) -> ManualDeposit:
    """The second person refuses the wire (not found on the statement, wrong amount): nothing moves."""
    wire = _pending_wire(manual_deposit_id, actor)
    decision_record(wire, status=ManualDepositStatus.REJECTED, actor=actor, reason=reason)
    audit("escrow.manual_deposit_rejected", wire.transaction, actor, manual_deposit=str(wire.public_id), reason=reason)
    return wire
