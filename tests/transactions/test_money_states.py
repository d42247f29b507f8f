"""The money machines of a transaction refuse the moves a party would notice: a fee paid twice, a
paid payout sent again, an executed settlement reopened, a closed dispute or four-eyes request
decided again."""

from __future__ import annotations

import pytest
from django_fsm import TransitionNotAllowed

from escrow_project.common.errors import InvalidTransitionError
from escrow_project.common.fsm import transition_run
from transactions.models import BankDetailsChange, Dispute, ManualDeposit, Milestone, Payment, SettlementStatement
from transactions.states import (
    BankDetailsChangeStatus,
    DisputeStatus,
    ManualDepositStatus,
    MilestoneStatus,
    PaymentStatus,
    SettlementStatus,
)


def test_a_released_milestone_is_not_released_or_voided_again() -> None:
    milestone = Milestone(status=MilestoneStatus.RELEASED)
    with pytest.raises(TransitionNotAllowed):
        milestone.release()
    with pytest.raises(TransitionNotAllowed):
        milestone.void()  # its fee went to the agent; voiding would count it back into the wallet
    assert milestone.status == MilestoneStatus.RELEASED


def test_a_planned_milestone_is_not_earned_before_it_is_held() -> None:
    with pytest.raises(InvalidTransitionError, match="Cannot earn while the milestone is planned"):
        transition_run(Milestone(status=MilestoneStatus.PLANNED), "earn")


def test_a_succeeded_payment_cannot_be_requested_or_retried_again() -> None:
    payment = Payment(status=PaymentStatus.SUCCEEDED)
    for move in (payment.request, payment.retry, payment.succeed):
        with pytest.raises(TransitionNotAllowed):
            move()
    with pytest.raises(TransitionNotAllowed):
        payment.fail("late bounce")
    assert payment.status == PaymentStatus.SUCCEEDED


def test_a_payment_status_is_not_assigned_by_hand() -> None:
    payment = Payment(status=PaymentStatus.SUCCEEDED)
    with pytest.raises(AttributeError):
        payment.status = PaymentStatus.REQUESTED
    assert payment.status == PaymentStatus.SUCCEEDED


def test_an_executed_settlement_is_not_reopened_or_executed_again() -> None:
    row = SettlementStatement(status=SettlementStatus.EXECUTED)
    with pytest.raises(TransitionNotAllowed):
        row.execute(by=None)
    with pytest.raises(TransitionNotAllowed):
        row.ask_approval()
    with pytest.raises(TransitionNotAllowed):
        row.approve(lock_seconds=0)
    assert (row.status, row.executed_at) == (SettlementStatus.EXECUTED, None)


def test_a_time_locked_settlement_does_not_restart_its_time_lock() -> None:
    row = SettlementStatement(status=SettlementStatus.TIME_LOCKED)
    with pytest.raises(TransitionNotAllowed):
        row.approve(lock_seconds=60)  # a second "last signature" must not restart the time lock
    assert row.unlock_at is None


def test_a_resolved_dispute_is_not_dismissed_or_resolved_again() -> None:
    dispute = Dispute(status=DisputeStatus.RESOLVED, resolution="refund")
    with pytest.raises(TransitionNotAllowed):
        dispute.dismiss(note="", by=None)
    with pytest.raises(TransitionNotAllowed):
        dispute.resolve(resolution="release", seller_share_pct=None, note="", by=None)
    assert (dispute.status, dispute.resolution) == (DisputeStatus.RESOLVED, "refund")


def test_a_confirmed_wire_is_not_decided_again() -> None:
    wire = ManualDeposit(status=ManualDepositStatus.CONFIRMED)
    with pytest.raises(TransitionNotAllowed):
        wire.decide(ManualDepositStatus.REJECTED)  # the deposit is in the wallet already
    with pytest.raises(TransitionNotAllowed):
        wire.decide(ManualDepositStatus.CONFIRMED)  # nor recorded twice
    assert wire.status == ManualDepositStatus.CONFIRMED


def test_a_rejected_bank_details_change_is_not_confirmed_later() -> None:
    change = BankDetailsChange(status=BankDetailsChangeStatus.REJECTED)
    with pytest.raises(TransitionNotAllowed):
        change.decide(BankDetailsChangeStatus.CONFIRMED)
    assert change.status == BankDetailsChangeStatus.REJECTED
