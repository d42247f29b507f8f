"""Batches write their second pass set-based (ledger/services/_core.py `Writes`).

What a user of `batch_execute` must not be able to tell apart: a batch leaves the same counters,
the same journal lines with the same running balances, and refuses the same things as the same
operations run one at a time.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger import errors, services
from ledger.models import Hold, JournalLine
from ledger.selectors import invariants_check
from ledger.states import HoldStatus
from ledger.types import HoldOp, HoldPostOp, HoldVoidOp, Operation, TransferOp
from tests.ledger.conftest import counters

pytestmark = pytest.mark.django_db

AMOUNTS = [Decimal(f"{n}.{n % 100:02d}") for n in range(1, 41)]


def _running(account) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    return [
        (line.side, line.amount, line.posted_debits_after, line.posted_credits_after)
        for line in JournalLine.objects.filter(account=account).order_by("id")
    ]


def test_a_batch_leaves_what_the_same_operations_one_at_a_time_leave(open_wallet):
    one_payer, one_payee, one_fee = open_wallet("1000"), open_wallet(), open_wallet()
    many_payer, many_payee, many_fee = open_wallet("1000"), open_wallet(), open_wallet()

    singles = [
        services.hold_create(
            idempotency_key=f"s-hold-{i}",
            debit_account_id=one_payer.pk,
            credit_account_id=one_payee.pk,
            amount=amount,
            currency="USD",
        )
        for i, amount in enumerate(AMOUNTS)
    ]
    for i, hold in enumerate(singles):
        if i % 4 == 3:
            services.hold_void(hold_id=hold.pk, idempotency_key=f"s-void-{i}", reason="not needed")
            continue
        services.hold_post(hold_id=hold.pk, idempotency_key=f"s-post-{i}")
        services.transfer_create(
            idempotency_key=f"s-fee-{i}",
            debit_account_id=one_payee.pk,
            credit_account_id=one_fee.pk,
            amount=Decimal("0.10"),
            currency="USD",
        )

    created = services.batch_execute(
        idempotency_key="b-holds",
        operations=[HoldOp(many_payer.pk, many_payee.pk, amount, "USD") for amount in AMOUNTS],
    )
    operations: list[Operation] = []
    for i, created_hold in enumerate(created.results):
        if i % 4 == 3:
            operations.append(HoldVoidOp(created_hold.pk, reason="not needed"))
        else:
            operations.append(HoldPostOp(created_hold.pk))
            operations.append(TransferOp(many_payee.pk, many_fee.pk, Decimal("0.10"), "USD"))
    services.batch_execute(idempotency_key="b-resolve", operations=operations)

    for one, many in ((one_payer, many_payer), (one_payee, many_payee), (one_fee, many_fee)):
        assert counters(one) == counters(many)
        assert _running(one)[1:] == _running(many)[1:]  # [0] is the funding deposit of the payer
    assert [h.status for h in Hold.objects.filter(pk__in=[h.pk for h in created.results]).order_by("pk")] == [
        HoldStatus.VOIDED if i % 4 == 3 else HoldStatus.POSTED for i in range(len(AMOUNTS))
    ]
    posted = Hold.objects.filter(pk=created.results[0].pk).get()
    assert posted.posted_amount == AMOUNTS[0]
    assert posted.post_entry is not None
    assert invariants_check().ok


def test_guards_are_checked_in_operation_order_not_on_the_batch_total(open_wallet):
    wallet, other, funder = open_wallet("10"), open_wallet(), open_wallet("50")
    late_funding: list[Operation] = [
        HoldOp(wallet.pk, other.pk, Decimal("30"), "USD"),
        TransferOp(funder.pk, wallet.pk, Decimal("50"), "USD"),
    ]
    with pytest.raises(errors.InsufficientFundsError) as caught:
        services.batch_execute(idempotency_key="late", operations=late_funding)
    assert "Operation 0" in caught.value.detail
    assert counters(wallet) == (0, Decimal("10"), 0, 0)
    assert not Hold.objects.exists()

    result = services.batch_execute(idempotency_key="early", operations=list(reversed(late_funding)))
    assert counters(wallet) == (0, Decimal("60"), Decimal("30"), 0)
    assert isinstance(result.results[1], Hold)


def test_a_key_repeated_inside_a_batch_takes_effect_once(open_wallet):
    payer, payee = open_wallet("100"), open_wallet()
    same = HoldOp(payer.pk, payee.pk, Decimal("40"), "USD", idempotency_key="only-once")
    result = services.batch_execute(idempotency_key="twice", operations=[same, same])
    assert result.results[0].pk == result.results[1].pk
    assert counters(payer) == (0, Decimal("100"), Decimal("40"), 0)

    other = HoldOp(payer.pk, payee.pk, Decimal("41"), "USD", idempotency_key="reused")
    with pytest.raises(errors.IdempotencyConflictError):
        services.batch_execute(
            idempotency_key="conflicting",
            operations=[HoldOp(payer.pk, payee.pk, Decimal("1"), "USD", idempotency_key="reused"), other],
        )
    assert counters(payer) == (0, Decimal("100"), Decimal("40"), 0)


def test_operation_keys_replay_across_batches_without_moving_money_again(open_wallet):
    payer, payee = open_wallet("100"), open_wallet()
    holds = services.batch_execute(
        idempotency_key="holds",
        operations=[HoldOp(payer.pk, payee.pk, Decimal("10"), "USD", idempotency_key=f"h{i}") for i in range(3)],
    ).results
    posts = [HoldPostOp(h.pk, idempotency_key=f"p{i}") for i, h in enumerate(holds)]
    first = services.batch_execute(idempotency_key="post-1", operations=posts)
    again = services.batch_execute(idempotency_key="post-2", operations=posts)  # a retry under a new batch key
    assert [e.pk for e in again.results] == [e.pk for e in first.results]
    assert counters(payer) == (Decimal("30"), Decimal("100"), 0, 0)
    assert counters(payee) == (0, Decimal("30"), 0, 0)
    assert invariants_check().ok


def test_two_voids_under_one_key_are_refused_whole(open_wallet):
    payer, payee = open_wallet("100"), open_wallet()
    a, b = (
        services.hold_create(
            idempotency_key=key,
            debit_account_id=payer.pk,
            credit_account_id=payee.pk,
            amount=Decimal("5"),
            currency="USD",
        )
        for key in ("a", "b")
    )
    with pytest.raises(errors.IdempotencyConflictError):
        services.batch_execute(
            idempotency_key="voids",
            operations=[HoldVoidOp(a.pk, idempotency_key="v"), HoldVoidOp(b.pk, idempotency_key="v")],
        )
    assert set(Hold.objects.values_list("status", flat=True)) == {HoldStatus.PENDING}
    assert counters(payer) == (0, Decimal("100"), Decimal("10"), 0)
