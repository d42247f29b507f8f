"""Round trips per ledger call on PostgreSQL: the money path is one statement inside its transaction.

Inside a test every service's atomic block is a SAVEPOINT and a RELEASE, so "3" below is what a
caller outside a transaction sees as BEGIN, one statement, COMMIT.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from escrow_project.common.errors import NotFoundError
from ledger import errors, services
from ledger.models import Hold, JournalEntry
from ledger.states import HoldStatus
from tests.ledger.conftest import counters

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the one-statement path is PostgreSQL's"),
]


def _round_trips(call):
    with CaptureQueriesContext(connection) as queries:
        result = call()
    return result, len(queries)


def test_a_transfer_is_one_statement(open_wallet):
    payer, payee = open_wallet("100"), open_wallet()

    def move():
        return services.transfer_create(
            idempotency_key="t1",
            debit_account_id=payer.pk,
            credit_account_id=payee.pk,
            amount=Decimal("10"),
            currency="USD",
        )

    entry, trips = _round_trips(move)

    assert trips == 3
    assert entry.replayed is False


def test_a_replayed_transfer_says_so_and_moves_nothing(open_wallet):
    payer, payee = open_wallet("100"), open_wallet()
    kwargs = {"debit_account_id": payer.pk, "credit_account_id": payee.pk, "amount": "10", "currency": "USD"}
    first = services.transfer_create(idempotency_key="t1", **kwargs)

    again = services.transfer_create(idempotency_key="t1", **kwargs)

    assert again.pk == first.pk
    assert again.replayed is True
    assert counters(payee) == (0, Decimal("10"), 0, 0)
    assert JournalEntry.objects.filter(idempotency_key="t1").count() == 1


def test_a_deposit_is_one_statement_once_the_clearing_account_exists(open_wallet):
    wallet = open_wallet("1")  # its funding opened the simulated rail's clearing account

    entry, trips = _round_trips(
        lambda: services.deposit_record(idempotency_key="d1", account_id=wallet.pk, amount=Decimal("5"), currency="USD")
    )

    assert trips == 3
    assert entry.replayed is False
    assert counters(wallet) == (0, Decimal("6"), 0, 0)


def test_the_first_deposit_in_a_currency_opens_its_clearing_account(open_wallet):
    wallet = open_wallet(currency="EUR")

    entry = services.deposit_record(idempotency_key="d1", account_id=wallet.pk, amount=Decimal("5"), currency="EUR")

    clearing = services.rail_clearing_account(rail="simulated", currency="EUR")
    assert sorted((line.account_id, line.side) for line in entry.lines.all()) == sorted(
        [(clearing.pk, "debit"), (wallet.pk, "credit")]
    )
    assert counters(clearing) == (Decimal("5"), 0, 0, 0)


def test_a_replayed_deposit_says_so_and_a_changed_one_conflicts(open_wallet):
    wallet = open_wallet("1")
    services.deposit_record(idempotency_key="d1", account_id=wallet.pk, amount=Decimal("5"), currency="USD")

    again = services.deposit_record(idempotency_key="d1", account_id=wallet.pk, amount=Decimal("5"), currency="USD")
    with pytest.raises(errors.IdempotencyConflictError):
        services.deposit_record(idempotency_key="d1", account_id=wallet.pk, amount=Decimal("6"), currency="USD")

    assert again.replayed is True
    assert counters(wallet) == (0, Decimal("6"), 0, 0)


def _pending_hold(payer, payee, key="h1"):
    return services.hold_create(
        idempotency_key=key, debit_account_id=payer.pk, credit_account_id=payee.pk, amount=Decimal("40"), currency="USD"
    )


def test_a_void_is_one_statement(open_wallet):
    payer, payee = open_wallet("100"), open_wallet()
    hold = _pending_hold(payer, payee)

    voided, trips = _round_trips(lambda: services.hold_void(hold_id=hold.pk, idempotency_key="v1", reason="no deal"))

    assert trips == 3
    assert (voided.status, voided.resolution_key, voided.void_reason) == (HoldStatus.VOIDED, "v1", "no deal")
    assert voided.replayed is False
    stored = Hold.objects.get(pk=hold.pk)
    assert (stored.status, stored.resolution_key, stored.void_reason) == (HoldStatus.VOIDED, "v1", "no deal")
    assert stored.resolved_at is not None
    assert counters(payer) == (0, Decimal("100"), 0, 0)
    assert counters(payee) == (0, 0, 0, 0)


def test_a_void_replays_and_refuses_what_it_must(open_wallet):
    payer, payee = open_wallet("100"), open_wallet()
    hold = _pending_hold(payer, payee)
    services.hold_void(hold_id=hold.pk, idempotency_key="v1")

    again = services.hold_void(hold_id=hold.pk, idempotency_key="v1")
    with pytest.raises(errors.HoldAlreadyResolvedError):
        services.hold_void(hold_id=hold.pk, idempotency_key="v2")
    other = _pending_hold(payer, payee, key="h2")
    with pytest.raises(errors.IdempotencyConflictError):
        services.hold_void(hold_id=other.pk, idempotency_key="v1")  # v1 already resolved another hold
    services.transfer_create(
        idempotency_key="used",
        debit_account_id=payer.pk,
        credit_account_id=payee.pk,
        amount=Decimal("1"),
        currency="USD",
    )
    with pytest.raises(errors.IdempotencyConflictError):
        services.hold_void(hold_id=other.pk, idempotency_key="used")  # a key names one operation
    with pytest.raises(NotFoundError):
        services.hold_void(hold_id=10**12, idempotency_key="v9")

    assert again.replayed is True
    assert Hold.objects.get(pk=other.pk).status == HoldStatus.PENDING
    assert counters(payer) == (Decimal("1"), Decimal("100"), Decimal("40"), 0)
