"""The escrow API end to end in process: scoping, idempotency, agents' reports and the signed webhook."""

from __future__ import annotations

import json
import random
import time
from decimal import Decimal

import pytest

from identity.models import Role
from ledger.models import JournalEntry
from tests.factories import auditor, member
from tests.transactions.factories import dispatch_payouts, task_of
from transactions import services
from transactions.models import EscrowTransaction, Payment
from verifications.agents.registry import provider_for
from verifications.api.views import webhook_signature
from verifications.models import AgentProfile, VerificationReport

BASE = "/api/v1/escrow"


def _create_body(w) -> dict:
    return {
        "property_address": "7 Orchard Lane, Salem, MA 01970",
        "purchase_price": "400000.00",
        "earnest_money": "20000.00",
        "loan_amount": "300000.00",
        "closing_date": "2026-07-01",
        "buyer": str(w.buyer.public_id),
        "seller": str(w.seller.public_id),
        "buyer_agent": str(w.buyer_brokerage.public_id),
        "seller_agent": str(w.seller_brokerage.public_id),
        "lender": str(w.lender.public_id),
        "escrow_company": str(w.title_company.public_id),
        "escrow_officer": str(w.officer.public_id),
        "buyer_agent_commission_pct": "2.5",
        "seller_agent_commission_pct": "2.5",
        "annual_property_tax": "3650.00",
        "closing_costs": [
            {
                "description": "Escrow fee",
                "paid_by": "buyer",
                "payee": str(w.title_company.public_id),
                "amount": "850.00",
            }
        ],
    }


def _report(txn, kind, passing=True):
    task = task_of(txn, kind)
    return provider_for(kind).sandbox_report(context=task.workflow.context, passing=passing, rng=random.Random(3))


@pytest.fixture
def agents_users(world):
    return {
        "title": member(Role.VERIFIER, world.title_company),
        "inspection": world.inspector_user,
        "appraisal": world.appraiser_user,
        "lending": member(Role.VERIFIER, world.lender),
    }


def test_the_whole_deal_through_the_api(world, agents_users, client_for):
    officer = client_for(world.officer)
    response = officer.post(f"{BASE}/transactions/", _create_body(world), format="json", HTTP_IDEMPOTENCY_KEY="c-1")
    assert response.status_code == 201, response.json()
    txn_id = response.json()["id"]
    assert response.json()["status"] == "draft"
    assert officer.post(f"{BASE}/transactions/{txn_id}/open/", HTTP_IDEMPOTENCY_KEY="o-1").json()["status"] == (
        "awaiting_earnest_money"
    )
    buyer = client_for(world.buyer_user)
    refused = buyer.post(
        f"{BASE}/transactions/{txn_id}/deposits/", {"kind": "earnest", "amount": "20000.00"}, format="json"
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "deposit_not_allowed")
    r = officer.post(
        f"{BASE}/transactions/{txn_id}/deposits/", {"kind": "earnest", "amount": "20000.00"}, format="json"
    )
    assert r.status_code == 202, r.json()  # above the threshold: a second person confirms the wire
    assert r.json()["status"] == "pending"
    assert officer.post(f"{BASE}/transactions/{txn_id}/manual-deposits/{r.json()['id']}/confirm/").status_code == 403
    confirmed = client_for(world.operator).post(
        f"{BASE}/transactions/{txn_id}/manual-deposits/{r.json()['id']}/confirm/"
    )
    assert confirmed.status_code == 200, confirmed.json()
    assert confirmed.json()["status"] == "verifying"
    txn = EscrowTransaction.objects.get(public_id=txn_id)

    for kind in ("title", "inspection", "appraisal", "lending"):
        agent = client_for(agents_users[kind])
        listed = agent.get(f"{BASE}/verifications/?status=assigned").json()["results"]
        assert [t["verification_type"] for t in listed] == [kind]
        r = agent.post(f"{BASE}/verifications/{listed[0]['id']}/report/", {"report": _report(txn, kind)}, format="json")
        assert r.status_code == 201, r.json()
        assert r.json()["passed"] is True
    dispatch_payouts()

    seen = buyer.get(f"{BASE}/transactions/{txn_id}/").json()
    assert seen["status"] == "clear_to_close"
    statuses = {
        v["verification_type"]: v["status"] for v in buyer.get(f"{BASE}/transactions/{txn_id}/verifications/").json()
    }
    assert set(statuses.values()) == {"verified"}
    payments = buyer.get(f"{BASE}/transactions/{txn_id}/payments/").json()
    assert sorted((p["label"], p["status"]) for p in payments) == [
        ("Appraisal fee", "succeeded"),
        ("Home inspection fee", "succeeded"),
        ("Title search fee", "succeeded"),
    ]
    statement = buyer.get(f"{BASE}/transactions/{txn_id}/settlement/").json()["statement"]
    for kind, amount in [("loan", "300000.00"), ("closing_funds", statement["cash_from_buyer"])]:
        wire = officer.post(f"{BASE}/transactions/{txn_id}/deposits/", {"kind": kind, "amount": amount}, format="json")
        client_for(world.operator).post(f"{BASE}/transactions/{txn_id}/manual-deposits/{wire.json()['id']}/confirm/")

    first = officer.post(f"{BASE}/transactions/{txn_id}/settlement/execute/", HTTP_IDEMPOTENCY_KEY="settle-1")
    again = officer.post(f"{BASE}/transactions/{txn_id}/settlement/execute/", HTTP_IDEMPOTENCY_KEY="settle-1")
    other = officer.post(f"{BASE}/transactions/{txn_id}/settlement/execute/", HTTP_IDEMPOTENCY_KEY="settle-2")

    assert first.status_code == 200, first.json()
    assert first.json()["status"] == "executed"
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 409
    assert other.json()["code"] == "already_settled"
    assert Payment.objects.filter(transaction=txn, kind="settlement").count() == 4
    assert buyer.get(f"{BASE}/transactions/{txn_id}/").json()["status"] == "settled"
    trail = buyer.get(f"{BASE}/transactions/{txn_id}/audit-trail/?page_size=500").json()["results"]
    assert trail[-1]["kind"] == "escrow.settled"


def test_parties_see_only_their_transactions(world, client_for):
    officer = client_for(world.officer)
    txn_id = officer.post(f"{BASE}/transactions/", _create_body(world), format="json").json()["id"]
    outsider = client_for(world.outsider)

    assert outsider.get(f"{BASE}/transactions/").json()["results"] == []
    assert outsider.get(f"{BASE}/transactions/{txn_id}/").status_code == 404
    assert outsider.post(f"{BASE}/transactions/{txn_id}/cancel/").status_code == 404
    assert outsider.get(f"{BASE}/transactions/{txn_id}/audit-trail/").status_code == 404
    assert client_for(world.seller_user).get(f"{BASE}/transactions/").json()["count"] == 1
    filtered = client_for(world.seller_user).get(f"{BASE}/transactions/?status=settled").json()
    assert filtered["count"] == 0


def test_only_officers_and_operators_create_and_bad_input_creates_nothing(world, client_for):
    body = _create_body(world)
    assert client_for(world.buyer_user).post(f"{BASE}/transactions/", body, format="json").status_code == 403

    floaty = client_for(world.officer).post(
        f"{BASE}/transactions/", {**body, "purchase_price": 400000.5}, format="json"
    )
    negative = client_for(world.officer).post(f"{BASE}/transactions/", {**body, "earnest_money": "-1"}, format="json")

    assert (floaty.status_code, floaty.json()["code"]) == (422, "invalid_amount")
    assert floaty.json()["errors"][0]["field"] == "purchase_price"
    assert negative.status_code == 422
    assert negative.json()["code"] == "invalid_amount"
    assert EscrowTransaction.objects.count() == 0


def test_agents_see_only_their_tasks_and_reports_are_checked(world, agents_users, client_for):
    officer = client_for(world.officer)
    txn_id = officer.post(f"{BASE}/transactions/", _create_body(world), format="json").json()["id"]
    officer.post(f"{BASE}/transactions/{txn_id}/open/")
    txn = EscrowTransaction.objects.get(public_id=txn_id)
    services.deposit_receive(transaction_id=txn.pk, kind="earnest", amount=txn.earnest_money)
    title_task = task_of(txn, "title")
    appraisal_task = task_of(txn, "appraisal")
    appraiser = client_for(agents_users["appraisal"])

    assert appraiser.get(f"{BASE}/verifications/{title_task.public_id}/").status_code == 404
    early = appraiser.post(
        f"{BASE}/verifications/{appraisal_task.public_id}/report/", {"report": _report(txn, "appraisal")}, format="json"
    )
    wrong_type = client_for(agents_users["title"]).post(
        f"{BASE}/verifications/{title_task.public_id}/report/", {"report": _report(txn, "appraisal")}, format="json"
    )

    assert early.status_code == 409
    assert early.json()["code"] == "dependencies_not_met"
    assert wrong_type.status_code == 422
    assert wrong_type.json()["code"] == "invalid_report"
    assert VerificationReport.objects.count() == 0


def _signed_post(api_client, agent_org, secret, body: dict, *, skew: int = 0):
    raw = json.dumps(body).encode()
    ts = str(int(time.time()) + skew)
    return api_client.post(
        f"{BASE}/agents/{agent_org.public_id}/webhook/",
        raw,
        content_type="application/json",
        HTTP_X_AGENT_TIMESTAMP=ts,
        HTTP_X_AGENT_SIGNATURE=webhook_signature(secret, ts, raw),
    )


def test_the_signed_webhook_delivers_once_and_refuses_forgeries(world, client_for, api_client):
    from tests.transactions.factories import fund, make_escrow

    AgentProfile.objects.filter(organization=world.title_company).update(webhook_secret="whsec-title-123")
    txn = fund(world, make_escrow(world))
    body = {"task": str(task_of(txn, "title").public_id), "event": "report.submitted", "report": _report(txn, "title")}

    forged = _signed_post(api_client, world.title_company, "guessed-secret", body)
    stale = _signed_post(api_client, world.title_company, "whsec-title-123", body, skew=-3600)
    first = _signed_post(api_client, world.title_company, "whsec-title-123", body)
    repeat = _signed_post(api_client, world.title_company, "whsec-title-123", body)

    assert (forged.status_code, forged.json()["code"]) == (403, "webhook_signature_invalid")
    assert (stale.status_code, stale.json()["code"]) == (403, "webhook_stale")
    assert first.status_code == 200, first.json()
    assert repeat.json()["id"] == first.json()["id"]
    assert Payment.objects.filter(transaction=txn, kind="milestone").count() == 1
    assert JournalEntry.objects.filter(idempotency_key__endswith=":milestone:title:post").count() == 1


def test_disputes_and_payment_retry_through_the_api(world, client_for):
    from tests.transactions.factories import deliver, fund, make_escrow
    from transactions.models import PayeeProfile

    PayeeProfile.objects.filter(organization=world.title_company).update(
        bank_details={"account_number": "1", "simulate": "fail_first_attempt"}
    )
    txn = fund(world, make_escrow(world))
    deliver(txn, "title")
    dispatch_payouts()
    officer = client_for(world.officer)
    payment = Payment.objects.get(transaction=txn)

    assert client_for(world.buyer_user).post(f"{BASE}/payments/{payment.public_id}/retry/").status_code == 403
    retried = officer.post(f"{BASE}/payments/{payment.public_id}/retry/", HTTP_IDEMPOTENCY_KEY="r-1")
    assert retried.json()["status"] == "requested"
    dispatch_payouts()
    assert officer.get(f"{BASE}/payments/{payment.public_id}/").json()["status"] == "succeeded"

    raised = client_for(world.seller_user).post(
        f"{BASE}/transactions/{txn.public_id}/disputes/",
        {"reason": "Buyer missed the inspection contingency date", "evidence": [{"name": "contract.pdf"}]},
        format="json",
    )
    assert raised.status_code == 201
    dispute_id = raised.json()["id"]
    assert (
        client_for(world.buyer_user).get(f"{BASE}/transactions/{txn.public_id}/disputes/").json()[0]["id"] == dispute_id
    )
    resolved = officer.post(
        f"{BASE}/disputes/{dispute_id}/",
        {"status": "resolved", "resolution": "split", "seller_share_pct": "50"},
        format="json",
    )
    assert resolved.status_code == 200, resolved.json()
    dispatch_payouts()
    assert EscrowTransaction.objects.get(pk=txn.pk).status == "dispute_resolved"
    split = Payment.objects.filter(transaction=txn, kind="dispute").values_list("amount", flat=True)
    assert sorted(split) == [Decimal("9400.00"), Decimal("9400.00")]


def test_pause_is_for_operators(world, client_for):
    assert client_for(world.officer).post(f"{BASE}/controls/pause/", {"paused": True}, format="json").status_code == 403
    r = client_for(world.operator).post(f"{BASE}/controls/pause/", {"paused": True, "reason": "drill"}, format="json")
    body = r.json()
    assert (body["paused"], body["reason"], body["changed_by"]) == (True, "drill", str(world.operator.public_id))
    assert body["changed_at"] is not None


def test_the_pause_state_is_readable_by_operators_and_auditors(world, client_for):
    state = f"{BASE}/controls/pause/"
    assert client_for(world.operator).get(state).json() == {
        "paused": False, "reason": "", "changed_by": None, "changed_at": None
    }  # fmt: skip
    services.payouts_pause_all(actor=world.operator, paused=True, reason="drill")

    body = client_for(auditor()).get(state).json()
    assert (body["paused"], body["reason"], body["changed_by"]) == (True, "drill", str(world.operator.public_id))
    assert client_for(world.officer).get(state).status_code == 403
    trail = client_for(auditor()).get("/api/v1/audit/escrow_platform_control/payouts/events").json()["results"]
    assert [e["kind"] for e in trail] == ["escrow.payouts_paused_all"]
