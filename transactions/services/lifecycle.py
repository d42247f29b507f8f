"""Creating, opening, verifying and cancelling escrow transactions; the parties' decisions."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from escrow_project.common import amounts
from escrow_project.common.errors import ConflictError, PermissionDeniedError, UnprocessableError
from escrow_project.common.fsm import transition_run
from escrow_project.common.money import MINOR_UNITS, quantize
from identity.models import Organization
from identity.selectors import user_is_operator
from notifications.services import send_escalation_alert
from notifications.types import Recipient
from transactions.models import ClosingCost, DepositKind, EscrowTransaction, Milestone, MilestoneStatus
from transactions.services import funds, parties
from transactions.services._common import (
    SUBJECT_TYPE,
    audit,
    key,
    live,
    notify,
    payouts_block_reason,
    require_officer_or_operator,
    require_party,
    transitioned,
    txn_lock,
)
from transactions.states import EscrowStatus
from verifications import selectors as verification_selectors
from verifications import services as verification_services
from verifications.states import TaskStatus, VerificationType

UPDATABLE_FIELDS = {
    EscrowStatus.DRAFT: {
        "property_address",
        "purchase_price",
        "earnest_money",
        "loan_amount",
        "closing_date",
        "buyer_agent_commission_pct",
        "seller_agent_commission_pct",
        "annual_property_tax",
    },
    EscrowStatus.AWAITING_EARNEST_MONEY: {"property_address", "closing_date", "annual_property_tax"},
    EscrowStatus.VERIFYING: {"closing_date", "annual_property_tax"},
    EscrowStatus.CLEAR_TO_CLOSE: {"closing_date", "annual_property_tax"},
}


def _pct(value: Any, what: str) -> Decimal:
    return amounts.clean_decimal(value, field=what, places=4, minimum=Decimal(0), maximum=Decimal(10))


def _check_terms(price: Decimal, earnest: Decimal, loan: Decimal) -> None:
    if earnest > price:
        raise UnprocessableError("The earnest money cannot exceed the purchase price.", code="invalid_amount")
    if loan >= price:
        raise UnprocessableError("The loan must be smaller than the purchase price.", code="invalid_amount")


@transaction.atomic
def escrow_create(
    *,
    created_by: Any,
    property_address: str,
    purchase_price: Any,
    earnest_money: Any,
    closing_date: datetime.date,
    buyer: Organization,
    seller: Organization,
    escrow_company: Organization,
    escrow_officer: Any,
    currency: str = "USD",
    loan_amount: Any = "0",
    buyer_agent: Organization | None = None,
    seller_agent: Organization | None = None,
    lender: Organization | None = None,
    buyer_agent_commission_pct: Any = "0",
    seller_agent_commission_pct: Any = "0",
    annual_property_tax: Any = "0",
    milestone_amounts: dict[str, Any] | None = None,
    agents: dict[str, Organization] | None = None,
    closing_costs: list[dict[str, Any]] | None = None,
) -> EscrowTransaction:
    """Create a draft escrow transaction with its milestones and its verification workflow."""
    if currency not in MINOR_UNITS:
        raise UnprocessableError(f"Unsupported currency {currency!r}.", code="invalid_currency")
    price = funds.clean_amount(purchase_price, currency, what="purchase_price")
    earnest = funds.clean_amount(earnest_money, currency, what="earnest_money")
    loan = funds.clean_amount(loan_amount, currency, what="loan_amount", allow_zero=True)
    _check_terms(price, earnest, loan)
    if buyer.pk == seller.pk:
        raise UnprocessableError("The buyer and the seller must be different parties.", code="invalid_parties")
    if loan > 0 and lender is None:
        raise UnprocessableError("A purchase with a loan needs a lender.", code="lender_required")
    if created_by is not None and not (
        user_is_operator(created_by) or getattr(created_by, "pk", None) == getattr(escrow_officer, "pk", None)
    ):
        raise PermissionDeniedError("Only an operator or the escrow officer may open an escrow transaction.")
    parties.escrow_parties_check(
        escrow_company=escrow_company,
        escrow_officer=escrow_officer,
        parties={
            "buyer": buyer,
            "seller": seller,
            "buyer_agent": buyer_agent,
            "seller_agent": seller_agent,
            "lender": lender,
        },
        closing_cost_payees=[c["payee"] for c in closing_costs or [] if isinstance(c.get("payee"), Organization)],
    )
    types = [VerificationType.TITLE, VerificationType.INSPECTION, VerificationType.APPRAISAL]
    if loan > 0:
        types.append(VerificationType.LENDING)  # a cash purchase has nothing for a lender to verify
    amounts = {**settings.ESCROW_MILESTONE_DEFAULTS, **(milestone_amounts or {})}
    unknown = set(milestone_amounts or {}) - set(VerificationType.values)
    if unknown:
        raise UnprocessableError(f"Unknown milestone types: {', '.join(sorted(unknown))}.", code="unknown_type")
    chosen: dict[str, Organization | None] = {}
    for kind in types:
        agent = (agents or {}).get(kind)
        if (
            agent is None
            and kind == VerificationType.LENDING
            and lender is not None
            and verification_selectors.agent_profile_for(organization_id=lender.pk, verification_type=kind)
        ):
            agent = lender
        if agent is None:
            profile = verification_selectors.agent_default_for(verification_type=kind)
            agent = profile.organization if profile else None
        elif verification_selectors.agent_profile_for(organization_id=agent.pk, verification_type=kind) is None:
            raise UnprocessableError(f"{agent} is not an active {kind} agent.", code="agent_not_qualified")
        if agent is None:
            raise UnprocessableError(f"No {kind} agent is available.", code="agent_missing")
        chosen[kind] = agent
    txn = EscrowTransaction.objects.create(
        reference=f"ESC-{timezone.now():%Y%m%d}-{timezone.now():%H%M%S%f}",
        property_address=property_address.strip(),
        currency=currency,
        purchase_price=price,
        earnest_money=earnest,
        loan_amount=loan,
        closing_date=closing_date,
        buyer=buyer,
        seller=seller,
        buyer_agent=buyer_agent,
        seller_agent=seller_agent,
        lender=lender,
        escrow_company=escrow_company,
        escrow_officer=escrow_officer,
        buyer_agent_commission_pct=_pct(buyer_agent_commission_pct, "buyer_agent_commission_pct"),
        seller_agent_commission_pct=_pct(seller_agent_commission_pct, "seller_agent_commission_pct"),
        annual_property_tax=funds.clean_amount(
            annual_property_tax, currency, what="annual_property_tax", allow_zero=True
        ),
        created_by=created_by or escrow_officer,
    )
    txn.reference = f"ESC-{timezone.now():%Y}-{txn.pk:06d}"
    txn.save(update_fields=["reference"])
    for kind in types:
        Milestone.objects.create(
            transaction=txn,
            verification_type=kind,
            amount=funds.clean_amount(amounts[kind], currency, what=f"milestone_amounts.{kind}", allow_zero=True),
            payee=chosen[kind],
        )
    for cost in closing_costs or []:
        if cost.get("paid_by") not in ("buyer", "seller"):
            raise UnprocessableError("A closing cost is paid by the buyer or the seller.", code="invalid_closing_cost")
        ClosingCost.objects.create(
            transaction=txn,
            description=str(cost["description"])[:200],
            paid_by=cost["paid_by"],
            payee=cost["payee"],
            amount=funds.clean_amount(cost["amount"], currency, what="closing_costs.amount"),
        )
    workflow = verification_services.workflow_create(
        subject_type=SUBJECT_TYPE,
        subject_id=str(txn.public_id),
        context={
            "reference": txn.reference,
            "property_address": txn.property_address,
            "purchase_price": str(price),
            "loan_amount": str(loan),
            "currency": currency,
            "closing_date": closing_date.isoformat(),
        },
        agents=chosen,
    )
    txn.workflow = workflow
    txn.save(update_fields=["workflow"])
    audit("escrow.created", txn, created_by, price=str(price), currency=currency)
    transitioned(txn)
    return txn


@transaction.atomic
def escrow_update(*, transaction_id: int, actor: Any, changes: dict[str, Any]) -> EscrowTransaction:
    """Change terms the current state still allows to change."""
    txn = txn_lock(transaction_id)
    require_officer_or_operator(actor, txn, "change the terms")
    allowed = UPDATABLE_FIELDS.get(txn.status, set())
    refused = sorted(set(changes) - allowed)
    if refused:
        raise ConflictError(
            f"While {txn.status}, these terms can no longer change: {', '.join(refused)}.", code="terms_locked"
        )
    for name, value in changes.items():
        if name in ("purchase_price", "earnest_money", "annual_property_tax"):
            value = funds.clean_amount(value, txn.currency, what=name, allow_zero=name == "annual_property_tax")
        elif name == "loan_amount":
            value = funds.clean_amount(value, txn.currency, what=name, allow_zero=True)
        elif name.endswith("_pct"):
            value = _pct(value, name)
        setattr(txn, name, value)
    _check_terms(txn.purchase_price, txn.earnest_money, txn.loan_amount)
    txn.save()
    audit("escrow.updated", txn, actor, fields=sorted(changes))
    return txn


@transaction.atomic
def escrow_open(*, transaction_id: int, actor: Any) -> EscrowTransaction:
    """Open the escrow: the wallet exists and the buyer is asked for the earnest money."""
    txn = txn_lock(transaction_id)
    require_officer_or_operator(actor, txn, "open the escrow")
    transition_run(txn, "open")
    txn.save()
    funds.wallet_open(txn)
    funds.system_accounts_ensure(txn.currency)
    audit("escrow.opened", txn, actor)
    notify("transaction_initiated", txn, amount=txn.earnest_money, currency=txn.currency, dedupe="opened")
    transitioned(txn)
    return txn


def escrow_funded(*, txn: EscrowTransaction, actor: Any) -> None:
    """Earnest money arrived (called inside deposit_receive): hold milestones, start verifications."""
    transition_run(txn, "fund")
    txn.save()
    transitioned(txn)
    audit("escrow.funded", txn, actor, amount=str(txn.earnest_money))
    funds.milestones_hold(txn)
    transition_run(txn, "begin_verification")
    txn.save()
    transitioned(txn)
    audit("escrow.verification_started", txn, actor)
    verification_services.workflow_advance(workflow_id=txn.workflow_id)  # type: ignore[arg-type]


# --- news from verifications (called by handlers) --------------------------------------------


def _txn_for_subject(subject_type: str, subject_id: str) -> EscrowTransaction | None:
    if subject_type != SUBJECT_TYPE:
        return None
    found = EscrowTransaction.objects.filter(public_id=subject_id).values_list("pk", flat=True).first()
    return txn_lock(found) if found else None


@transaction.atomic
def escrow_verification_decided(
    *, subject_type: str, subject_id: str, verification_type: str, outcome: str, task_id: int
) -> None:
    """A task was decided: pay its milestone when verified, or ask the parties to decide."""
    txn = _txn_for_subject(subject_type, subject_id)
    if txn is None:
        return
    if outcome == "verified":
        task_agent = verification_selectors.workflow_tasks(workflow_id=txn.workflow_id).get(pk=task_id).agent_id  # type: ignore[arg-type]
        audit("escrow.verification_verified", txn, None, verification=verification_type)
        notify("verification_completed", txn, verification_type=verification_type, dedupe=f"{task_id}:verified")
        funds.milestone_earn(transaction_id=txn.pk, verification_type=verification_type, agent_id=task_agent)
        return
    audit("escrow.verification_" + outcome, txn, None, verification=verification_type)
    notify(
        "verification_failed",
        txn,
        verification_type=verification_type,
        reason=f"The {verification_type} verification was {outcome}; the parties must decide.",
    )
    if txn.status == EscrowStatus.VERIFYING:
        transition_run(txn, "need_decision")
        txn.save()
        transitioned(txn)


@transaction.atomic
def escrow_verifications_passed(*, subject_type: str, subject_id: str) -> None:
    """Every verification passed: clear to close, and the settlement statement is drafted."""
    from transactions.services.settlement import settlement_prepare

    txn = _txn_for_subject(subject_type, subject_id)
    if txn is None or txn.status != EscrowStatus.VERIFYING:
        return
    transition_run(txn, "clear")
    txn.save()
    transitioned(txn)
    audit("escrow.clear_to_close", txn, None)
    settlement_prepare(txn=txn)


@transaction.atomic
def escrow_verification_overdue(
    *, subject_type: str, subject_id: str, verification_type: str, level: int, task_id: int
) -> None:
    """Escalate an overdue verification: the escrow officer, then the operators; then news of a reassignment."""
    txn = _txn_for_subject(subject_type, subject_id)
    if txn is None:
        return
    audit("escrow.verification_overdue", txn, None, verification=verification_type, level=level)
    task = verification_selectors.workflow_tasks(workflow_id=txn.workflow_id).get(pk=task_id)  # type: ignore[arg-type]
    context = {"reference": txn.reference, "verification_type": verification_type, "due_date": task.deadline}
    if level == 3:
        # Reassigned automatically: the new agent was told by verifications; the officer learns who.
        notify(
            "verification_assigned",
            txn,
            to=[Recipient.user(txn.escrow_officer_id)],
            dedupe=f"{task_id}:{task.attempt}:reassigned",
            reference=txn.reference,
            verification_type=verification_type,
            due_date=task.deadline,
        )
    elif level == 1:
        notify(
            "verification_overdue",
            txn,
            to=[Recipient.user(txn.escrow_officer_id)],
            dedupe=f"{task_id}:{task.attempt}:1",
            **context,
        )
    else:
        send_escalation_alert(
            kind="verification_overdue",
            context=context,
            subject_type=SUBJECT_TYPE,
            subject_id=str(txn.public_id),
            dedupe_key=f"escrow:{txn.pk}:overdue:{task_id}:{task.attempt}:2",
        )


# --- the parties' decisions after a rejection ------------------------------------------------


def _task_of(txn: EscrowTransaction, verification_type: str) -> Any:
    task = (
        verification_selectors.workflow_tasks(workflow_id=txn.workflow_id)  # type: ignore[arg-type]
        .filter(verification_type=verification_type)
        .first()
    )
    if task is None:
        raise UnprocessableError(f"This transaction has no {verification_type} verification.", code="unknown_type")
    return task


def _resume(txn: EscrowTransaction) -> None:
    if txn.status == EscrowStatus.NEEDS_DECISION:
        transition_run(txn, "resume_verification")
        txn.save()
        transitioned(txn)


@transaction.atomic
def escrow_waive(*, transaction_id: int, verification_type: str, actor: Any) -> EscrowTransaction:
    """The buyer (or the officer for them) accepts a rejected report and goes on."""
    txn = txn_lock(transaction_id)
    require_party(actor, txn)
    if actor is not None and not (
        user_is_operator(actor) or txn.escrow_officer_id == actor.pk or txn.buyer_id in _orgs(actor)
    ):
        raise PermissionDeniedError("Only the buyer or the escrow officer may waive a verification.")
    if txn.status != EscrowStatus.NEEDS_DECISION:
        raise ConflictError("There is no rejected verification waiting for a decision.", code="invalid_transition")
    task = _task_of(txn, verification_type)
    if task.status != TaskStatus.REJECTED:
        raise ConflictError(
            f"The {verification_type} verification is {task.status}, not rejected.", code="invalid_transition"
        )
    _resume(txn)
    audit("escrow.verification_waived", txn, actor, verification=verification_type)
    verification_services.task_waive(task_id=task.pk)
    return txn


@transaction.atomic
def escrow_renegotiate(
    *, transaction_id: int, actor: Any, purchase_price: Any, redo: str | None = None
) -> EscrowTransaction:
    """The parties agreed a new price; the rejected verification (e.g. appraisal) is redone against it."""
    txn = txn_lock(transaction_id)
    require_officer_or_operator(actor, txn, "record a renegotiation")
    if txn.status != EscrowStatus.NEEDS_DECISION:
        raise ConflictError("Renegotiation follows a rejected verification.", code="invalid_transition")
    price = funds.clean_amount(purchase_price, txn.currency, what="purchase_price")
    _check_terms(price, txn.earnest_money, txn.loan_amount)
    old = txn.purchase_price
    txn.purchase_price = price
    _resume(txn)
    txn.save()
    verification_services.workflow_context_update(
        workflow_id=txn.workflow_id,  # type: ignore[arg-type]
        changes={"purchase_price": str(price)},
    )
    audit("escrow.renegotiated", txn, actor, old_price=str(old), new_price=str(price))
    rejected = [
        t
        for t in verification_selectors.workflow_tasks(workflow_id=txn.workflow_id)  # type: ignore[arg-type]
        if t.status in (TaskStatus.REJECTED, TaskStatus.FAILED) and (redo is None or t.verification_type == redo)
    ]
    for task in rejected:
        verification_services.task_reassign(task_id=task.pk)
    return txn


@transaction.atomic
def escrow_task_reassign(
    *, transaction_id: int, verification_type: str, actor: Any, agent: Organization | None = None
) -> EscrowTransaction:
    """Give a verification to another agent (overdue, failed or rejected), with a fresh deadline."""
    txn = txn_lock(transaction_id)
    require_officer_or_operator(actor, txn, "reassign a verification")
    if txn.status not in (EscrowStatus.VERIFYING, EscrowStatus.NEEDS_DECISION):
        raise ConflictError(f"The transaction is {txn.status}; nothing to reassign.", code="invalid_transition")
    task = _task_of(txn, verification_type)
    verification_services.task_reassign(task_id=task.pk, agent=agent)
    _resume_if_unblocked(txn)
    audit(
        "escrow.verification_reassigned", txn, actor, verification=verification_type, agent=getattr(agent, "pk", None)
    )
    return txn


def escrow_catch_up(txn: EscrowTransaction) -> None:
    """News that arrived while disputed applies once the transaction is back in verification."""
    from transactions.services.settlement import settlement_prepare

    if txn.status != EscrowStatus.VERIFYING or txn.workflow_id is None:
        return
    tasks = verification_selectors.workflow_tasks(workflow_id=txn.workflow_id)
    if tasks.filter(status__in=[TaskStatus.REJECTED, TaskStatus.FAILED]).exists():
        transition_run(txn, "need_decision")
        txn.save()
        transitioned(txn)
    elif verification_selectors.workflow_all_verified(workflow_id=txn.workflow_id):
        transition_run(txn, "clear")
        txn.save()
        transitioned(txn)
        audit("escrow.clear_to_close", txn, None)
        settlement_prepare(txn=txn)


def _resume_if_unblocked(txn: EscrowTransaction) -> None:
    tasks = verification_selectors.workflow_tasks(workflow_id=txn.workflow_id)  # type: ignore[arg-type]
    if not tasks.filter(status__in=[TaskStatus.REJECTED, TaskStatus.FAILED]).exists():
        _resume(txn)


def _orgs(user: Any) -> set[int]:
    from identity.selectors import organization_ids_for_user

    return organization_ids_for_user(user)


# --- cancellation ----------------------------------------------------------------------------


@transaction.atomic
def escrow_cancel(*, transaction_id: int, actor: Any, reason: str = "") -> EscrowTransaction:
    """Cancel: earned milestones stay paid, held ones return, the rest goes back to who paid it."""
    txn = txn_lock(transaction_id)
    require_officer_or_operator(actor, txn, "cancel the escrow")
    blocked = payouts_block_reason(txn) if txn.wallet_account_id else ""
    if blocked and txn.status != EscrowStatus.DRAFT:
        raise ConflictError(f"Cannot cancel now: {blocked}", code="payouts_blocked")
    previous = txn.status
    transition_run(txn, "cancel")
    txn.save()
    transitioned(txn)
    if txn.workflow_id:
        verification_services.workflow_cancel(workflow_id=txn.workflow_id)
    refunds = _wind_down(txn, purpose="cancel")
    audit("escrow.cancelled", txn, actor, previous_state=previous, reason=reason[:300], refunds=refunds)
    live(txn, "transaction_cancelled")  # no notification kind for it yet; the parties see it live and in the trail
    return txn


def _wind_down(
    txn: EscrowTransaction, *, purpose: str, split: list[tuple[int, str, Decimal]] | None = None
) -> list[str]:
    """Pay earned milestones, void held ones, send loan funds back to the lender and distribute the rest."""
    for milestone in txn.milestones.select_for_update().order_by("id"):
        if milestone.status == MilestoneStatus.EARNED:
            funds.milestone_release(txn=txn, milestone=milestone)
        elif milestone.status in (MilestoneStatus.HELD, MilestoneStatus.PLANNED):
            funds.milestone_void(txn, milestone, reason=purpose)
    available = funds.wallet_available(txn)
    if available <= 0:
        return []
    shares: list[tuple[int, str, Decimal]] = []
    loan = txn.deposits.filter(kind=DepositKind.LOAN).first()
    if loan is not None and txn.lender_id is not None:
        back = min(loan.amount, available)
        shares.append((txn.lender_id, "Loan funds returned to the lender", back))
        available -= back
    if split is not None:
        total = sum((amount for _, _, amount in split), Decimal(0))
        # The split names shares of what remains; the last share takes the rounding remainder.
        given = Decimal(0)
        for index, (payee, label, amount) in enumerate(split):
            part = available - given if index == len(split) - 1 else quantize(available * amount / total, txn.currency)
            given += part
            shares.append((payee, label, part))
    else:
        shares.append((txn.buyer_id, "Refund to the buyer", available))
    funds.wallet_distribute(txn, shares, purpose)
    return [f"{label}: {amount}" for _, label, amount in shares if amount > 0]


__all__ = ["key"]
