"""The escrow lifecycle in process: funding, milestones, verification outcomes, settlement."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from audit.models import AuditEvent
from escrow_project.common.errors import ConflictError, PermissionDeniedError, UnprocessableError
from ledger.models import JournalEntry
from ledger.selectors import account_balance
from notifications.models import Notification
from tests.factories import fanouts_expand
from tests.transactions.factories import close_funds, deliver, dispatch_payouts, fund, make_escrow, task_of, verify_all
from transactions import services
from transactions.models import EscrowTransaction, MilestoneStatus, Payment, PaymentStatus, SettlementStatus
from transactions.services.funds import payee_account


def _reload(txn):
    return EscrowTransaction.objects.get(pk=txn.pk)


def _wallet(txn):
    return account_balance(account_id=_reload(txn).wallet_account_id)


def _payee_balance(org, currency="USD"):
    return account_balance(account_id=payee_account(org.pk, currency)).balance


def test_happy_path_from_draft_to_settled(world):
    txn = make_escrow(world)
    assert txn.status == "draft"
    txn = fund(world, txn)

    assert txn.status == "verifying"
    wallet = _wallet(txn)
    assert wallet.balance == Decimal("20000.00")
    assert wallet.available == Decimal("20000.00") - Decimal("2100.00")  # title 1200 + inspection 500 + appraisal 400
    assert {m.verification_type: m.status for m in txn.milestones.all()} == {
        "title": "held",
        "inspection": "held",
        "appraisal": "held",
        "lending": "held",
    }

    txn = verify_all(txn)

    assert txn.status == "clear_to_close"
    assert set(txn.milestones.values_list("status", flat=True)) == {MilestoneStatus.RELEASED}
    assert sorted(Payment.objects.filter(transaction=txn).values_list("label", "amount", "status")) == [
        ("Appraisal fee", Decimal("400.0000"), "succeeded"),
        ("Home inspection fee", Decimal("500.0000"), "succeeded"),
        ("Title search fee", Decimal("1200.0000"), "succeeded"),
    ]
    assert _wallet(txn).balance == Decimal("17900.00")

    close_funds(world, txn)
    row = services.settlement_execute(transaction_id=txn.pk, actor=world.officer)
    dispatch_payouts()

    txn = _reload(txn)
    assert txn.status == "settled"
    assert row.status == SettlementStatus.EXECUTED
    assert _wallet(txn).balance == 0
    assert row.statement["difference"] == "0.00"
    settlement_payments = Payment.objects.filter(transaction=txn, kind="settlement")
    assert settlement_payments.count() == 5
    assert set(settlement_payments.values_list("status", flat=True)) == {PaymentStatus.SUCCEEDED}
    seller = settlement_payments.get(payee=world.seller)
    assert seller.amount == Decimal("376740.00")  # 400000 - 2 x 10000 commission - 1450 - 1810 taxes
    assert _payee_balance(world.seller) == 0  # paid out to the bank
    kinds = list(
        AuditEvent.objects.filter(subject_type="escrow_transaction", subject_id=str(txn.public_id))
        .order_by("seq")
        .values_list("kind", flat=True)
    )
    assert kinds[:4] == ["escrow.created", "escrow.opened", "escrow.deposit_received", "escrow.funded"]
    for kind in ["verification.assigned", "verification.verified", "escrow.milestone_released",
                 "escrow.payout_succeeded", "escrow.clear_to_close", "escrow.settled"]:  # fmt: skip
        assert kind in kinds
    assert kinds.count("escrow.milestone_released") == 4  # lending at 0.00 included
    fanouts_expand()
    told = Notification.objects.filter(subject_id=str(txn.public_id))
    assert told.filter(kind="settlement_completed", recipient_organization=world.buyer).exists()
    assert told.filter(kind="settlement_completed", recipient_user=world.officer).exists()
    assert told.filter(kind="payment_released", recipient_organization=world.inspection_firm).exists()
    assert Notification.objects.filter(kind="verification_assigned", recipient_organization=world.appraiser).exists()


def test_an_overdue_verification_tells_the_officer_then_the_operators(world):
    from datetime import timedelta

    from django.utils import timezone

    from verifications.services import tasks_escalate_overdue

    txn = fund(world, make_escrow(world))
    later = timezone.now() + timedelta(hours=73)

    tasks_escalate_overdue(now=later)
    fanouts_expand()
    overdue = Notification.objects.filter(kind="verification_overdue", subject_id=str(txn.public_id))
    assert set(overdue.values_list("recipient_user_id", flat=True)) == {world.officer.pk}

    tasks_escalate_overdue(now=later + timedelta(days=2))
    assert {world.operator.pk, world.operator2.pk} <= set(overdue.values_list("recipient_user_id", flat=True))


def test_settlement_before_clear_to_close_is_refused_and_nothing_moves(world):
    txn = fund(world, make_escrow(world))
    entries = JournalEntry.objects.count()

    with pytest.raises(ConflictError) as caught:
        services.settlement_execute(transaction_id=txn.pk, actor=world.officer)

    assert caught.value.code == "not_clear_to_close"
    assert JournalEntry.objects.count() == entries
    assert _reload(txn).status == "verifying"


def test_settlement_waits_for_loan_funds_and_for_the_buyers_cash(world):
    txn = verify_all(fund(world, make_escrow(world)))

    with pytest.raises(ConflictError) as caught:
        services.settlement_execute(transaction_id=txn.pk, actor=world.officer)
    assert caught.value.code == "loan_not_funded"

    services.deposit_receive(transaction_id=txn.pk, kind="loan", amount="300000.00")
    with pytest.raises(UnprocessableError) as short:
        services.settlement_execute(transaction_id=txn.pk, actor=world.officer)
    assert short.value.code == "closing_funds_short"
    assert _reload(txn).status == "clear_to_close"


def test_a_verified_report_repeated_pays_the_milestone_once(world):
    txn = fund(world, make_escrow(world))
    report = deliver(txn, "title")
    task = task_of(txn, "title")

    from verifications.services import report_submit

    for _ in range(3):
        report_submit(task_id=task.pk, payload=report.payload, source="webhook")
    services.milestone_earn(transaction_id=txn.pk, verification_type="title", agent_id=task.agent_id)

    assert Payment.objects.filter(transaction=txn, kind="milestone").count() == 1
    assert JournalEntry.objects.filter(idempotency_key__contains=":milestone:title:post").count() == 1
    from ledger.models import PayoutIntent

    assert PayoutIntent.objects.filter(amount=Decimal("1200.00")).count() == 1
    dispatch_payouts()
    assert _payee_balance(world.title_company) == 0
    assert Payment.objects.get(transaction=txn, kind="milestone").status == "succeeded"


def test_a_rejected_appraisal_asks_the_parties_and_renegotiation_redoes_it(world):
    txn = fund(world, make_escrow(world))
    deliver(txn, "title")
    deliver(txn, "inspection")
    deliver(txn, "appraisal", passing=False)

    txn = _reload(txn)
    assert txn.status == "needs_decision"
    assert txn.milestones.get(verification_type="appraisal").status == "held"  # not paid for a rejection yet

    services.escrow_renegotiate(transaction_id=txn.pk, actor=world.officer, purchase_price="380000.00")
    txn = _reload(txn)
    assert txn.status == "verifying"
    assert task_of(txn, "appraisal").status == "assigned"
    assert task_of(txn, "appraisal").attempt == 2

    deliver(txn, "appraisal")
    deliver(txn, "lending")
    assert _reload(txn).status == "clear_to_close"


def test_a_failed_verification_asks_the_parties_and_a_reassignment_resumes(world):
    from identity.models import OrganizationKind
    from tests.factories import OrganizationFactory
    from transactions.models import PayeeProfile
    from verifications.models import AgentProfile
    from verifications.services import task_fail

    txn = fund(world, make_escrow(world))
    task_fail(task_id=task_of(txn, "title").pk, reason="Records office closed for a month")
    assert _reload(txn).status == "needs_decision"
    other = OrganizationFactory.create(kind=OrganizationKind.TITLE_COMPANY)
    AgentProfile.objects.create(organization=other, verification_type="title")
    details: Any = {"account_number": "42"}
    PayeeProfile.objects.create(organization=other, bank_details=details)

    services.escrow_task_reassign(transaction_id=txn.pk, verification_type="title", actor=world.officer, agent=other)
    deliver(txn, "title")

    txn = _reload(txn)
    assert txn.status == "verifying"
    title = txn.milestones.get(verification_type="title")
    assert (title.status, title.payee_id) == ("released", other.pk)  # the fee follows the agent who delivered
    assert Payment.objects.get(milestone=title).payee_id == other.pk


def test_the_buyer_may_waive_a_rejected_inspection(world):
    txn = fund(world, make_escrow(world))
    deliver(txn, "inspection", passing=False)

    with pytest.raises(PermissionDeniedError):
        services.escrow_waive(transaction_id=txn.pk, verification_type="inspection", actor=world.seller_user)
    services.escrow_waive(transaction_id=txn.pk, verification_type="inspection", actor=world.buyer_user)

    txn = _reload(txn)
    assert txn.status == "verifying"
    assert task_of(txn, "appraisal").status == "assigned"
    assert txn.milestones.get(verification_type="inspection").status == "released"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"purchase_price": "-5"}, "invalid_amount"),
        ({"purchase_price": "1e15"}, "invalid_amount"),
        ({"purchase_price": "100.001"}, "invalid_amount"),
        ({"earnest_money": "0"}, "invalid_amount"),
        ({"loan_amount": "500000.00"}, "invalid_amount"),
        ({"currency": "XXX"}, "invalid_currency"),
        ({"loan_amount": "100000.00", "lender": None}, "lender_required"),
    ],
)
def test_bad_terms_are_refused_and_nothing_is_created(world, changes, code):
    with pytest.raises(UnprocessableError) as caught:
        make_escrow(world, **changes)

    assert caught.value.code == code
    assert EscrowTransaction.objects.count() == 0


def test_earnest_money_must_be_the_agreed_amount(world):
    txn = make_escrow(world)
    services.escrow_open(transaction_id=txn.pk, actor=world.officer)

    with pytest.raises(UnprocessableError) as caught:
        services.deposit_receive(transaction_id=txn.pk, kind="earnest", amount="19999.99")

    assert caught.value.code == "amount_mismatch"
    assert _wallet(txn).balance == 0
    assert _reload(txn).status == "awaiting_earnest_money"


def test_an_overdue_verification_is_reassigned_and_the_officer_is_told(world):
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import OrganizationFactory, member
    from verifications.models import AgentProfile
    from verifications.services import tasks_escalate_overdue

    other = OrganizationFactory.create(kind=world.title_company.kind)
    AgentProfile.objects.create(organization=other, verification_type="title", sandbox_delay_seconds=0)
    examiner = member("verifier", other)
    txn = fund(world, make_escrow(world))
    later = timezone.now() + timedelta(hours=73)
    tasks_escalate_overdue(now=later)
    tasks_escalate_overdue(now=later + timedelta(days=2))

    tasks_escalate_overdue(now=later + timedelta(days=4))

    assert task_of(txn, "title").agent_id == other.pk
    fanouts_expand()
    told = Notification.objects.filter(kind="verification_assigned", subject_id=str(txn.public_id))
    assert told.filter(recipient_user_id=world.officer.pk).exists()
    assert told.filter(recipient_user_id=examiner.pk).exists()
