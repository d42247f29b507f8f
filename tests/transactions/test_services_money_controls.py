"""Disputes, cancellation, pause, multi-signature with time lock, payout failure and retry, cooling-off."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from escrow_project.common.errors import (
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableError,
)
from identity.models import Role
from ledger.models import JournalEntry, PayoutIntent
from ledger.selectors import account_balance
from tests.factories import member
from tests.transactions.factories import close_funds, deliver, dispatch_payouts, fund, make_escrow, verify_all
from transactions import services
from transactions.models import EscrowTransaction, PayeeProfile, Payment, SettlementStatement
from transactions.services.funds import payee_account


def _reload(txn):
    return EscrowTransaction.objects.get(pk=txn.pk)


def _wallet(txn):
    return account_balance(account_id=_reload(txn).wallet_account_id)


def _paid(org) -> Decimal:
    """What actually left for the organization's bank."""
    return sum((p.amount for p in Payment.objects.filter(payee=org, status="succeeded")), Decimal(0))


# --- disputes --------------------------------------------------------------------------------


def _disputed(world):
    txn = fund(world, make_escrow(world))
    deliver(txn, "title")  # title fee earned and paid before the dispute
    dispatch_payouts()
    dispute = services.dispute_raise(
        transaction_id=txn.pk, raised_by=world.buyer_user, reason="Seller hid water damage"
    )
    return _reload(txn), dispute


def test_a_dispute_freezes_funds_so_a_verified_report_earns_but_does_not_pay(world):
    txn, _ = _disputed(world)
    entries = JournalEntry.objects.count()

    deliver(txn, "inspection")

    txn = _reload(txn)
    assert txn.status == "disputed"
    assert txn.milestones.get(verification_type="inspection").status == "earned"
    assert JournalEntry.objects.count() == entries
    assert not Payment.objects.filter(transaction=txn, milestone__verification_type="inspection").exists()


@pytest.mark.parametrize(
    ("resolution", "share", "seller", "buyer"),
    [
        ("release", None, Decimal("18800.00"), Decimal("0")),
        ("refund", None, Decimal("0"), Decimal("18800.00")),
        ("split", "25", Decimal("4700.00"), Decimal("14100.00")),
    ],
)
def test_each_dispute_resolution_moves_the_remaining_funds(world, resolution, share, seller, buyer):
    txn, dispute = _disputed(world)

    services.dispute_resolve(dispute_id=dispute.pk, actor=world.officer, resolution=resolution, seller_share_pct=share)
    dispatch_payouts()

    txn = _reload(txn)
    assert txn.status == "dispute_resolved"
    assert _wallet(txn).balance == 0
    assert _paid(world.title_company) == Decimal("1200.00")  # earned before the dispute: stays paid
    assert _paid(world.seller) == seller
    assert _paid(world.buyer) == buyer  # 20000 - 1200 title fee = 18800 remained


def test_only_the_officer_or_an_operator_resolves_and_a_split_needs_a_share(world):
    txn, dispute = _disputed(world)

    with pytest.raises(PermissionDeniedError):
        services.dispute_resolve(dispute_id=dispute.pk, actor=world.buyer_user, resolution="refund")
    with pytest.raises(UnprocessableError) as caught:
        services.dispute_resolve(dispute_id=dispute.pk, actor=world.officer, resolution="split", seller_share_pct="100")
    assert caught.value.code == "invalid_split"
    assert _reload(txn).status == "disputed"


def test_a_dismissed_dispute_resumes_and_pays_what_was_earned(world, django_capture_on_commit_callbacks, eager_worker):
    txn, dispute = _disputed(world)
    deliver(txn, "inspection")

    with django_capture_on_commit_callbacks(execute=True):  # the worker runs the unblock task after commit
        services.dispute_dismiss(dispute_id=dispute.pk, actor=world.officer)

    txn = _reload(txn)
    assert txn.status == "verifying"
    assert txn.milestones.get(verification_type="inspection").status == "released"


def test_verifications_decided_during_a_dispute_apply_when_it_is_dismissed(world):
    txn, dispute = _disputed(world)
    deliver(txn, "inspection")
    deliver(txn, "appraisal")
    deliver(txn, "lending")
    assert _reload(txn).status == "disputed"

    services.dispute_dismiss(dispute_id=dispute.pk, actor=world.officer)

    assert _reload(txn).status == "clear_to_close"


def test_an_outsider_cannot_raise_a_dispute(world):
    txn = fund(world, make_escrow(world))

    with pytest.raises(NotFoundError):
        services.dispute_raise(transaction_id=txn.pk, raised_by=world.outsider, reason="I object")

    assert _reload(txn).status == "verifying"


# --- cancellation ----------------------------------------------------------------------------


def test_cancel_a_draft_moves_nothing(world):
    txn = make_escrow(world)

    services.escrow_cancel(transaction_id=txn.pk, actor=world.officer)

    assert _reload(txn).status == "cancelled"
    assert JournalEntry.objects.count() == 0


def test_cancel_while_awaiting_earnest_money_moves_nothing(world):
    txn = make_escrow(world)
    services.escrow_open(transaction_id=txn.pk, actor=world.officer)

    services.escrow_cancel(transaction_id=txn.pk, actor=world.officer)

    assert _reload(txn).status == "cancelled"
    assert JournalEntry.objects.count() == 0


def test_cancel_while_verifying_refunds_all_but_earned_fees(world):
    txn = fund(world, make_escrow(world))
    deliver(txn, "title")

    services.escrow_cancel(transaction_id=txn.pk, actor=world.officer, reason="Buyer walked away")
    dispatch_payouts()

    txn = _reload(txn)
    assert txn.status == "cancelled"
    assert _wallet(txn).balance == 0
    assert _wallet(txn).available == 0
    assert _paid(world.title_company) == Decimal("1200.00")
    assert _paid(world.buyer) == Decimal("18800.00")
    assert set(txn.milestones.exclude(verification_type="title").values_list("status", flat=True)) == {"voided"}


def test_cancel_when_needs_decision_refunds(world):
    txn = fund(world, make_escrow(world))
    deliver(txn, "inspection", passing=False)

    services.escrow_cancel(transaction_id=txn.pk, actor=world.officer)
    dispatch_payouts()

    assert _paid(world.buyer) == Decimal("20000.00")


def test_cancel_at_clear_to_close_returns_loan_funds_to_the_lender(world):
    txn = verify_all(fund(world, make_escrow(world)))
    services.deposit_receive(transaction_id=txn.pk, kind="loan", amount="300000.00")

    services.escrow_cancel(transaction_id=txn.pk, actor=world.officer)
    dispatch_payouts()

    assert _paid(world.lender) == Decimal("300000.00")
    assert _paid(world.buyer) == Decimal("17900.00")  # 20000 - 1200 - 500 - 400 earned fees
    assert _wallet(txn).balance == 0


def test_a_settled_transaction_cannot_be_cancelled(world):
    txn = verify_all(fund(world, make_escrow(world)))
    close_funds(world, txn)
    services.settlement_execute(transaction_id=txn.pk, actor=world.officer)

    with pytest.raises(InvalidTransitionError) as caught:
        services.escrow_cancel(transaction_id=txn.pk, actor=world.officer)

    assert "Cannot cancel" in caught.value.detail


# --- pause -----------------------------------------------------------------------------------


def test_nothing_pays_while_paused_and_everything_goes_on_resume(
    world, django_capture_on_commit_callbacks, eager_worker
):
    txn = fund(world, make_escrow(world))
    services.payouts_pause_all(actor=world.operator, paused=True, reason="Incident 42")
    entries = JournalEntry.objects.count()

    deliver(txn, "title")
    assert JournalEntry.objects.count() == entries
    assert _reload(txn).milestones.get(verification_type="title").status == "earned"

    with django_capture_on_commit_callbacks(execute=True):
        services.payouts_pause_all(actor=world.operator, paused=False)

    assert _reload(txn).milestones.get(verification_type="title").status == "released"
    assert Payment.objects.filter(transaction=txn).count() == 1


def test_a_paused_transaction_cannot_settle_or_cancel(world):
    txn = verify_all(fund(world, make_escrow(world)))
    close_funds(world, txn)
    services.escrow_pause(transaction_id=txn.pk, actor=world.operator, paused=True, reason="Fraud check")

    with pytest.raises(ConflictError) as caught:
        services.settlement_execute(transaction_id=txn.pk, actor=world.officer)
    assert caught.value.code == "payouts_paused"
    with pytest.raises(ConflictError):
        services.escrow_cancel(transaction_id=txn.pk, actor=world.officer)
    assert _reload(txn).status == "clear_to_close"


def test_only_operators_pause(world):
    with pytest.raises(PermissionDeniedError):
        services.payouts_pause_all(actor=world.officer, paused=True)
    assert not AuditEvent.objects.filter(subject_type="escrow_platform_control").exists()


def test_the_global_pause_and_resume_are_audit_events_on_their_own_chain(world):
    services.payouts_pause_all(actor=world.operator, paused=True, reason="Incident 42")
    services.payouts_pause_all(actor=world.operator, paused=False)

    events = AuditEvent.objects.filter(subject_type="escrow_platform_control", subject_id="payouts").order_by("seq")
    assert [(e.seq, e.kind, e.actor, e.payload) for e in events] == [
        (1, "escrow.payouts_paused_all", f"user:{world.operator.public_id}",
         {"paused": True, "was_paused": False, "reason": "Incident 42"}),
        (2, "escrow.payouts_resumed_all", f"user:{world.operator.public_id}",
         {"paused": False, "was_paused": True, "reason": ""}),
    ]  # fmt: skip
    assert events[1].prev_hash == events[0].event_hash


# --- multi-signature and time lock -----------------------------------------------------------


def test_large_settlement_needs_two_distinct_operators_and_the_time_lock(world, settings):
    settings.ESCROW_APPROVAL_THRESHOLD = "100000.00"
    txn = verify_all(fund(world, make_escrow(world)))
    close_funds(world, txn)

    with pytest.raises(ConflictError) as caught:
        services.settlement_execute(transaction_id=txn.pk, actor=world.officer)
    assert caught.value.code == "approvals_missing"

    services.settlement_approve(transaction_id=txn.pk, operator=world.operator)
    with pytest.raises(ConflictError) as caught:
        services.settlement_approve(transaction_id=txn.pk, operator=world.operator)
    assert caught.value.code == "approval_duplicate"
    with pytest.raises(PermissionDeniedError):
        services.settlement_approve(transaction_id=txn.pk, operator=world.officer)
    row = services.settlement_approve(transaction_id=txn.pk, operator=world.operator2)
    assert row.status == "time_locked"

    with pytest.raises(ConflictError) as caught:
        services.settlement_execute(transaction_id=txn.pk, actor=world.officer)
    assert caught.value.code == "time_locked"
    assert _reload(txn).status == "clear_to_close"

    SettlementStatement.objects.filter(pk=row.pk).update(unlock_at=timezone.now() - timedelta(seconds=1))
    services.settlement_execute(transaction_id=txn.pk, actor=world.officer)
    assert _reload(txn).status == "settled"


# --- payout failure, retry, cooling-off ------------------------------------------------------


def test_a_failed_payout_returns_the_money_and_a_retry_pays_once(world):
    PayeeProfile.objects.filter(organization=world.title_company).update(
        bank_details={"account_number": "999", "simulate": "fail_first_attempt"}
    )
    txn = fund(world, make_escrow(world))
    deliver(txn, "title")
    dispatch_payouts()

    payment = Payment.objects.get(transaction=txn, kind="milestone")
    assert payment.status == "failed"
    assert account_balance(account_id=payee_account(world.title_company.pk, "USD")).balance == Decimal("1200.00")

    services.payment_retry(payment_id=payment.pk, actor=world.officer)
    with pytest.raises(ConflictError) as caught:
        services.payment_retry(payment_id=payment.pk, actor=world.officer)  # the double click
    assert caught.value.code == "payment_not_failed"
    dispatch_payouts()

    payment.refresh_from_db()
    assert (payment.status, payment.attempts) == ("succeeded", 2)
    assert PayoutIntent.objects.filter(status="succeeded").count() == 1
    assert account_balance(account_id=payee_account(world.title_company.pk, "USD")).balance == 0


def test_changed_bank_details_hold_payouts_for_the_cooling_off_period(world):
    txn = fund(world, make_escrow(world))
    admin, second_admin = member(Role.ORG_ADMIN, world.title_company), member(Role.ORG_ADMIN, world.title_company)
    change = services.payee_bank_details_propose(
        organization=world.title_company, bank_details={"account_number": "5550001"}, actor=admin
    )
    services.payee_bank_details_confirm(change_id=change.pk, actor=second_admin)

    deliver(txn, "title")

    payment = Payment.objects.get(transaction=txn, kind="milestone")
    assert payment.status == "blocked"
    assert "cooling" in payment.blocked_reason or "bank details changed" in payment.blocked_reason
    assert PayoutIntent.objects.count() == 0

    PayeeProfile.objects.filter(organization=world.title_company).update(cooling_off_until=timezone.now())
    assert services.transactions_unblock_all() == 1
    assert Payment.objects.get(pk=payment.pk).status == "requested"
