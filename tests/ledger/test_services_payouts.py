from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ledger import errors, services, signals
from ledger.models import EntryKind, JournalEntry, PayoutIntent
from ledger.selectors import account_balance, invariants_check
from ledger.services import payouts_in_flight_account, rail_clearing_account
from ledger.states import PayoutStatus

pytestmark = pytest.mark.django_db


def _request(wallet, key="po-1", amount="60", beneficiary=None):
    return services.payout_request(
        idempotency_key=key,
        account_id=wallet.pk,
        amount=Decimal(amount),
        currency="USD",
        beneficiary=beneficiary or {"iban": "DE89370400440532013000", "name": "A. Seller"},
        metadata={"escrow": "E-1"},
    )


def test_deposit_arrives_through_the_rail_clearing_account(open_wallet):
    wallet = open_wallet()
    services.deposit_record(
        idempotency_key="d", account_id=wallet.pk, amount=Decimal("12.50"), currency="USD", provider_reference="ch_1"
    )
    clearing = rail_clearing_account(rail="simulated", currency="USD")
    assert account_balance(account_id=wallet.pk).balance == Decimal("12.50")
    assert account_balance(account_id=clearing.pk).balance == Decimal("12.50")


def test_payout_is_dispatched_after_commit_and_succeeds(open_wallet, django_capture_on_commit_callbacks):
    wallet = open_wallet("100")
    received = []
    signals.payout_succeeded.connect(lambda **kw: received.append(kw["payout_id"]), weak=False, dispatch_uid="t1")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            payout = _request(wallet)
    finally:
        signals.payout_succeeded.disconnect(dispatch_uid="t1")

    payout.refresh_from_db()
    assert payout.status == PayoutStatus.SUCCEEDED
    assert payout.provider_reference.startswith("sim_tr_")
    assert received == [payout.pk]
    assert account_balance(account_id=wallet.pk).balance == Decimal("40")
    assert account_balance(account_id=payouts_in_flight_account(currency="USD").pk).balance == 0
    assert account_balance(account_id=rail_clearing_account(rail="simulated", currency="USD").pk).balance == Decimal(
        "40"
    )
    stored: Any = PayoutIntent.objects.get(pk=payout.pk).beneficiary
    assert stored["name"] == "A. Seller"
    assert invariants_check().ok


def test_failed_payout_returns_money_then_retry_pays_once(open_wallet, django_capture_on_commit_callbacks):
    wallet = open_wallet("100")
    failures = []
    signals.payout_failed.connect(lambda **kw: failures.append(kw["payout_id"]), weak=False, dispatch_uid="t2")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            payout = _request(wallet, beneficiary={"simulate": "fail_first_attempt"})
    finally:
        signals.payout_failed.disconnect(dispatch_uid="t2")
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.FAILED
    assert failures == [payout.pk]
    assert account_balance(account_id=wallet.pk).balance == Decimal("100")
    assert JournalEntry.objects.get(reverses=payout.request_entry).kind == EntryKind.REVERSAL

    with django_capture_on_commit_callbacks(execute=True):
        retry = services.payout_retry(payout_id=payout.pk, idempotency_key="po-1-retry")
    assert services.payout_retry(payout_id=payout.pk, idempotency_key="po-1-retry").pk == retry.pk
    with pytest.raises(errors.DomainError) as caught:
        services.payout_retry(payout_id=payout.pk, idempotency_key="po-1-retry-b")
    assert caught.value.code == "payout_already_retried"
    retry.refresh_from_db()
    assert (retry.status, retry.attempt) == (PayoutStatus.SUCCEEDED, 2)
    assert account_balance(account_id=wallet.pk).balance == Decimal("40")
    assert invariants_check().ok


def test_unknown_outcome_cannot_be_retried_and_redispatch_reuses_the_rail_key(
    open_wallet, django_capture_on_commit_callbacks
):
    wallet = open_wallet("100")
    with django_capture_on_commit_callbacks(execute=True):
        payout = _request(wallet, beneficiary={"simulate": "unknown"})
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.UNKNOWN
    assert account_balance(account_id=wallet.pk).balance == Decimal("40")  # still in flight
    with pytest.raises(errors.PayoutOutcomeUnknownError):
        services.payout_retry(payout_id=payout.pk, idempotency_key="nope")
    key = payout.rail_idempotency_key
    again = services.payout_dispatch(payout_id=payout.pk)
    assert (again.rail_idempotency_key, again.dispatch_count) == (key, 2)
    services.payout_record_outcome(payout_id=payout.pk, status=PayoutStatus.SUCCEEDED, provider_reference="tr_9")
    assert services.payout_record_outcome(payout_id=payout.pk, status=PayoutStatus.SUCCEEDED).status == "succeeded"
    with pytest.raises(errors.InvalidTransitionError):
        services.payout_record_outcome(payout_id=payout.pk, status=PayoutStatus.FAILED)
    assert invariants_check().ok


def test_payout_beyond_balance_is_refused(open_wallet):
    wallet = open_wallet("10")
    with pytest.raises(errors.InsufficientFundsError):
        _request(wallet, amount="10.01")
    assert PayoutIntent.objects.count() == 0
    assert account_balance(account_id=wallet.pk).balance == Decimal("10")


def test_payout_key_replays_and_conflicts(open_wallet):
    wallet = open_wallet("100")
    first = _request(wallet)
    assert _request(wallet).pk == first.pk
    with pytest.raises(errors.IdempotencyConflictError):
        _request(wallet, amount="61")
    assert account_balance(account_id=wallet.pk).balance == Decimal("40")
