"""The ledger's machines refuse the moves that would count money twice or undo a decision."""

from __future__ import annotations

import pytest
from django_fsm import InvalidResultState, TransitionNotAllowed

from ledger.models import OperatorEntryRequest, RailPayment, ReconciliationBreak
from ledger.states import BreakStatus, OperatorEntryStatus, RailPaymentStatus


@pytest.mark.parametrize("final", [RailPaymentStatus.SUCCEEDED, RailPaymentStatus.CANCELED])
def test_a_final_payment_in_ignores_what_the_rail_reports_later(final: str) -> None:
    payment = RailPayment(status=final)
    with pytest.raises(TransitionNotAllowed):
        payment.record(RailPaymentStatus.SUCCEEDED, "")  # a replayed success must not be credited again
    with pytest.raises(TransitionNotAllowed):
        payment.record(RailPaymentStatus.FAILED, "late decline")
    assert (payment.status, payment.succeeded_at, payment.failure_reason) == (final, None, "")


def test_a_failed_payment_in_may_still_succeed_when_the_payer_retries() -> None:
    payment = RailPayment(status=RailPaymentStatus.FAILED, failure_reason="declined")
    payment.record(RailPaymentStatus.SUCCEEDED, "")
    assert (payment.status, payment.failure_reason) == (RailPaymentStatus.SUCCEEDED, "")
    assert payment.succeeded_at is not None


def test_an_approved_operator_entry_is_not_decided_again() -> None:
    entry = OperatorEntryRequest(status=OperatorEntryStatus.APPROVED)
    with pytest.raises(TransitionNotAllowed):
        entry.decide(OperatorEntryStatus.APPROVED)  # approving again would post the money twice
    with pytest.raises(TransitionNotAllowed):
        entry.decide(OperatorEntryStatus.REJECTED)
    assert entry.status == OperatorEntryStatus.APPROVED


def test_a_resolved_break_is_not_reopened_or_resolved_again() -> None:
    row = ReconciliationBreak(status=BreakStatus.RESOLVED, decided_by="ops-a")
    for move in (lambda: row.resolve(by="ops-b"), lambda: row.ask_write_off(by="ops-b"),
                 lambda: row.reject_write_off("no")):  # fmt: skip
        with pytest.raises(TransitionNotAllowed):
            move()
    assert (row.status, row.decided_by) == (BreakStatus.RESOLVED, "ops-a")


def test_a_write_off_is_approved_only_into_resolved() -> None:
    row = ReconciliationBreak(status=BreakStatus.PENDING)
    with pytest.raises(InvalidResultState):
        row.decide(BreakStatus.OPEN)  # a refusal goes through reject_write_off, which clears the request
    assert row.status == BreakStatus.PENDING
