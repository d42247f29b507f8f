"""Demo escrow transactions in several states, using identity's demo organizations and people."""

from __future__ import annotations

import datetime
import random
from typing import Any, cast

from django.db import transaction
from django.utils import timezone

from identity.models import Organization, User
from transactions import services
from transactions.models import EscrowTransaction, PayeeProfile
from verifications import services as verification_services
from verifications.agents.registry import provider_for
from verifications.models import VerificationTask

# (address, how far to drive it)
DEMO_DEALS = [
    ("14 Lighthouse Rd, Portland, ME 04101", "draft"),
    ("3 Birch Hollow, Cape Elizabeth, ME 04107", "awaiting_earnest_money"),
    ("88 Commercial St, Portland, ME 04101", "verifying"),
    ("210 Ocean Ave, Kennebunkport, ME 04046", "needs_decision"),
    ("5 Pine Ridge Ct, Falmouth, ME 04105", "clear_to_close"),
    ("41 Harbor View Rd, South Portland, ME 04106", "settled"),
    ("9 Old Mill Ln, Yarmouth, ME 04096", "disputed"),
]


def _deliver(txn: EscrowTransaction, kind: str, *, passing: bool = True) -> None:
    task = VerificationTask.objects.get(workflow_id=txn.workflow_id, verification_type=kind)
    payload = provider_for(kind).sandbox_report(
        context=task.workflow.context,
        passing=passing,
        rng=random.Random(f"demo:{task.pk}"),  # noqa: S311
    )
    verification_services.report_submit(task_id=task.pk, payload=payload, source="sandbox")


def _reload(txn: EscrowTransaction) -> EscrowTransaction:
    return EscrowTransaction.objects.get(pk=txn.pk)


def seed() -> list[str]:
    orgs = {o.slug: o for o in Organization.objects.all()}
    needed = [
        "garcia-household",
        "chen-household",
        "harbor-realty",
        "bayside-homes",
        "clearview-title",
        "lakeside-bank",
    ]
    officer = User.objects.filter(username="officer").first()
    buyer_user = User.objects.filter(username="buyer").first()
    seller_user = User.objects.filter(username="seller").first()
    if officer is None or any(slug not in orgs for slug in needed):
        return ["Escrow demo skipped: the identity demo data is missing."]
    with transaction.atomic():
        for index, organization in enumerate(orgs.values()):
            PayeeProfile.objects.get_or_create(
                organization=organization,
                defaults={
                    "bank_details": cast(Any, {"account_number": f"DEMO{index:06d}", "routing_number": "021000021"})
                },
            )
    lines = ["Escrow transactions (party page: /escrow/<id>/, sign in at /escrow/login/):"]
    for number, (address, target) in enumerate(DEMO_DEALS):
        txn = EscrowTransaction.objects.filter(property_address=address).first()
        if txn is None:
            txn = _create(orgs, officer, address, number, target, buyer_user, seller_user)
        lines.append(f"  {txn.reference:<16} {txn.get_status_display():<32} {address}  /escrow/{txn.public_id}/")
    return lines


def _create(
    orgs: dict[str, Organization],
    officer: User,
    address: str,
    number: int,
    target: str,
    buyer_user: Any,
    seller_user: Any,
) -> EscrowTransaction:
    price = 350000 + number * 25000
    txn = services.escrow_create(
        created_by=officer,
        property_address=address,
        purchase_price=f"{price}.00",
        earnest_money=f"{price // 20}.00",
        loan_amount=f"{price * 3 // 4}.00",
        closing_date=timezone.localdate() + datetime.timedelta(days=30 + number),
        buyer=orgs["garcia-household"],
        seller=orgs["chen-household"],
        buyer_agent=orgs["harbor-realty"],
        seller_agent=orgs["bayside-homes"],
        lender=orgs["lakeside-bank"],
        escrow_company=orgs["clearview-title"],
        escrow_officer=officer,
        buyer_agent_commission_pct="2.5",
        seller_agent_commission_pct="2.5",
        annual_property_tax="4200.00",
        closing_costs=[
            {"description": "Escrow fee", "paid_by": "buyer", "payee": orgs["clearview-title"], "amount": "950.00"},
            {
                "description": "Owner's title policy",
                "paid_by": "seller",
                "payee": orgs["clearview-title"],
                "amount": "1450.00",
            },
        ],
    )
    if target == "draft":
        return txn
    services.escrow_open(transaction_id=txn.pk, actor=officer)
    if target == "awaiting_earnest_money":
        return _reload(txn)
    services.deposit_receive(transaction_id=txn.pk, kind="earnest", amount=txn.earnest_money, actor=officer)
    _deliver(txn, "title")
    if target == "verifying":
        return _reload(txn)
    if target == "disputed":
        services.dispute_raise(
            transaction_id=txn.pk, raised_by=seller_user, reason="The buyer asked for repairs outside the contract."
        )
        return _reload(txn)
    _deliver(txn, "inspection")
    if target == "needs_decision":
        _deliver(txn, "appraisal", passing=False)
        return _reload(txn)
    _deliver(txn, "appraisal")
    _deliver(txn, "lending")
    if target == "clear_to_close":
        return _reload(txn)
    from transactions.services.settlement import statement_for

    txn = _reload(txn)
    services.deposit_receive(transaction_id=txn.pk, kind="loan", amount=txn.loan_amount)
    services.deposit_receive(
        transaction_id=txn.pk, kind="closing_funds", amount=statement_for(_reload(txn)).cash_from_buyer
    )
    services.settlement_execute(transaction_id=txn.pk, actor=officer)
    return _reload(txn)
