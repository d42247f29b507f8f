"""Paying into an escrow on the embedded default: asked, then paid by the sandbox payer, then credited."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from tests.transactions.factories import World, make_escrow, wallet_balance
from transactions import services
from transactions.models import Deposit, EscrowTransaction

pytestmark = pytest.mark.django_db
BASE = "/api/v1/escrow"


def test_asking_to_pay_is_not_paying_until_the_payer_pays(world: World, client_for: Any) -> None:
    txn = make_escrow(world)
    services.escrow_open(transaction_id=txn.pk, actor=world.officer)
    buyer = client_for(world.buyer_user)
    asked = buyer.post(
        f"{BASE}/transactions/{txn.public_id}/payments-in/",
        {"kind": "earnest"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert asked.status_code == 201
    assert (asked.json()["status"], asked.json()["amount"], asked.json()["rail"]) == (
        "requires_payment_method",
        "20000.00",
        "simulated",
    )
    assert wallet_balance(txn) == 0
    seller = client_for(world.seller_user).post(
        f"{BASE}/transactions/{txn.public_id}/payments-in/", {"kind": "earnest"}, format="json"
    )
    assert seller.status_code in (403, 404)  # only the payer (or escrow staff) asks to pay

    paid = buyer.post("/api/v1/sandbox/payments/pay", {"client_secret": asked.json()["client_secret"]}, format="json")
    assert paid.json()["status"] == "succeeded"
    assert Deposit.objects.get(transaction=txn).amount == Decimal("20000.00")
    assert wallet_balance(txn) == Decimal("20000.00")
    assert EscrowTransaction.objects.get(pk=txn.pk).status == "verifying"
    twice = buyer.post("/api/v1/sandbox/payments/pay", {"client_secret": asked.json()["client_secret"]}, format="json")
    assert twice.json()["status"] == "succeeded"
    assert Deposit.objects.filter(transaction=txn).count() == 1
    assert wallet_balance(txn) == Decimal("20000.00")


def test_the_sandbox_payer_does_not_exist_next_to_a_real_rail(world: World, client_for: Any, settings: Any) -> None:
    settings.PAYMENT_RAIL = "stripe"
    answer = client_for(world.buyer_user).post(
        "/api/v1/sandbox/payments/pay", {"client_secret": "sim_pi_x_secret_y"}, format="json"
    )
    assert answer.status_code == 404
