"""A wire received outside the payment rail: entered by hand by escrow staff, four eyes above the threshold."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from audit.models import AuditEvent
from identity.models import Role
from tests.console import confirm
from tests.factories import member
from tests.transactions.factories import World, make_escrow, wallet_balance
from transactions import services
from transactions.models import Deposit, EscrowTransaction, ManualDeposit

BASE = "/api/v1/escrow"
pytestmark = pytest.mark.django_db


def _opened(world: World) -> EscrowTransaction:
    txn = make_escrow(world)
    services.escrow_open(transaction_id=txn.pk, actor=world.officer)
    return txn


def _record(client: Any, txn: EscrowTransaction, kind: str = "earnest", amount: str = "20000.00") -> Any:
    return client.post(
        f"{BASE}/transactions/{txn.public_id}/deposits/",
        {"kind": kind, "amount": amount, "provider_reference": "FED-20261203-0042"},
        format="json",
    )


def _decide(client: Any, txn: EscrowTransaction, wire_id: str, verb: str, **body: str) -> Any:
    return client.post(f"{BASE}/transactions/{txn.public_id}/manual-deposits/{wire_id}/{verb}/", body, format="json")


def test_a_large_wire_waits_for_a_second_person_then_counts(world: World, client_for: Any) -> None:
    txn = _opened(world)
    recorded = _record(client_for(world.officer), txn)
    assert recorded.status_code == 202
    wire = recorded.json()
    assert (wire["status"], wire["amount"], wire["recorded_by"]) == ("pending", "20000.00", world.officer.username)
    assert wallet_balance(txn) == 0
    assert EscrowTransaction.objects.get(pk=txn.pk).status == "awaiting_earnest_money"

    own = _decide(client_for(world.officer), txn, wire["id"], "confirm")
    assert (own.status_code, own.json()["code"]) == (403, "four_eyes_required")
    for party in (world.buyer_user, world.seller_user):
        assert _decide(client_for(party), txn, wire["id"], "confirm").status_code in (403, 404)
    assert wallet_balance(txn) == 0

    confirmed = _decide(client_for(world.operator), txn, wire["id"], "confirm")
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "verifying"
    assert wallet_balance(txn) == Decimal("20000.00")
    deposit = Deposit.objects.get(transaction=txn)
    assert deposit.provider_reference == "FED-20261203-0042"
    assert ManualDeposit.objects.get().decided_by == world.operator
    kinds = set(AuditEvent.objects.filter(subject_id=str(txn.public_id)).values_list("kind", flat=True))
    assert {"escrow.manual_deposit_recorded", "escrow.manual_deposit_confirmed", "escrow.deposit_received"} <= kinds
    again = _decide(client_for(world.operator2), txn, wire["id"], "confirm")
    assert (again.status_code, again.json()["code"]) == (409, "manual_deposit_closed")
    assert Deposit.objects.filter(transaction=txn).count() == 1


def test_another_escrow_officer_of_the_same_company_may_be_the_second_person(world: World, client_for: Any) -> None:
    txn = _opened(world)
    wire = _record(client_for(world.officer), txn).json()
    colleague = member(Role.ESCROW_OFFICER, world.title_company)
    outsider_officer = member(Role.ESCROW_OFFICER)  # an escrow officer of another company
    assert _decide(client_for(outsider_officer), txn, wire["id"], "confirm").status_code in (403, 404)
    assert _decide(client_for(colleague), txn, wire["id"], "confirm").status_code == 200
    assert wallet_balance(txn) == Decimal("20000.00")


def test_a_rejected_wire_moves_nothing(world: World, client_for: Any) -> None:
    txn = _opened(world)
    wire = _record(client_for(world.officer), txn).json()
    assert _decide(client_for(world.operator), txn, wire["id"], "reject").status_code == 400  # a reason is required
    rejected = _decide(client_for(world.operator), txn, wire["id"], "reject", reason="Not on the bank statement")
    assert rejected.status_code == 200
    assert rejected.json()["status"] == "rejected"
    assert wallet_balance(txn) == 0
    assert not Deposit.objects.exists()
    # The officer may record the wire again once it has really arrived.
    assert _record(client_for(world.officer), txn).status_code == 202


def test_a_small_wire_is_recorded_at_once(world: World, client_for: Any, settings: Any) -> None:
    settings.ESCROW_MANUAL_DEPOSIT_CONFIRM_ABOVE = "25000.00"
    txn = _opened(world)
    recorded = _record(client_for(world.officer), txn)
    assert recorded.status_code == 201
    assert recorded.json()["status"] == "verifying"
    assert not ManualDeposit.objects.exists()


def test_a_wire_of_the_wrong_amount_or_twice_pending_is_refused(world: World, client_for: Any) -> None:
    txn = _opened(world)
    wrong = _record(client_for(world.officer), txn, amount="25000.00")
    assert (wrong.status_code, wrong.json()["code"]) == (422, "amount_mismatch")
    assert not ManualDeposit.objects.exists()
    assert _record(client_for(world.officer), txn).status_code == 202
    twice = _record(client_for(world.operator), txn)
    assert (twice.status_code, twice.json()["code"]) == (409, "manual_deposit_pending")
    assert ManualDeposit.objects.count() == 1


def test_the_operator_console_confirms_a_wire_only_as_the_second_person(
    world: World, client_for: Any, client: Any
) -> None:
    txn = _opened(world)
    wire = _record(client_for(world.operator), txn).json()
    row = ManualDeposit.objects.get(public_id=wire["id"])
    for person in (world.operator, world.operator2):
        person.is_superuser = True
        person.save()

    client.force_login(world.operator)
    own = confirm(client, row, "confirm", reason="On the bank statement of 3 December")
    assert "not the one who asked for it" in own.content.decode()
    assert wallet_balance(txn) == 0

    client.force_login(world.operator2)
    confirm(client, row, "confirm", reason="On the bank statement of 3 December")
    assert ManualDeposit.objects.get(pk=row.pk).status == "confirmed"
    assert wallet_balance(txn) == Decimal("20000.00")
