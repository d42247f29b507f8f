from __future__ import annotations

from decimal import Decimal

import pytest

from ledger import errors, services
from ledger.models import JournalEntry, JournalLine
from ledger.selectors import account_balance, invariants_check
from ledger.types import LineSpec
from tests.ledger.conftest import counters

pytestmark = pytest.mark.django_db


def test_transfer_moves_money_and_updates_four_counters(open_wallet):
    payer, payee = open_wallet("100.00"), open_wallet()

    entry = services.transfer_create(
        idempotency_key="t1",
        debit_account_id=payer.pk,
        credit_account_id=payee.pk,
        amount=Decimal("30.25"),
        currency="USD",
    )

    assert account_balance(account_id=payer.pk).available == Decimal("69.75")
    assert account_balance(account_id=payee.pk).balance == Decimal("30.25")
    assert counters(payer) == (Decimal("30.25"), Decimal("100.00"), 0, 0)
    lines = list(entry.lines.order_by("id"))
    assert [(line.account_id, line.side, line.amount) for line in lines] == [
        (payer.pk, "debit", Decimal("30.25")),
        (payee.pk, "credit", Decimal("30.25")),
    ]
    assert invariants_check().ok


def test_same_key_same_content_returns_original_and_moves_once(open_wallet):
    payer, payee = open_wallet("100"), open_wallet()
    kwargs = {"idempotency_key": "dup", "debit_account_id": payer.pk, "credit_account_id": payee.pk, "currency": "USD"}

    first = services.transfer_create(amount=Decimal("10"), **kwargs)
    second = services.transfer_create(amount=Decimal("10.00"), **kwargs)

    assert first.pk == second.pk
    assert account_balance(account_id=payee.pk).balance == Decimal("10")


def test_same_key_other_content_is_refused_naming_the_key(open_wallet):
    payer, payee = open_wallet("100"), open_wallet()
    services.transfer_create(
        idempotency_key="k-42",
        debit_account_id=payer.pk,
        credit_account_id=payee.pk,
        amount=Decimal("10"),
        currency="USD",
    )

    with pytest.raises(errors.IdempotencyConflictError) as caught:
        services.transfer_create(
            idempotency_key="k-42",
            debit_account_id=payer.pk,
            credit_account_id=payee.pk,
            amount=Decimal("11"),
            currency="USD",
        )

    assert caught.value.code == "idempotency_conflict"
    assert "'k-42'" in caught.value.detail
    assert account_balance(account_id=payee.pk).balance == Decimal("10")


@pytest.mark.parametrize(
    ("amount", "currency", "error", "code"),
    [
        (Decimal("0"), "USD", errors.InvalidAmountError, "invalid_amount"),
        (Decimal("-5"), "USD", errors.InvalidAmountError, "invalid_amount"),
        (Decimal("1.001"), "USD", errors.InvalidAmountError, "invalid_amount"),
        (1.5, "USD", errors.InvalidAmountError, "invalid_amount"),
        ("abc", "USD", errors.InvalidAmountError, "invalid_amount"),
        (Decimal("5"), "EUR", errors.CurrencyMismatchError, "currency_mismatch"),
        (Decimal("5"), "XXX", errors.CurrencyMismatchError, "currency_mismatch"),
        (Decimal("100.01"), "USD", errors.InsufficientFundsError, "insufficient_funds"),
    ],
)
def test_bad_transfers_are_refused_and_change_nothing(open_wallet, amount, currency, error, code):
    payer, payee = open_wallet("100"), open_wallet()
    entries_before = JournalEntry.objects.count()

    with pytest.raises(error) as caught:
        services.transfer_create(
            idempotency_key="bad",
            debit_account_id=payer.pk,
            credit_account_id=payee.pk,
            amount=amount,
            currency=currency,
        )

    assert caught.value.code == code
    assert JournalEntry.objects.count() == entries_before
    assert counters(payer) == (0, Decimal("100"), 0, 0)
    assert counters(payee) == (0, 0, 0, 0)


def test_unknown_and_closed_accounts_are_refused(open_wallet):
    payer, payee = open_wallet("100"), open_wallet()
    with pytest.raises(errors.UnknownAccountError):
        services.transfer_create(
            idempotency_key="u",
            debit_account_id=payer.pk,
            credit_account_id=999999,
            amount=Decimal("1"),
            currency="USD",
        )
    services.account_close(account_id=payee.pk)
    with pytest.raises(errors.AccountClosedError):
        services.transfer_create(
            idempotency_key="c",
            debit_account_id=payer.pk,
            credit_account_id=payee.pk,
            amount=Decimal("1"),
            currency="USD",
        )
    assert counters(payer) == (0, Decimal("100"), 0, 0)


def test_closing_an_account_with_money_is_refused(open_wallet):
    wallet = open_wallet("5")
    with pytest.raises(errors.AccountNotEmptyError):
        services.account_close(account_id=wallet.pk)
    wallet.refresh_from_db()
    assert wallet.closed_at is None


def test_unguarded_account_may_go_negative_guarded_may_not(open_wallet):
    loose, guarded, sink = open_wallet(no_overdraft=False), open_wallet("1"), open_wallet()
    services.transfer_create(
        idempotency_key="neg", debit_account_id=loose.pk, credit_account_id=sink.pk, amount=Decimal("5"), currency="USD"
    )
    assert account_balance(account_id=loose.pk).balance == Decimal("-5")
    with pytest.raises(errors.InsufficientFundsError):
        services.transfer_create(
            idempotency_key="neg2",
            debit_account_id=guarded.pk,
            credit_account_id=sink.pk,
            amount=Decimal("2"),
            currency="USD",
        )


def test_multi_line_entry_must_balance(open_wallet):
    payer, a, b = open_wallet("100"), open_wallet(), open_wallet()
    with pytest.raises(errors.UnbalancedEntryError):
        services.entry_create(
            idempotency_key="m",
            lines=[
                LineSpec(payer.pk, "debit", Decimal("10"), "USD"),
                LineSpec(a.pk, "credit", Decimal("6"), "USD"),
                LineSpec(b.pk, "credit", Decimal("3"), "USD"),
            ],
        )
    assert JournalLine.objects.filter(account=a).count() == 0
    services.entry_create(
        idempotency_key="m",
        lines=[
            LineSpec(payer.pk, "debit", Decimal("10"), "USD"),
            LineSpec(a.pk, "credit", Decimal("6"), "USD"),
            LineSpec(b.pk, "credit", Decimal("4"), "USD"),
        ],
    )
    assert account_balance(account_id=b.pk).balance == Decimal("4")


def test_reverse_restores_balances_once(open_wallet):
    payer, payee = open_wallet("50"), open_wallet()
    entry = services.transfer_create(
        idempotency_key="r", debit_account_id=payer.pk, credit_account_id=payee.pk, amount=Decimal("20"), currency="USD"
    )
    reversal = services.entry_reverse(entry_id=entry.pk, idempotency_key="r-rev", reason="typo")
    assert reversal.reverses_id == entry.pk
    assert account_balance(account_id=payer.pk).balance == Decimal("50")
    assert services.entry_reverse(entry_id=entry.pk, idempotency_key="r-rev", reason="typo").pk == reversal.pk
    with pytest.raises(errors.EntryAlreadyReversedError):
        services.entry_reverse(entry_id=entry.pk, idempotency_key="r-rev-2", reason="again")
    assert account_balance(account_id=payee.pk).balance == Decimal("0")


def test_account_open_is_idempotent_and_refuses_other_attributes():
    first = services.account_open(
        owner_type="organization", owner_id="7", purpose="wallet", currency="EUR", normal_side="credit"
    )
    again = services.account_open(
        owner_type="organization", owner_id="7", purpose="wallet", currency="EUR", normal_side="credit"
    )
    assert first.pk == again.pk
    with pytest.raises(errors.AccountConflictError):
        services.account_open(
            owner_type="organization", owner_id="7", purpose="wallet", currency="EUR", normal_side="debit"
        )


def test_no_overdraft_sets_the_guard_of_the_normal_side():
    credit = services.account_open(
        owner_type="o", owner_id="1", purpose="wallet", currency="USD", normal_side="credit", no_overdraft=True
    )
    debit = services.account_open(
        owner_type="o", owner_id="1", purpose="asset", currency="USD", normal_side="debit", no_overdraft=True
    )
    assert (credit.debits_must_not_exceed_credits, credit.credits_must_not_exceed_debits) == (True, False)
    assert (debit.debits_must_not_exceed_credits, debit.credits_must_not_exceed_debits) == (False, True)
