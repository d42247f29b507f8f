"""An employer's EA top-up through Stripe: credited when Stripe confirms it, never on HR's word."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import pytest

from endorsements.models import EndorsementRequest
from endorsements.states import RequestState
from ledger.models import RailPayment
from tests.endorsements.conftest import addition, day
from tests.stripe_peer import StripeReplay, pay_at_stripe, stripe_signed

pytestmark = pytest.mark.django_db


def _balance(client: Any) -> Decimal:
    accounts = client.get("/api/v1/ledger/balance").json()["accounts"]
    return Decimal(accounts[0]["balance"]) if accounts else Decimal(0)


def test_a_top_up_waits_for_stripe_then_wakes_parked_requests(
    live_world: Any, client_for: Any, api_client: Any, stripe_platform: StripeReplay, localstripe_url: str
) -> None:
    hr = client_for(live_world.hr)
    hr.post("/api/v1/endorsements/", addition("E-1", effective=day(5), plan="DAY"), format="json")
    assert EndorsementRequest.objects.get().state == RequestState.ON_HOLD_FUNDS

    asked = hr.post(
        "/api/v1/ledger/topup", {"amount": "200.00", "currency": "USD"}, format="json", HTTP_IDEMPOTENCY_KEY="top-1"
    )
    assert asked.status_code == 202, asked.content
    body = asked.json()
    assert body["woken"] is None
    assert body["payment"]["rail"] == "stripe"
    assert body["payment"]["client_secret"].startswith(body["payment"]["reference"])
    assert _balance(hr) == 0  # asking is not paying
    assert EndorsementRequest.objects.get().state == RequestState.ON_HOLD_FUNDS

    pay_at_stripe(localstripe_url, body["payment"]["reference"])
    payment = RailPayment.objects.get(public_id=body["payment"]["id"])
    event = {
        "id": f"evt_{uuid.uuid4().hex[:16]}", "object": "event", "type": "payment_intent.succeeded",
        "livemode": False, "created": int(time.time()),
        "data": {"object": {"id": payment.reference, "object": "payment_intent", "amount": 20000,
                            "currency": "usd", "status": "succeeded"}},
    }  # fmt: skip
    for _ in range(2):  # Stripe may deliver twice: one credit
        answer = api_client.post(
            "/api/v1/webhooks/stripe",
            data=stripe_signed(event)[0],
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=stripe_signed(event)[1],
        )
        assert answer.status_code == 200
    assert _balance(hr) == Decimal("200.00")
    assert EndorsementRequest.objects.get().state != RequestState.ON_HOLD_FUNDS  # woken by the credit

    again = hr.post(
        "/api/v1/ledger/topup", {"amount": "300.00", "currency": "USD"}, format="json", HTTP_IDEMPOTENCY_KEY="top-1"
    )
    assert again.status_code in (409, 422)  # a key reused for another amount is refused
    assert _balance(hr) == Decimal("200.00")
