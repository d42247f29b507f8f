"""Escrow money through Stripe: PaymentIntents on a real localstripe process, delivered by its signed
webhooks to a live server; Connect transfers replayed from Stripe's own example objects."""

from __future__ import annotations

import datetime
import io
import json
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

import pytest
import stripe
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from escrow_project.common.errors import ConflictError
from ledger import services as ledger_services
from ledger.models import PayoutIntent, RailEvent, RailPayment
from ledger.rails.stripe import StripeRail
from ledger.services.rail_statement import rail_statement_compare
from tests.stripe_peer import (
    SECRET_KEY,
    StripeReplay,
    localstripe_webhook,
    pay_at_stripe,
    stripe_rail_for,
    stripe_signed,
)
from tests.transactions.factories import World, deliver, dispatch_payouts, make_escrow, make_world, wallet_balance
from transactions import services
from transactions.models import Deposit, EscrowTransaction, PayeeProfile, Payment
from transactions.services.funds import payee_block_reason
from transactions.services.settlement import statement_for

WEBHOOK = "/api/v1/webhooks/stripe"


def _wait(predicate: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _connect_payees(peer: StripeReplay) -> None:
    """Every payee onboarded as an Express account that Stripe says can receive payouts."""
    for profile in PayeeProfile.objects.all():
        profile.stripe_account_id = peer.account_open()
        profile.stripe_payouts_enabled = True
        profile.save(update_fields=["stripe_account_id", "stripe_payouts_enabled"])


def _fund_on_stripe(w: World, txn: EscrowTransaction) -> EscrowTransaction:
    """Earnest money that arrived on the Stripe balance (the deposit a confirmed PaymentIntent makes)."""
    services.escrow_open(transaction_id=txn.pk, actor=w.officer)
    services.deposit_receive(
        transaction_id=txn.pk, kind="earnest", amount=txn.earnest_money, provider_reference="pi_test", rail="stripe"
    )
    return EscrowTransaction.objects.get(pk=txn.pk)


def _ask_to_pay(api: Any, txn: EscrowTransaction, kind: str) -> dict[str, Any]:
    answer = api.post(
        f"/api/v1/escrow/transactions/{txn.public_id}/payments-in/",
        {"kind": kind},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert answer.status_code == 201, answer.content
    return answer.json()


@pytest.mark.django_db(transaction=True)
def test_an_escrow_goes_from_earnest_money_to_settlement_through_stripe(
    stripe_platform: StripeReplay, localstripe_url: str, live_server: Any, client_for: Any
) -> None:
    localstripe_webhook(localstripe_url, url=f"{live_server.url}{WEBHOOK}")
    w = make_world()
    _connect_payees(stripe_platform)
    txn = make_escrow(w)
    services.escrow_open(transaction_id=txn.pk, actor=w.officer)

    earnest = _ask_to_pay(client_for(w.buyer_user), txn, "earnest")
    assert (earnest["amount"], earnest["status"], earnest["rail"]) == ("20000.00", "requires_payment_method", "stripe")
    assert earnest["client_secret"].startswith(earnest["reference"])
    assert wallet_balance(txn) == 0  # asking to pay is not paying
    pay_at_stripe(localstripe_url, earnest["reference"], balance=stripe_platform)
    # localstripe delivers payment_intent.succeeded, signed, to the live server: the deposit follows.
    _wait(lambda: Deposit.objects.filter(transaction=txn, kind="earnest").exists(), "the signed webhook")
    assert EscrowTransaction.objects.get(pk=txn.pk).status in {"verifying", "clear_to_close"}
    # The sandbox agents may already have been paid from the wallet (a payment exists once its fee
    # left the wallet for the payee's account): what entered is the deposit.
    assert Deposit.objects.get(transaction=txn, kind="earnest").amount == Decimal("20000.00")
    fees_released = sum((p.amount for p in Payment.objects.filter(transaction=txn, kind="milestone")), Decimal(0))
    assert wallet_balance(txn) + fees_released == Decimal("20000.00")

    # The sandbox agents (title, inspection, appraisal, lending) report on their own; each fee is a transfer.
    _wait(lambda: EscrowTransaction.objects.get(pk=txn.pk).status == "clear_to_close", "the verifications")
    fees = Payment.objects.filter(transaction=txn, kind="milestone", status="succeeded")
    assert sorted(fees.values_list("amount", flat=True)) == [Decimal("400"), Decimal("500"), Decimal("1200")]

    loan = _ask_to_pay(client_for(_lender_user(w)), txn, "loan")
    pay_at_stripe(localstripe_url, loan["reference"], balance=stripe_platform)
    cash = _ask_to_pay(client_for(w.buyer_user), txn, "closing_funds")
    assert Decimal(cash["amount"]) == statement_for(EscrowTransaction.objects.get(pk=txn.pk)).cash_from_buyer
    pay_at_stripe(localstripe_url, cash["reference"], balance=stripe_platform)
    # A verified retrieve gives the same answer as the webhook, whichever comes first.
    refreshed = client_for(w.buyer_user).post(
        f"/api/v1/escrow/transactions/{txn.public_id}/payments-in/{cash['id']}/refresh/"
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["status"] == "succeeded"
    _wait(lambda: Deposit.objects.filter(transaction=txn).count() == 3, "loan and cash-to-close deposits")

    services.settlement_execute(transaction_id=txn.pk, actor=w.officer)
    txn = EscrowTransaction.objects.get(pk=txn.pk)
    assert txn.status == "settled"
    assert wallet_balance(txn) == 0
    paid = Payment.objects.filter(transaction=txn, status="succeeded")
    assert paid.exclude(amount=0).count() == len(stripe_platform.transfers)  # one transfer per payout, none twice
    for payment in paid.exclude(amount=0).select_related("payee"):
        transfer = stripe_platform.transfers[
            PayoutIntent.objects.get(pk=cast(int, payment.payout_id)).provider_reference
        ]
        assert transfer["destination"] == PayeeProfile.objects.get(organization=payment.payee).stripe_account_id
        assert transfer["transfer_group"] == f"escrow-{txn.public_id}"
        assert Decimal(transfer["amount"]) / 100 == payment.amount
    total_in = sum(Deposit.objects.filter(transaction=txn).values_list("amount", flat=True))
    assert sum(t["amount"] for t in stripe_platform.transfers.values()) == int(total_in * 100)  # all in, all out
    applied = RailEvent.objects.filter(type="payment_intent.succeeded", verdict__in=["applied", "stale"])
    assert applied.count() >= 3

    # The day's rail statement agrees with the books line by line: three charges in, every transfer out.
    statement = rail_statement_compare(rail="stripe", day=datetime.datetime.now(datetime.UTC).date())
    assert statement.breaks == []
    assert statement.matched == 3 + len(stripe_platform.transfers)
    assert statement.net(statement.rail_lines) == statement.net(statement.book_lines) == {"USD": Decimal("0.00")}


@pytest.mark.django_db
def test_the_rail_statement_lists_every_difference_with_both_amounts(stripe_platform: StripeReplay) -> None:
    w = make_world()
    _connect_payees(stripe_platform)
    txn = _fund_on_stripe(w, make_escrow(w))  # booked as PaymentIntent pi_test: Stripe never saw it
    stripe_platform.charge_settled(amount=1_500_00, currency="usd", payment_intent="pi_nobody_booked")
    deliver(txn, "inspection")
    fee = Payment.objects.get(transaction=txn, payee=w.inspection_firm)
    ledger_services.payout_dispatch(payout_id=cast(int, fee.payout_id))
    [transfer] = stripe_platform.transfers.values()
    stripe_platform.balance[-1]["amount"] = -40000  # the rail says 400.00 left, the books 500.00

    report = rail_statement_compare(rail="stripe", day=datetime.datetime.now(datetime.UTC).date())

    found = {(b.problem, b.reference): (b.rail_amount, b.book_amount, b.difference) for b in report.breaks}
    assert found == {
        ("missing_at_rail", "pi_test"): (None, Decimal("20000.0000"), Decimal("-20000.0000")),
        ("missing_in_books", "pi_nobody_booked"): (Decimal("1500.00"), None, Decimal("1500.00")),
        ("amount_differs", transfer["id"]): (Decimal("-400.00"), Decimal("-500.0000"), Decimal("100.0000")),
    }
    assert report.matched == 0
    out = io.StringIO()
    with pytest.raises(CommandError, match="3 difference"):
        call_command("rail_statement", "--date", report.day.isoformat(), "--json", stdout=out)
    assert {b["problem"] for b in json.loads(out.getvalue())["breaks"]} == {
        "missing_at_rail", "missing_in_books", "amount_differs"}  # fmt: skip


def _lender_user(w: World) -> Any:
    from identity.models import Role
    from tests.factories import member

    return member(Role.VERIFIER, w.lender)  # a lender's staff: the lending verifier organisation


# --- the webhook's defences -------------------------------------------------------------------


def _succeeded_event(payment: RailPayment, *, event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "type": "payment_intent.succeeded",
        "livemode": False,
        "created": int(time.time()),
        "data": {
            "object": {
                "id": payment.reference,
                "object": "payment_intent",
                "amount": int(payment.amount * 100),
                "currency": payment.currency.lower(),
                "status": "succeeded",
            }
        },
    }


@pytest.fixture
def awaiting_earnest(stripe_platform: StripeReplay, client_for: Any) -> tuple[World, EscrowTransaction, RailPayment]:
    w = make_world()
    txn = make_escrow(w)
    services.escrow_open(transaction_id=txn.pk, actor=w.officer)
    started = _ask_to_pay(client_for(w.buyer_user), txn, "earnest")
    return w, txn, RailPayment.objects.get(public_id=started["id"])


def _post(api: Any, payload: bytes, signature: str) -> Any:
    return api.post(WEBHOOK, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("forged", "webhook_signature_invalid"),
        ("stale", "webhook_stale"),
        ("future", "webhook_stale"),
        ("tampered", "webhook_signature_invalid"),
        ("no_header", "webhook_signature_invalid"),
    ],
)
def test_a_webhook_not_from_stripe_now_is_refused_and_nothing_is_written(
    awaiting_earnest: Any, api_client: Any, case: str, code: str
) -> None:
    _, txn, payment = awaiting_earnest
    event = _succeeded_event(payment)
    now = int(time.time())
    if case == "forged":
        payload, signature = stripe_signed(event, secret="whsec_guessed")
    elif case in ("stale", "future"):
        payload, signature = stripe_signed(event, at=now - 3600 if case == "stale" else now + 3600)
    elif case == "tampered":
        payload, signature = stripe_signed(event)
        payload = payload.replace(b'"livemode": false', b'"livemode": false ')
    else:
        payload, signature = json.dumps(event).encode(), ""
    answer = _post(api_client, payload, signature)
    assert answer.status_code in (400, 403)
    assert answer["Content-Type"].startswith("application/problem+json")
    assert answer.json()["code"] == code
    assert not RailEvent.objects.exists()
    assert not Deposit.objects.filter(transaction=txn).exists()
    assert RailPayment.objects.get(pk=payment.pk).status == "requires_payment_method"


@pytest.mark.django_db
def test_the_same_event_twice_has_one_effect_and_a_late_failure_changes_nothing(
    awaiting_earnest: Any, api_client: Any
) -> None:
    _, txn, payment = awaiting_earnest
    event = _succeeded_event(payment)
    first = _post(api_client, *stripe_signed(event))
    again = _post(api_client, *stripe_signed(event))  # Stripe retries: same event id, new signature
    assert (first.status_code, again.status_code) == (200, 200)
    assert Deposit.objects.filter(transaction=txn).count() == 1
    assert RailEvent.objects.filter(event_id=event["id"]).count() == 1
    late = {**_succeeded_event(payment), "type": "payment_intent.payment_failed"}  # out of order
    assert _post(api_client, *stripe_signed(late)).status_code == 200
    assert RailPayment.objects.get(pk=payment.pk).status == "succeeded"
    assert Deposit.objects.get(transaction=txn).amount == Decimal("20000.00")


@pytest.mark.django_db
def test_an_event_for_another_amount_is_never_credited(awaiting_earnest: Any, api_client: Any) -> None:
    _, txn, payment = awaiting_earnest
    event = _succeeded_event(payment)
    event["data"]["object"]["amount"] = 50_000_000  # 500,000.00 instead of the 20,000.00 asked
    assert _post(api_client, *stripe_signed(event)).status_code == 200
    assert not Deposit.objects.filter(transaction=txn).exists()
    assert "expected 20000" in RailPayment.objects.get(pk=payment.pk).failure_reason


@pytest.mark.django_db
def test_a_party_cannot_record_a_deposit_on_its_word(awaiting_earnest: Any, client_for: Any) -> None:
    w, txn, _ = awaiting_earnest
    for user in (w.buyer_user, w.seller_user):
        answer = client_for(user).post(
            f"/api/v1/escrow/transactions/{txn.public_id}/deposits/",
            {"kind": "closing_funds", "amount": "500000.00"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
        assert answer.status_code in (403, 404)
    assert not Deposit.objects.filter(transaction=txn).exists()
    assert wallet_balance(txn) == 0


@pytest.mark.django_db
def test_a_cancelled_escrow_refunds_the_buyers_card_not_an_account(
    stripe_platform: StripeReplay, localstripe_url: str, client_for: Any
) -> None:
    w = make_world()
    _connect_payees(stripe_platform)
    PayeeProfile.objects.filter(organization=w.buyer).update(stripe_account_id="", stripe_payouts_enabled=False)
    txn = make_escrow(w)
    services.escrow_open(transaction_id=txn.pk, actor=w.officer)
    earnest = _ask_to_pay(client_for(w.buyer_user), txn, "earnest")
    pay_at_stripe(localstripe_url, earnest["reference"])
    client_for(w.buyer_user).post(f"/api/v1/escrow/transactions/{txn.public_id}/payments-in/{earnest['id']}/refresh/")
    assert wallet_balance(txn) == Decimal("20000.00")

    services.escrow_cancel(transaction_id=txn.pk, actor=w.officer, reason="Financing fell through")
    dispatch_payouts()

    [refund] = Payment.objects.filter(transaction=txn, payee=w.buyer)
    assert (refund.refund_of, refund.status, refund.amount) == (earnest["reference"], "succeeded", Decimal("20000"))
    at_stripe = stripe.StripeClient(SECRET_KEY, base_addresses={"api": localstripe_url}).v1.refunds.list(
        params={"payment_intent": earnest["reference"]}
    )
    assert [(r.amount, r.status) for r in at_stripe.data] == [(2_000_000, "succeeded")]
    assert wallet_balance(txn) == 0
    assert not stripe_platform.transfers  # nothing went to an account


def test_a_refund_is_looked_up_before_it_is_made_again(stripe_platform: StripeReplay, localstripe_url: str) -> None:
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": localstripe_url})
    params: dict[str, Any] = {"amount": 5000, "currency": "usd", "payment_method_types": ["card"]}
    intent = client.v1.payment_intents.create(params=params)  # type: ignore[arg-type]
    pay_at_stripe(localstripe_url, intent.id)
    rail = stripe_rail_for(stripe_platform, base=localstripe_url)
    send = {"idempotency_key": f"refund-{uuid.uuid4()}", "amount": Decimal("12.00"), "currency": "USD",
            "beneficiary": {"refund_payment_intent": intent.id}, "attempt": 1, "metadata": {}}  # fmt: skip
    first = rail.payout_send(**send)
    again = rail.payout_send(**send)  # localstripe keeps no idempotency keys: only the lookup prevents a second
    assert first.status == again.status == "succeeded"
    assert first.provider_reference == again.provider_reference
    assert [r.amount for r in client.v1.refunds.list(params={"payment_intent": intent.id}).data] == [1200]


# --- money out: transfers whose answer was lost -----------------------------------------------


@pytest.mark.django_db
def test_a_transfer_whose_answer_was_lost_is_looked_up_not_sent_again(stripe_platform: StripeReplay) -> None:
    from ledger import services as ledger

    w = make_world()
    _connect_payees(stripe_platform)
    txn = _fund_on_stripe(w, make_escrow(w))
    deliver(txn, "inspection")
    fee_payout = cast(int, Payment.objects.get(transaction=txn, payee=w.inspection_firm).payout_id)
    stripe_platform.lose_answers = 3  # the first call and both SDK retries time out after Stripe made it

    first = ledger.payout_dispatch(payout_id=fee_payout)
    assert first.status == "unknown"  # the outcome is not known: nothing is assumed either way
    assert len(stripe_platform.transfers) == 1
    stripe_platform.forget_keys()  # a day later Stripe no longer knows the idempotency key
    second = ledger.payout_dispatch(payout_id=fee_payout)

    assert second.status == "succeeded"
    assert len(stripe_platform.transfers) == 1  # found by transfer group + our key, not made twice
    assert second.provider_reference in stripe_platform.transfers
    assert stripe_platform.calls.count(("POST", "/v1/transfers")) == 3  # every POST carried the same key
    assert stripe_platform.calls.count(("GET", "/v1/transfers")) == 2  # looked up before each send


@pytest.mark.django_db(transaction=True)
def test_a_payee_without_a_ready_stripe_account_waits_visibly_then_is_paid(
    stripe_platform: StripeReplay, api_client: Any, live_server: Any
) -> None:
    w = make_world()
    _connect_payees(stripe_platform)
    waiting = PayeeProfile.objects.get(organization=w.inspection_firm)
    waiting.stripe_payouts_enabled = False  # onboarding not finished at Stripe
    waiting.save(update_fields=["stripe_payouts_enabled"])
    stripe_platform.accounts[waiting.stripe_account_id]["payouts_enabled"] = False
    txn = _fund_on_stripe(w, make_escrow(w))  # the sandbox inspector reports on its own
    fees = Payment.objects.filter(transaction=txn, payee=w.inspection_firm)
    _wait(lambda: fees.filter(status="blocked").exists(), "the inspection fee")
    fee = fees.get()
    assert "Stripe account cannot receive" in payee_block_reason(w.inspection_firm.pk)
    assert all(t["destination"] != waiting.stripe_account_id for t in stripe_platform.transfers.values())

    # Stripe tells us, signed, that onboarding finished: the waiting fee moves.
    account = {**stripe_platform.accounts[waiting.stripe_account_id], "payouts_enabled": True}
    event = {"id": f"evt_{uuid.uuid4().hex[:12]}", "object": "event", "type": "account.updated", "livemode": False,
             "created": int(time.time()), "data": {"object": account}}  # fmt: skip
    assert _post(api_client, *stripe_signed(event)).status_code == 200
    _wait(lambda: Payment.objects.get(pk=fee.pk).status == "succeeded", "the waiting fee to be paid")
    paid = [t["amount"] for t in stripe_platform.transfers.values() if t["destination"] == waiting.stripe_account_id]
    assert paid == [50000]


def test_the_webhook_is_in_the_openapi_schema(api_client: Any, db: None) -> None:
    from tests.factories import operator

    api_client.force_authenticate(operator())
    schema = api_client.get("/api/schema/?format=json").json()
    operation = schema["paths"][WEBHOOK]["post"]
    assert "Stripe-Signature" in json.dumps(operation) or "signature" in json.dumps(operation).lower()


def test_real_stripe_test_mode_when_a_key_is_given(settings: Any, db: None) -> None:
    import os

    key = os.environ.get("STRIPE_TEST_SECRET_KEY", "")
    if not key:
        pytest.skip("STRIPE_TEST_SECRET_KEY is not set: the check against Stripe's real test mode was skipped")
    assert key.startswith("sk_test_"), "only a test-mode key may be used here"
    settings.STRIPE_SECRET_KEY = key
    settings.STRIPE_API_BASE = "https://api.stripe.com"
    rail = StripeRail()
    started = rail.payment_start(
        idempotency_key=f"ci-{uuid.uuid4()}",
        amount=Decimal("12.34"),
        currency="USD",
        metadata={"purpose": "ci-check"},
        manual_capture=True,
    )
    assert started.reference.startswith("pi_")
    assert started.state.amount == Decimal("12.34")
    assert rail.payment_state(reference=started.reference).status == "requires_payment_method"
    assert django_settings.STRIPE_LIVE_MODE is False


@pytest.mark.django_db
def test_money_for_a_cancelled_escrow_is_not_credited_and_goes_back_to_the_payer(
    awaiting_earnest: Any, api_client: Any, localstripe_url: str
) -> None:
    w, txn, payment = awaiting_earnest
    pay_at_stripe(localstripe_url, payment.reference)
    services.escrow_cancel(transaction_id=txn.pk, actor=w.officer, reason="Seller withdrew")
    assert _post(api_client, *stripe_signed(_succeeded_event(payment))).status_code == 200

    refused = RailPayment.objects.get(pk=payment.pk)
    assert (refused.status, refused.applied) == ("succeeded", False)
    assert refused.apply_error  # why it was not credited, for the operator
    assert not Deposit.objects.filter(transaction=txn).exists()

    ledger_services.rail_payment_refund_unapplied(payment_id=payment.pk, actor="user:ops")
    at_stripe = stripe.StripeClient(SECRET_KEY, base_addresses={"api": localstripe_url}).v1.refunds.list(
        params={"payment_intent": payment.reference}
    )
    assert [r.amount for r in at_stripe.data] == [2_000_000]
    assert RailPayment.objects.get(pk=payment.pk).amount_refunded == Decimal("20000")
    with pytest.raises(ConflictError):
        ledger_services.rail_payment_refund_unapplied(payment_id=payment.pk, actor="user:ops")


@pytest.mark.django_db
def test_the_rail_statement_and_the_three_way_are_recorded_as_runs_with_breaks(stripe_platform: StripeReplay) -> None:
    from ledger.services.rail_statement import rail_statement_reconcile
    from transactions.services import escrow_three_way

    w = make_world()
    _connect_payees(stripe_platform)
    txn = _fund_on_stripe(w, make_escrow(w))  # booked as PaymentIntent pi_test: Stripe never saw it
    stripe_platform.charge_settled(amount=1_500_00, currency="usd", payment_intent="pi_nobody_booked")
    deliver(txn, "inspection")
    fee = Payment.objects.get(transaction=txn, payee=w.inspection_firm)
    ledger_services.payout_dispatch(payout_id=cast(int, fee.payout_id))
    [transfer] = stripe_platform.transfers.values()
    stripe_platform.balance[-1]["amount"] = -40000  # the rail says 400.00 left, the books 500.00
    today = datetime.datetime.now(datetime.UTC).date()

    run = rail_statement_reconcile(rail="stripe", day=today)

    found = {line.reference: (line.outcome, line.difference) for line in run.lines.all()}
    assert found == {
        "pi_test": ("missing_at_counterparty", Decimal("-20000.0000")),
        "pi_nobody_booked": ("missing_internal", Decimal("1500.0000")),
        transfer["id"]: ("amount_delta", Decimal("100.0000")),
    }
    assert run.break_count == 3
    assert rail_statement_reconcile(rail="stripe", day=today).pk == run.pk  # the same statement: the same run

    three_way = escrow_three_way(day=today)
    rail_leg = three_way.lines.get(key__startswith="rail vs books | stripe")
    # books: 20,000.00 in less 500.00 paid out; the rail: 1,500.00 in less 400.00 out
    assert (rail_leg.outcome, rail_leg.our_amount, rail_leg.their_amount) == (
        "amount_delta", Decimal("19500.0000"), Decimal("1100.0000"),
    )  # fmt: skip
