"""One amount parser at every door: refused with a 422 naming the field, nothing written; amounts
leave with exactly their currency's decimals."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from tests.transactions.factories import fund, make_escrow
from tests.transactions.test_api import BASE, _create_body
from transactions.models import Deposit, EscrowTransaction

BAD_AMOUNTS = [
    400000.5,  # a JSON number: already rounded by the client
    400000,
    "1e3",
    "4E+5",
    "400000.000",  # more decimals than USD has
    "\u0664\u0660\u0660\u0660\u0660\u0660",  # Arabic-Indic digits
    " 400000.00",
    "400000.00 ",
    "400,000.00",
    "1e30",
    "9" * 40,
    "-400000.00",
    "NaN",
    "",
    True,
]


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_a_bad_amount_on_create_is_a_422_naming_the_field(world, client_for, amount):
    response = client_for(world.officer).post(
        f"{BASE}/transactions/", {**_create_body(world), "purchase_price": amount}, format="json"
    )

    assert (response.status_code, response.json()["code"]) == (422, "invalid_amount"), response.json()
    assert [e["field"] for e in response.json()["errors"]] == ["purchase_price"]
    assert EscrowTransaction.objects.count() == 0
    assert AuditEvent.objects.count() == 0


@pytest.mark.parametrize("amount", ["10.000", "1e3", 20000.0, " 20000.00"])
def test_a_bad_deposit_amount_writes_nothing(world, client_for, amount):
    txn = make_escrow(world)
    client_for(world.officer).post(f"{BASE}/transactions/{txn.public_id}/open/")
    before = AuditEvent.objects.count()

    response = client_for(world.officer).post(
        f"{BASE}/transactions/{txn.public_id}/deposits/", {"kind": "earnest", "amount": amount}, format="json"
    )

    assert (response.status_code, response.json()["code"]) == (422, "invalid_amount")
    assert response.json()["errors"][0]["field"] == "amount"
    assert Deposit.objects.count() == 0
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("value", ["", "NaN", "abc", "Infinity", 2.5, "11", "-1", "2.55555"])
def test_a_bad_commission_on_patch_is_a_422_and_changes_nothing(world, client_for, value):
    txn = make_escrow(world)

    response = client_for(world.officer).patch(
        f"{BASE}/transactions/{txn.public_id}/", {"buyer_agent_commission_pct": value}, format="json"
    )

    assert response.status_code == 422, response.json()
    assert response.json()["errors"][0]["field"] == "buyer_agent_commission_pct"
    assert str(EscrowTransaction.objects.get(pk=txn.pk).buyer_agent_commission_pct) == "2.5000"


def test_a_good_commission_patch_applies(world, client_for):
    txn = make_escrow(world)

    response = client_for(world.officer).patch(
        f"{BASE}/transactions/{txn.public_id}/", {"buyer_agent_commission_pct": "3.125"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert str(EscrowTransaction.objects.get(pk=txn.pk).buyer_agent_commission_pct) == "3.1250"


def test_amounts_leave_with_the_currencys_decimals(world, client_for):
    txn = fund(world, make_escrow(world))

    data = client_for(world.officer).get(f"{BASE}/transactions/{txn.public_id}/").json()
    payments = client_for(world.officer).get(f"{BASE}/transactions/{txn.public_id}/payments/").json()

    assert (data["purchase_price"], data["earnest_money"], data["loan_amount"]) == (
        "400000.00",
        "20000.00",
        "300000.00",
    )
    assert sorted(m["amount"] for m in data["milestones"]) == ["0.00", "1200.00", "400.00", "500.00"]
    assert all(len(p["amount"].split(".")[1]) == 2 for p in payments)
