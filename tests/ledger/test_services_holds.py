from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ledger import errors, services
from ledger.models import Account, Hold, JournalEntry
from ledger.selectors import account_balance, invariants_check
from ledger.states import HoldStatus
from ledger.types import HoldOp, HoldPostOp, HoldVoidOp, TransferOp
from tests.ledger.conftest import counters

pytestmark = pytest.mark.django_db


def _hold(payer, payee, amount="40", key="h1", **kwargs):
    return services.hold_create(
        idempotency_key=key,
        debit_account_id=payer.pk,
        credit_account_id=payee.pk,
        amount=Decimal(amount),
        currency="USD",
        **kwargs,
    )


def test_hold_reserves_then_partial_post_releases_the_rest(open_wallet):
    payer, payee = open_wallet("100"), open_wallet()
    hold = _hold(payer, payee)

    assert account_balance(account_id=payer.pk).available == Decimal("60")
    assert account_balance(account_id=payer.pk).balance == Decimal("100")
    assert account_balance(account_id=payee.pk).projected == Decimal("40")

    entry = services.hold_post(hold_id=hold.pk, idempotency_key="h1-post", amount=Decimal("25"))

    assert entry.kind == "hold_post"
    assert counters(payer) == (Decimal("25"), Decimal("100"), 0, 0)
    assert counters(payee) == (0, Decimal("25"), 0, 0)
    assert Hold.objects.get(pk=hold.pk).status == HoldStatus.POSTED
    assert invariants_check().ok


def test_hold_beyond_available_is_refused(open_wallet):
    payer, payee = open_wallet("100"), open_wallet()
    _hold(payer, payee, "80")
    with pytest.raises(errors.InsufficientFundsError):
        _hold(payer, payee, "21", key="h2")
    with pytest.raises(errors.InsufficientFundsError):
        services.transfer_create(
            idempotency_key="t",
            debit_account_id=payer.pk,
            credit_account_id=payee.pk,
            amount=Decimal("21"),
            currency="USD",
        )
    assert counters(payer) == (0, Decimal("100"), Decimal("80"), 0)
    assert Hold.objects.count() == 1


def test_a_hold_resolves_once(open_wallet):
    payer, payee = open_wallet("100"), open_wallet()
    hold = _hold(payer, payee)
    services.hold_void(hold_id=hold.pk, idempotency_key="v1", reason="buyer walked away")
    assert account_balance(account_id=payer.pk).available == Decimal("100")

    # the same void again is a replay; any other resolution is refused
    assert services.hold_void(hold_id=hold.pk, idempotency_key="v1").status == HoldStatus.VOIDED
    with pytest.raises(errors.HoldAlreadyResolvedError):
        services.hold_post(hold_id=hold.pk, idempotency_key="p1")
    with pytest.raises(errors.HoldAlreadyResolvedError):
        services.hold_void(hold_id=hold.pk, idempotency_key="v2")
    assert JournalEntry.objects.filter(kind="hold_post").count() == 0
    assert counters(payer) == (0, Decimal("100"), 0, 0)


def test_post_replay_and_overpost(open_wallet):
    payer, payee = open_wallet("100"), open_wallet()
    hold = _hold(payer, payee)
    with pytest.raises(errors.InvalidAmountError):
        services.hold_post(hold_id=hold.pk, idempotency_key="p", amount=Decimal("40.01"))
    first = services.hold_post(hold_id=hold.pk, idempotency_key="p")
    assert services.hold_post(hold_id=hold.pk, idempotency_key="p").pk == first.pk
    with pytest.raises(errors.IdempotencyConflictError):
        services.hold_post(hold_id=hold.pk, idempotency_key="p", amount=Decimal("1"))
    assert account_balance(account_id=payee.pk).balance == Decimal("40")


def test_expired_holds_are_released_and_cannot_be_posted(open_wallet):
    payer, payee = open_wallet("100"), open_wallet()
    hold = _hold(payer, payee, expires_at=timezone.now() + timedelta(minutes=5))
    later = timezone.now() + timedelta(minutes=6)

    assert services.holds_expire(now=timezone.now()) == 0
    assert services.holds_expire(now=later) == 1

    assert Hold.objects.get(pk=hold.pk).status == HoldStatus.EXPIRED
    assert account_balance(account_id=payer.pk).available == Decimal("100")
    with pytest.raises(errors.HoldAlreadyResolvedError):
        services.hold_post(hold_id=hold.pk, idempotency_key="late")


def test_void_passes_on_a_closed_account(open_wallet):
    payer, payee = open_wallet("100"), open_wallet()
    hold = _hold(payer, payee)
    # account_close refuses accounts with pending holds; simulate a closure that raced the hold
    Account.objects.filter(pk=payee.pk).update(closed_at=timezone.now())
    with pytest.raises(errors.AccountClosedError):
        services.hold_post(hold_id=hold.pk, idempotency_key="post")
    services.hold_void(hold_id=hold.pk, idempotency_key="void")
    assert counters(payee) == (0, 0, 0, 0)
    assert counters(payer) == (0, Decimal("100"), 0, 0)


def test_batch_is_all_or_nothing(open_wallet):
    escrow, seller, agent, title = open_wallet("100"), open_wallet(), open_wallet(), open_wallet()
    ops = [
        TransferOp(escrow.pk, seller.pk, Decimal("90"), "USD"),
        TransferOp(escrow.pk, agent.pk, Decimal("6"), "USD"),
        TransferOp(escrow.pk, title.pk, Decimal("5"), "USD"),  # one too many: 101 > 100
    ]
    with pytest.raises(errors.InsufficientFundsError) as caught:
        services.batch_execute(idempotency_key="settle", operations=ops)
    assert "Operation 2" in caught.value.detail
    assert counters(seller) == (0, 0, 0, 0)
    assert counters(escrow) == (0, Decimal("100"), 0, 0)

    ops[2] = TransferOp(escrow.pk, title.pk, Decimal("4"), "USD")
    result = services.batch_execute(idempotency_key="settle", operations=ops)
    assert [account_balance(account_id=a.pk).balance for a in (escrow, seller, agent, title)] == [0, 90, 6, 4]
    replay = services.batch_execute(idempotency_key="settle", operations=ops)
    assert replay.replayed
    assert [r.pk for r in replay.results] == [r.pk for r in result.results]
    with pytest.raises(errors.IdempotencyConflictError):
        services.batch_execute(idempotency_key="settle", operations=ops[:2])


def test_batch_mixes_holds_posts_and_voids(open_wallet):
    payer, payee = open_wallet("100"), open_wallet()
    h1, h2 = _hold(payer, payee, "10", key="a"), _hold(payer, payee, "20", key="b")
    result = services.batch_execute(
        idempotency_key="mix",
        operations=[
            HoldPostOp(h1.pk),
            HoldVoidOp(h2.pk, reason="no"),
            HoldOp(payer.pk, payee.pk, Decimal("30"), "USD"),
        ],
    )
    assert [type(r).__name__ for r in result.results] == ["JournalEntry", "Hold", "Hold"]
    assert counters(payer) == (Decimal("10"), Decimal("100"), Decimal("30"), 0)
    assert invariants_check().ok
