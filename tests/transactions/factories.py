"""A small world of parties and sandbox agents, and helpers that drive an escrow through its life."""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from identity.models import Organization, OrganizationKind, Role, User
from ledger import services as ledger_services
from ledger.models import PayoutIntent
from ledger.states import PayoutStatus
from tests.factories import OrganizationFactory, member, operator
from transactions import services
from transactions.models import EscrowTransaction, PayeeProfile
from verifications import services as verification_services
from verifications.agents.registry import provider_for
from verifications.models import AgentProfile, ReportSource, VerificationTask


@dataclass
class World:
    buyer: Organization
    seller: Organization
    buyer_brokerage: Organization
    seller_brokerage: Organization
    title_company: Organization
    inspection_firm: Organization
    appraiser: Organization
    lender: Organization
    operator: User
    operator2: User
    officer: User
    buyer_user: User
    seller_user: User
    inspector_user: User
    appraiser_user: User
    outsider: User


def make_world(*, payee_details: dict[str, Any] | None = None) -> World:
    org = OrganizationFactory.create
    w = World(
        buyer=org(kind=OrganizationKind.INDIVIDUAL, name="Garcia household"),
        seller=org(kind=OrganizationKind.INDIVIDUAL, name="Chen household"),
        buyer_brokerage=org(kind=OrganizationKind.BROKERAGE, name="Harbor Realty"),
        seller_brokerage=org(kind=OrganizationKind.BROKERAGE, name="Bayside Homes"),
        title_company=org(kind=OrganizationKind.TITLE_COMPANY, name="Clearview Title"),
        inspection_firm=org(kind=OrganizationKind.INSPECTION_FIRM, name="Sound Inspections"),
        appraiser=org(kind=OrganizationKind.APPRAISER, name="Summit Appraisals"),
        lender=org(kind=OrganizationKind.LENDER, name="Lakeside Bank"),
        operator=operator(),
        operator2=operator(),
        officer=None,  # type: ignore[arg-type]
        buyer_user=None,  # type: ignore[arg-type]
        seller_user=None,  # type: ignore[arg-type]
        inspector_user=None,  # type: ignore[arg-type]
        appraiser_user=None,  # type: ignore[arg-type]
        outsider=member(Role.BUYER),
    )
    w.officer = member(Role.ESCROW_OFFICER, w.title_company)
    w.buyer_user = member(Role.BUYER, w.buyer)
    w.seller_user = member(Role.SELLER, w.seller)
    w.inspector_user = member(Role.VERIFIER, w.inspection_firm)
    w.appraiser_user = member(Role.VERIFIER, w.appraiser)
    for organization, kind in [
        (w.title_company, "title"),
        (w.inspection_firm, "inspection"),
        (w.appraiser, "appraisal"),
        (w.lender, "lending"),
    ]:
        AgentProfile.objects.create(organization=organization, verification_type=kind, sandbox_delay_seconds=0)
    for index, organization in enumerate(
        [
            w.buyer,
            w.seller,
            w.buyer_brokerage,
            w.seller_brokerage,
            w.title_company,
            w.inspection_firm,
            w.appraiser,
            w.lender,
        ]
    ):
        PayeeProfile.objects.create(
            organization=organization,
            bank_details=cast(
                Any, {"account_number": f"0001000{index}", "routing_number": "021000021", **(payee_details or {})}
            ),
        )
    return w


def make_escrow(w: World, **overrides: Any) -> EscrowTransaction:
    fields: dict[str, Any] = {
        "created_by": w.officer,
        "property_address": "12 Harbor View Rd, Portland, ME 04101",
        "purchase_price": "400000.00",
        "earnest_money": "20000.00",
        "loan_amount": "300000.00",
        "closing_date": datetime.date(2026, 7, 1),
        "buyer": w.buyer,
        "seller": w.seller,
        "buyer_agent": w.buyer_brokerage,
        "seller_agent": w.seller_brokerage,
        "lender": w.lender,
        "escrow_company": w.title_company,
        "escrow_officer": w.officer,
        "buyer_agent_commission_pct": "2.5",
        "seller_agent_commission_pct": "2.5",
        "annual_property_tax": "3650.00",
        "closing_costs": [
            {"description": "Escrow fee", "paid_by": "buyer", "payee": w.title_company, "amount": "850.00"},
            {"description": "Owner's title policy", "paid_by": "seller", "payee": w.title_company, "amount": "1450.00"},
        ],
    }
    fields.update(overrides)
    return services.escrow_create(**fields)


def fund(w: World, txn: EscrowTransaction) -> EscrowTransaction:
    services.escrow_open(transaction_id=txn.pk, actor=w.officer)
    services.deposit_receive(transaction_id=txn.pk, kind="earnest", amount=txn.earnest_money, actor=w.officer)
    txn = EscrowTransaction.objects.get(pk=txn.pk)
    return txn


def task_of(txn: EscrowTransaction, kind: str) -> VerificationTask:
    return VerificationTask.objects.get(workflow_id=txn.workflow_id, verification_type=kind)


def deliver(txn: EscrowTransaction, kind: str, *, passing: bool = True) -> Any:
    """The task's agent delivers a realistic report (as a partner would through the API)."""
    task = task_of(txn, kind)
    payload = provider_for(kind).sandbox_report(
        context=task.workflow.context, passing=passing, rng=random.Random(f"{task.pk}:{task.attempt}")
    )
    return verification_services.report_submit(task_id=task.pk, payload=payload, source=ReportSource.API)


def dispatch_payouts() -> None:
    """What the ledger's worker does after commit: send each requested payout to the rail."""
    for payout_id in PayoutIntent.objects.filter(status=PayoutStatus.REQUESTED).values_list("pk", flat=True):
        ledger_services.payout_dispatch(payout_id=payout_id)


def verify_all(txn: EscrowTransaction) -> EscrowTransaction:
    for kind in ("title", "inspection", "appraisal", "lending"):
        if VerificationTask.objects.filter(workflow_id=txn.workflow_id, verification_type=kind).exists():
            deliver(txn, kind)
    dispatch_payouts()
    txn = EscrowTransaction.objects.get(pk=txn.pk)
    return txn


def close_funds(w: World, txn: EscrowTransaction) -> None:
    """Lender wires the loan, buyer wires the cash to close per the statement."""
    from transactions.services.settlement import statement_for

    if txn.loan_amount > 0:
        services.deposit_receive(transaction_id=txn.pk, kind="loan", amount=txn.loan_amount)
    due = statement_for(txn).cash_from_buyer
    if due > 0:
        services.deposit_receive(transaction_id=txn.pk, kind="closing_funds", amount=due)


def wallet_balance(txn: EscrowTransaction) -> Decimal:
    """The escrow wallet's balance now (zero before the wallet exists)."""
    from ledger.selectors import account_balance

    txn = EscrowTransaction.objects.get(pk=txn.pk)
    return account_balance(account_id=int(txn.wallet_account_id)).balance if txn.wallet_account_id else Decimal(0)
