"""Settlement: the statement, multi-signature approval with a time lock, and one all-or-nothing batch."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from escrow_project.common.errors import ConflictError, PermissionDeniedError, UnprocessableError
from escrow_project.common.fsm import transition_run
from identity.selectors import user_is_operator
from transactions.models import (
    DepositKind,
    EscrowTransaction,
    MilestoneStatus,
    SettlementApproval,
    SettlementStatement,
    SettlementStatus,
)
from transactions.services import funds
from transactions.services._common import (
    CYCLE_TIME,
    audit,
    notify,
    payouts_block_reason,
    require_officer_or_operator,
    transitioned,
    txn_lock,
)
from transactions.settlement import CostInput, Statement, StatementInput, statement_check_executable, statement_compute
from transactions.states import EscrowStatus


def statement_for(txn: EscrowTransaction) -> Statement:
    deposits = {d.kind: d.amount for d in txn.deposits.all()}
    return statement_compute(
        StatementInput(
            currency=txn.currency,
            purchase_price=txn.purchase_price,
            earnest_money=txn.earnest_money,
            loan_amount=txn.loan_amount,
            closing_date=txn.closing_date,
            buyer_id=txn.buyer_id,
            seller_id=txn.seller_id,
            buyer_agent_id=txn.buyer_agent_id,
            seller_agent_id=txn.seller_agent_id,
            buyer_agent_commission_pct=txn.buyer_agent_commission_pct,
            seller_agent_commission_pct=txn.seller_agent_commission_pct,
            annual_property_tax=txn.annual_property_tax,
            milestones_paid=[
                (m.get_verification_type_display() + " fee", m.amount)
                for m in txn.milestones.filter(status=MilestoneStatus.RELEASED)
            ],
            closing_costs=[CostInput(c.description, c.paid_by, c.payee_id, c.amount) for c in txn.closing_costs.all()],
            closing_funds_received=deposits.get(DepositKind.CLOSING_FUNDS, Decimal(0)),
        )
    )


def settlement_prepare(*, txn: EscrowTransaction) -> SettlementStatement:
    """Draft (or refresh) the statement; large settlements need approvals."""
    computed = statement_for(txn)
    row, _ = SettlementStatement.objects.select_for_update().get_or_create(transaction=txn)
    if row.status == SettlementStatus.EXECUTED:
        return row
    row.statement = computed.as_json()
    row.total_disbursed = computed.total_disbursed
    row.computed_at = timezone.now()
    needs = txn.purchase_price > Decimal(settings.ESCROW_APPROVAL_THRESHOLD)
    row.approvals_required = settings.ESCROW_APPROVALS_REQUIRED if needs else 0
    if row.status == SettlementStatus.DRAFT and needs:
        row.ask_approval()
    row.save()
    return row


@transaction.atomic
def settlement_refresh(*, transaction_id: int) -> SettlementStatement:
    """Recompute the statement with the deposits received so far."""
    txn = txn_lock(transaction_id)
    if txn.status not in (EscrowStatus.CLEAR_TO_CLOSE, EscrowStatus.SETTLED):
        raise ConflictError("The settlement statement exists from clear to close on.", code="not_clear_to_close")
    return settlement_prepare(txn=txn)


@transaction.atomic
def settlement_approve(*, transaction_id: int, operator: Any) -> SettlementStatement:
    """One operator's signature; after K distinct ones the time lock starts."""
    txn = txn_lock(transaction_id)
    if not user_is_operator(operator):
        raise PermissionDeniedError("Only operators approve settlements.")
    if txn.status != EscrowStatus.CLEAR_TO_CLOSE:
        raise ConflictError("Only a transaction that is clear to close can be approved.", code="not_clear_to_close")
    row = settlement_prepare(txn=txn)
    if row.approvals_required == 0:
        raise ConflictError("This settlement is below the approval threshold.", code="approval_not_required")
    if row.status != SettlementStatus.AWAITING_APPROVAL:
        raise ConflictError("The settlement has all the approvals it needs.", code="already_approved")
    try:
        with transaction.atomic():
            SettlementApproval.objects.create(statement=row, operator=operator)
    except IntegrityError:
        raise ConflictError(
            "You already approved this settlement; another operator must.", code="approval_duplicate"
        ) from None
    count = row.approvals.count()
    if count >= row.approvals_required:
        row.approve(lock_seconds=settings.ESCROW_TIME_LOCK_SECONDS)
        row.save(update_fields=["status", "approved_at", "unlock_at"])
    audit("escrow.settlement_approved", txn, operator, approvals=count, required=row.approvals_required)
    return row


@transaction.atomic
def settlement_execute(*, transaction_id: int, actor: Any) -> SettlementStatement:
    """Disburse per the statement in one ledger batch: every payee gets its share, or nothing moves."""
    txn = txn_lock(transaction_id)
    require_officer_or_operator(actor, txn, "execute the settlement")
    if txn.status == EscrowStatus.SETTLED:
        raise ConflictError("The transaction is already settled.", code="already_settled")
    if txn.status != EscrowStatus.CLEAR_TO_CLOSE:
        raise ConflictError(
            f"Settlement needs clear to close; the transaction is {txn.get_status_display().lower()}.",
            code="not_clear_to_close",
        )
    blocked = payouts_block_reason(txn)
    if blocked:
        raise ConflictError(blocked, code="payouts_paused")
    if txn.loan_amount > 0 and not txn.deposits.filter(kind=DepositKind.LOAN).exists():
        raise ConflictError("The loan funds have not arrived.", code="loan_not_funded")
    if txn.milestones.exclude(status__in=[MilestoneStatus.RELEASED, MilestoneStatus.VOIDED]).exists():
        raise ConflictError("A milestone is not released yet.", code="milestones_pending")
    row = settlement_prepare(txn=txn)
    if row.approvals_required:
        if row.status == SettlementStatus.AWAITING_APPROVAL:
            raise ConflictError(
                f"The settlement needs {row.approvals_required} operator approvals; it has {row.approvals.count()}.",
                code="approvals_missing",
            )
        if row.unlock_at and row.unlock_at > timezone.now():
            raise ConflictError(f"The time lock runs until {row.unlock_at:%Y-%m-%d %H:%M:%S} UTC.", code="time_locked")
    computed = statement_for(txn)
    statement_check_executable(computed)
    if computed.total_disbursed != funds.wallet_available(txn):
        raise UnprocessableError(
            "The escrow wallet does not hold exactly what the statement disburses.", code="wallet_mismatch"
        )
    transition_run(txn, "start_settlement")
    txn.save()
    funds.wallet_distribute(txn, [(d.payee_id, d.label, d.amount) for d in computed.disbursements], "settlement")
    transition_run(txn, "complete_settlement")
    txn.save()
    transitioned(txn)
    row.statement = computed.as_json()
    row.total_disbursed = computed.total_disbursed
    row.execute(by=actor if getattr(actor, "is_authenticated", False) else None)
    row.save()
    CYCLE_TIME.observe((timezone.now() - txn.created_at).total_seconds())
    audit("escrow.settled", txn, actor, total=str(computed.total_disbursed))
    notify("settlement_completed", txn, dedupe="settled")
    return row
