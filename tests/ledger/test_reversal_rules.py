"""Which entries an operator may reverse, and what the invariant check says when money is created."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger import errors, services
from ledger.models import EntryKind, JournalEntry
from ledger.selectors import account_balance, invariants_check
from ledger.services import payouts_in_flight_account
from ledger.services.entries import _reverse
from ledger.states import PayoutStatus
from tests.factories import operator
from tests.ledger.conftest import counters

pytestmark = pytest.mark.django_db


def _payout(wallet, key="po-rev", beneficiary=None):
    """Requested only: the on-commit dispatch does not run inside the test's transaction."""
    return services.payout_request(
        idempotency_key=key,
        account_id=wallet.pk,
        amount=Decimal("60"),
        currency="USD",
        beneficiary=beneficiary or {"iban": "DE89370400440532013000"},
    )


def _refused(entry_id: int, key: str = "rev-x") -> None:
    entries_before = JournalEntry.objects.count()
    with pytest.raises(errors.EntryNotReversibleError) as caught:
        services.entry_reverse(entry_id=entry_id, idempotency_key=key, reason="operator")
    assert caught.value.code == "entry_not_reversible"
    assert caught.value.status == 409
    assert JournalEntry.objects.count() == entries_before
    assert not JournalEntry.objects.filter(reverses_id=entry_id).exists()


def test_a_payout_in_flight_cannot_be_reversed(open_wallet):
    wallet = open_wallet("100")
    payout = _payout(wallet)  # the rail is not called yet: in flight
    in_flight = payouts_in_flight_account(currency="USD")
    before = counters(wallet), counters(in_flight)

    _refused(payout.request_entry_id)

    assert (counters(wallet), counters(in_flight)) == before
    assert account_balance(account_id=wallet.pk).balance == Decimal("40")
    # The payout can still settle, and the books stay right.
    services.payout_dispatch(payout_id=payout.pk)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.SUCCEEDED
    assert account_balance(account_id=in_flight.pk).balance == 0
    assert invariants_check().ok


def test_settlement_failure_reversal_and_hold_post_cannot_be_reversed(open_wallet):
    wallet, seller = open_wallet("200"), open_wallet()
    settled = services.payout_dispatch(payout_id=_payout(wallet, "po-ok").pk)
    assert settled.status == PayoutStatus.SUCCEEDED
    failed = services.payout_dispatch(payout_id=_payout(wallet, "po-fail", {"simulate": "fail"}).pk)
    assert failed.status == PayoutStatus.FAILED
    hold = services.hold_create(
        idempotency_key="h",
        debit_account_id=wallet.pk,
        credit_account_id=seller.pk,
        amount=Decimal("5"),
        currency="USD",
    )
    post = services.hold_post(hold_id=hold.pk, idempotency_key="h-post")
    # Reversing the failure's reversal would take the refunded money out of the wallet a second time.
    assert settled.outcome_entry is not None
    assert failed.outcome_entry is not None
    assert settled.outcome_entry.kind == EntryKind.PAYOUT_SETTLEMENT
    assert failed.outcome_entry.kind == EntryKind.REVERSAL
    balances = [counters(wallet), counters(seller)]

    for n, entry_id in enumerate(
        [settled.request_entry_id, settled.outcome_entry.pk, failed.outcome_entry.pk, post.pk]
    ):
        _refused(entry_id, key=f"rev-{n}")

    assert [counters(wallet), counters(seller)] == balances
    assert invariants_check().ok


def test_plain_transfers_adjustments_and_deposits_stay_reversible(open_wallet):
    wallet, other = open_wallet("50"), open_wallet()
    transfer = services.transfer_create(
        idempotency_key="t",
        debit_account_id=wallet.pk,
        credit_account_id=other.pk,
        amount=Decimal("10"),
        currency="USD",
    )
    adjustment = services.adjustment_record(
        idempotency_key="a", account_id=wallet.pk, amount=Decimal("1"), currency="USD", direction="credit", reason="fee"
    )
    deposit = JournalEntry.objects.get(idempotency_key=f"fund-{wallet.pk}")
    for entry in (transfer, adjustment, deposit):
        services.entry_reverse(entry_id=entry.pk, idempotency_key=f"rev-{entry.pk}", reason="typo")
    assert account_balance(account_id=wallet.pk).balance == 0
    assert account_balance(account_id=other.pk).balance == 0
    assert invariants_check().ok


def test_api_refuses_to_reverse_a_payout_with_its_code(open_wallet, client_for):
    wallet = open_wallet("100")
    payout = _payout(wallet)
    response = client_for(operator()).post(
        f"/api/v1/ledger/entries/{payout.request_entry.public_id}/reverse/",
        {"reason": "customer asked"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="api-rev",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "entry_not_reversible"
    assert account_balance(account_id=wallet.pk).balance == Decimal("40")
    assert not JournalEntry.objects.filter(kind=EntryKind.REVERSAL).exists()


def test_invariant_check_catches_money_created_through_payouts_in_flight(open_wallet):
    """What the unrestricted reversal used to allow: the wallet refunded, then the rail pays anyway."""
    wallet = open_wallet("100")
    payout = services.payout_dispatch(payout_id=_payout(wallet, beneficiary={"simulate": "unknown"}).pk)
    assert payout.status == PayoutStatus.UNKNOWN
    assert invariants_check().ok
    _reverse(entry_id=payout.request_entry_id, idempotency_key="internal-rev", reason="bypass")  # the old hole
    services.payout_record_outcome(payout_id=payout.pk, status=PayoutStatus.SUCCEEDED)

    in_flight = payouts_in_flight_account(currency="USD")
    assert account_balance(account_id=in_flight.pk).balance == Decimal("-60")
    report = invariants_check()
    assert not report.ok
    assert any("payouts_in_flight balance -60" in b for b in report.breaches), report.breaches
