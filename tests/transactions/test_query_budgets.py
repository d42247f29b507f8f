"""Query budgets of the escrow API's write routes: a request that grows an N+1 (per party, per member,
per milestone) or pulls work back into the request transaction fails here, long before a benchmark.

The budgets are what the routes take today on the first deal (its payees' ledger accounts are
opened then; later deals take a few queries fewer) plus a little room; the figures before the notification
fan-out moved to a worker are in docs/benchmarks/escrow.md (open: 140, confirming the earnest money:
142, settlement execute: 262).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from identity.models import Role
from notifications.models import Notification, NotificationFanout
from tests.factories import fanouts_expand, member
from tests.transactions.factories import deliver, dispatch_payouts
from tests.transactions.test_api import BASE, _create_body
from transactions.models import EscrowTransaction

BUDGETS = {
    "create": 62,
    "open": 36,
    "deposit": 22,
    "confirm earnest": 100,
    "confirm": 44,
    "settlement": 9,
    "settlement execute": 160,
    "detail": 8,
}


@pytest.fixture
def clients(world, client_for) -> dict[str, Any]:
    return {
        "officer": client_for(world.officer),
        # Wires above ESCROW_MANUAL_DEPOSIT_CONFIRM_ABOVE need a second person of the escrow company.
        "second": client_for(member(Role.ESCROW_OFFICER, world.title_company)),
        "buyer": client_for(world.buyer_user),
    }


def _post(client: Any, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post(BASE + path, body, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert response.status_code in (200, 201, 202), response.json()
    return dict(response.json())


def _deposit(clients: dict[str, Any], txn: str, kind: str, amount: str, budgets: Any, confirm: str) -> None:
    with budgets(BUDGETS["deposit"]):
        pending = _post(clients["officer"], f"/transactions/{txn}/deposits/", {"kind": kind, "amount": amount})
    assert pending["status"] == "pending"  # above the four-eyes threshold
    with budgets(BUDGETS[confirm]):
        _post(clients["second"], f"/transactions/{txn}/manual-deposits/{pending['id']}/confirm/")


def test_each_write_route_of_a_whole_deal_stays_within_its_query_budget(world, clients, django_assert_max_num_queries):
    budgets = django_assert_max_num_queries
    with budgets(BUDGETS["create"]):
        txn = _post(clients["officer"], "/transactions/", _create_body(world))["id"]
    with budgets(BUDGETS["open"]):
        assert _post(clients["officer"], f"/transactions/{txn}/open/")["status"] == "awaiting_earnest_money"
    _deposit(clients, txn, "earnest", "20000.00", budgets, "confirm earnest")
    with budgets(BUDGETS["detail"]):
        assert clients["buyer"].get(f"{BASE}/transactions/{txn}/").json()["status"] == "verifying"

    row = EscrowTransaction.objects.get(public_id=txn)
    for kind in ("title", "inspection", "appraisal", "lending"):
        deliver(row, kind)
    dispatch_payouts()
    _deposit(clients, txn, "loan", "300000.00", budgets, "confirm")
    with budgets(BUDGETS["settlement"]):
        due = clients["buyer"].get(f"{BASE}/transactions/{txn}/settlement/").json()["statement"]["cash_from_buyer"]
    _deposit(clients, txn, "closing_funds", due, budgets, "confirm")
    with budgets(BUDGETS["settlement execute"]):
        assert _post(clients["officer"], f"/transactions/{txn}/settlement/execute/")["status"] == "executed"


def test_the_parties_are_told_by_the_worker_not_in_the_request(world, clients):
    txn = _post(clients["officer"], "/transactions/", _create_body(world))["id"]

    _post(clients["officer"], f"/transactions/{txn}/open/")

    waiting = NotificationFanout.objects.get(kind="transaction_initiated", subject_id=txn)
    assert waiting.expanded_at is None
    assert not Notification.objects.filter(kind="transaction_initiated").exists()
    fanouts_expand()
    told = Notification.objects.filter(kind="transaction_initiated", subject_id=txn)
    assert told.filter(recipient_user=world.buyer_user).exists()
    assert told.filter(recipient_user=world.officer).exists()
