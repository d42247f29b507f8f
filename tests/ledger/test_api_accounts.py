from __future__ import annotations

from decimal import Decimal

import pytest

from escrow_project.common.models import IdempotencyRecord
from identity.models import Role
from ledger import services
from ledger.models import JournalEntry
from ledger.selectors import account_balance
from tests.factories import OrganizationFactory, member, operator

pytestmark = pytest.mark.django_db


def _org_wallet(org, funded="0"):
    account = services.account_open(
        owner_type="organization",
        owner_id=str(org.pk),
        purpose="wallet",
        currency="USD",
        normal_side="credit",
        no_overdraft=True,
    )
    if Decimal(funded):
        services.deposit_record(
            idempotency_key=f"f{account.pk}", account_id=account.pk, amount=Decimal(funded), currency="USD"
        )
    return account


def test_members_see_only_their_organizations_accounts(client_for):
    mine, theirs = OrganizationFactory.create(), OrganizationFactory.create()
    my_wallet, their_wallet = _org_wallet(mine, "25.50"), _org_wallet(theirs)
    user = member(Role.EMPLOYER_HR, mine)

    listing = client_for(user).get("/api/v1/ledger/accounts/")
    assert listing.status_code == 200
    assert [a["id"] for a in listing.json()["results"]] == [str(my_wallet.public_id)]
    assert listing.json()["results"][0]["balance"]["available"] == "25.50"

    hidden = client_for(user).get(f"/api/v1/ledger/accounts/{their_wallet.public_id}/balance/")
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "not_found"


def test_operator_sees_all_and_balance_shape(client_for):
    wallet = _org_wallet(OrganizationFactory.create(), "10")
    services.hold_create(
        idempotency_key="h",
        debit_account_id=wallet.pk,
        credit_account_id=_org_wallet(OrganizationFactory.create()).pk,
        amount=Decimal("4"),
        currency="USD",
    )
    client = client_for(operator())
    assert client.get("/api/v1/ledger/accounts/?purpose=wallet").json()["count"] == 2
    balance = client.get(f"/api/v1/ledger/accounts/{wallet.public_id}/balance/").json()
    assert balance == {
        "currency": "USD",
        "posted_debits": "0.00",
        "posted_credits": "10.00",
        "pending_debits": "4.00",
        "pending_credits": "0.00",
        "balance": "10.00",
        "available": "6.00",
        "projected": "6.00",
    }


def test_history_is_paginated_with_running_balance(client_for):
    org = OrganizationFactory.create()
    wallet, other = _org_wallet(org, "100"), _org_wallet(OrganizationFactory.create())
    for n in range(3):
        services.transfer_create(
            idempotency_key=f"t{n}",
            debit_account_id=wallet.pk,
            credit_account_id=other.pk,
            amount=Decimal("10"),
            currency="USD",
        )
    client = client_for(member(Role.EMPLOYER_HR, org))

    page = client.get(f"/api/v1/ledger/accounts/{wallet.public_id}/history/?page_size=2")

    assert page.status_code == 200
    body = page.json()
    assert body["count"] == 4
    assert [(r["kind"], r["side"], r["amount"], r["balance_after"]) for r in body["results"]] == [
        ("transfer", "debit", "10.00", "70.00"),
        ("transfer", "debit", "10.00", "80.00"),
    ]
    assert 'rel="next"' in page["Link"]
    last = client.get(f"/api/v1/ledger/accounts/{wallet.public_id}/history/?page_size=2&page=2").json()
    assert [r["balance_after"] for r in last["results"]] == ["90.00", "100.00"]


def test_operator_topup_is_idempotent_and_needs_the_key(client_for):
    wallet = _org_wallet(OrganizationFactory.create())
    client = client_for(operator())
    url = f"/api/v1/ledger/accounts/{wallet.public_id}/topup/"

    missing = client.post(url, {"amount": "50.00", "currency": "USD"}, format="json")
    assert missing.status_code == 400
    assert missing.json()["code"] == "idempotency_key_required"

    first = client.post(url, {"amount": "50.00", "currency": "USD"}, format="json", HTTP_IDEMPOTENCY_KEY="top-1")
    again = client.post(url, {"amount": "50.00", "currency": "USD"}, format="json", HTTP_IDEMPOTENCY_KEY="top-1")

    assert first.status_code == 201
    assert again.json() == first.json()
    assert account_balance(account_id=wallet.pk).balance == Decimal("50.00")


def test_a_topup_retried_after_its_replay_record_is_gone_says_the_ledger_replayed_it(client_for):
    wallet = _org_wallet(OrganizationFactory.create())
    client = client_for(operator())
    url = f"/api/v1/ledger/accounts/{wallet.public_id}/topup/"
    body = {"amount": "50.00", "currency": "USD"}
    first = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="top-1")
    IdempotencyRecord.objects.all().delete()  # the HTTP layer forgot (expired); the ledger key has not

    again = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="top-1")

    assert (first.status_code, first.json()["replayed"]) == (201, False)
    assert (again.status_code, again.json()["replayed"]) == (201, True)
    assert again.json()["id"] == first.json()["id"]
    assert account_balance(account_id=wallet.pk).balance == Decimal("50.00")


def test_the_schema_documents_the_replayed_flag(client_for):
    schema = client_for(operator()).get("/api/schema/", HTTP_ACCEPT="application/json").json()

    assert schema["components"]["schemas"]["Entry"]["properties"]["replayed"]["type"] == "boolean"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"amount": "0", "currency": "USD"}, 422, "invalid_amount"),
        ({"amount": "-3", "currency": "USD"}, 422, "invalid_amount"),
        ({"amount": "1.234", "currency": "USD"}, 422, "invalid_amount"),
        ({"amount": 1.5, "currency": "USD"}, 422, "invalid_amount"),
        ({"amount": 15, "currency": "USD"}, 422, "invalid_amount"),
        ({"amount": "1e3", "currency": "USD"}, 422, "invalid_amount"),
        ({"amount": "4E+5", "currency": "USD"}, 422, "invalid_amount"),
        ({"amount": "10.000", "currency": "USD"}, 422, "invalid_amount"),
        ({"amount": "\u0661\u0660\u0660", "currency": "USD"}, 422, "invalid_amount"),
        ({"amount": " 10.00", "currency": "USD"}, 422, "invalid_amount"),
        ({"amount": "1e30", "currency": "USD"}, 422, "invalid_amount"),
        ({"amount": "1" + "0" * 30, "currency": "USD"}, 422, "invalid_amount"),
        ({"amount": "5", "currency": "EUR"}, 422, "currency_mismatch"),
    ],
)
def test_bad_topups_are_refused_and_change_nothing(client_for, body, status, code):
    wallet = _org_wallet(OrganizationFactory.create())
    response = client_for(operator()).post(
        f"/api/v1/ledger/accounts/{wallet.public_id}/topup/", body, format="json", HTTP_IDEMPOTENCY_KEY="bad"
    )
    assert (response.status_code, response.json()["code"]) == (status, code)
    if code == "invalid_amount":
        assert [e["field"] for e in response.json()["errors"]] == ["amount"]
    assert account_balance(account_id=wallet.pk).balance == 0
    assert JournalEntry.objects.count() == 0


def test_non_operators_cannot_move_money(client_for):
    org = OrganizationFactory.create()
    wallet = _org_wallet(org)
    client = client_for(member(Role.EMPLOYER_HR, org))
    response = client.post(
        f"/api/v1/ledger/accounts/{wallet.public_id}/topup/",
        {"amount": "5", "currency": "USD"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="x",
    )
    assert response.status_code == 403
    assert account_balance(account_id=wallet.pk).balance == 0


def test_adjustment_then_reversal(client_for):
    wallet = _org_wallet(OrganizationFactory.create(), "20")
    client = client_for(operator())
    adjusted = client.post(
        f"/api/v1/ledger/accounts/{wallet.public_id}/adjustments/",
        {"amount": "5.00", "currency": "USD", "direction": "debit", "reason": "duplicate fee refund"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="adj-1",
    )
    assert adjusted.status_code == 201
    assert account_balance(account_id=wallet.pk).balance == Decimal("15")

    reversed_ = client.post(
        f"/api/v1/ledger/entries/{adjusted.json()['id']}/reverse/",
        {"reason": "wrong account"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="rev-1",
    )
    assert reversed_.status_code == 201
    assert reversed_.json()["reverses"] == adjusted.json()["id"]
    assert account_balance(account_id=wallet.pk).balance == Decimal("20")

    overdraw = client.post(
        f"/api/v1/ledger/accounts/{wallet.public_id}/adjustments/",
        {"amount": "20.01", "currency": "USD", "direction": "debit", "reason": "x"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="adj-2",
    )
    assert (overdraw.status_code, overdraw.json()["code"]) == (409, "insufficient_funds")


def test_upper_apps_can_make_more_accounts_visible(client_for):
    from django.db.models import Q

    from ledger.selectors import _VISIBILITY_RULES, account_visibility_register

    escrow_account = services.account_open(
        owner_type="escrow", owner_id="E-77", purpose="earnest_money", currency="USD", normal_side="credit"
    )
    buyer = member(Role.BUYER, OrganizationFactory.create())
    client = client_for(buyer)
    assert client.get(f"/api/v1/ledger/accounts/{escrow_account.public_id}/").status_code == 404

    def rule(user):
        return Q(owner_type="escrow", owner_id="E-77") if user.pk == buyer.pk else None

    account_visibility_register(rule)
    try:
        response = client.get(f"/api/v1/ledger/accounts/{escrow_account.public_id}/")
    finally:
        _VISIBILITY_RULES.remove(rule)
    assert response.status_code == 200
    assert response.json()["purpose"] == "earnest_money"


def test_money_recorded_by_hand_above_the_threshold_waits_for_a_second_operator(client_for):
    wallet = _org_wallet(OrganizationFactory.create())
    first, second = operator(), operator()
    url = f"/api/v1/ledger/accounts/{wallet.public_id}/topup/"
    body = {"amount": "250000.00", "currency": "USD", "provider_reference": "FED-77"}

    asked = client_for(first).post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="big-1")
    assert asked.status_code == 202
    assert (asked.json()["status"], asked.json()["amount"]) == ("pending", "250000.00")
    assert account_balance(account_id=wallet.pk).balance == 0
    approve = f"/api/v1/ledger/approvals/{asked.json()['id']}/approve/"

    own = client_for(first).post(approve)
    assert (own.status_code, own.json()["code"]) == (403, "four_eyes_required")
    assert account_balance(account_id=wallet.pk).balance == 0
    approved = client_for(second).post(approve)
    assert approved.status_code == 201
    assert account_balance(account_id=wallet.pk).balance == Decimal("250000.00")
    again = client_for(operator()).post(approve)
    assert (again.status_code, again.json()["code"]) == (409, "operator_entry_closed")
    assert account_balance(account_id=wallet.pk).balance == Decimal("250000.00")
    listed = client_for(second).get("/api/v1/ledger/approvals/?status=approved").json()["results"]
    assert [row["entry"] for row in listed] == [approved.json()["id"]]


def test_a_large_correction_can_be_rejected_and_a_hopeless_one_is_refused_at_once(client_for):
    wallet = _org_wallet(OrganizationFactory.create())
    first, second = operator(), operator()
    asked = client_for(first).post(
        f"/api/v1/ledger/accounts/{wallet.public_id}/adjustments/",
        {"amount": "50000.00", "currency": "USD", "direction": "credit", "reason": "missing wire"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="adj-big",
    )
    assert asked.status_code == 202
    rejected = client_for(second).post(
        f"/api/v1/ledger/approvals/{asked.json()['id']}/reject/", {"reason": "not on the statement"}, format="json"
    )
    assert rejected.json()["status"] == "rejected"
    assert account_balance(account_id=wallet.pk).balance == 0
    other_currency = client_for(first).post(
        f"/api/v1/ledger/accounts/{wallet.public_id}/topup/",
        {"amount": "90000.00", "currency": "EUR"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="eur-big",
    )
    assert (other_currency.status_code, other_currency.json()["code"]) == (422, "currency_mismatch")
    assert JournalEntry.objects.count() == 0
