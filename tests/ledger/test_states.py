"""The ledger's machines refuse the moves that would count money twice or undo a decision."""

from __future__ import annotations

import pytest
from django_fsm import TransitionNotAllowed

from ledger.models import RailPayment
from ledger.states import RailPaymentStatus


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
