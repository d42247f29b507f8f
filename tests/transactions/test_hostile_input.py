"""Hostile input on the escrow API: every refusal is a 4xx problem and nothing is written."""

from __future__ import annotations

import json

import pytest

from tests.transactions.factories import make_escrow
from transactions.models import Dispute, EscrowTransaction

BASE = "/api/v1/escrow"


def _is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    return response.json()


@pytest.mark.parametrize("value", ["", "NaN", "abc", "Infinity", "1e3", None, [], {}])
def test_patch_with_a_bad_commission_is_a_problem_and_changes_nothing(world, client_for, value):
    txn = make_escrow(world)
    before = EscrowTransaction.objects.get(pk=txn.pk).buyer_agent_commission_pct
    response = client_for(world.officer).patch(
        f"{BASE}/transactions/{txn.public_id}/", {"buyer_agent_commission_pct": value}, format="json"
    )
    assert response.status_code in (400, 422), response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    assert EscrowTransaction.objects.get(pk=txn.pk).buyer_agent_commission_pct == before


@pytest.mark.parametrize("param", ["reference", "status", "search", "ordering", "cursor"])
def test_nul_in_a_query_filter_is_a_400_problem(world, client_for, param):
    make_escrow(world)
    body = _is_problem(client_for(world.officer).get(f"{BASE}/transactions/?{param}=%00"), 400)
    assert body["code"] == "malformed_request"


@pytest.mark.parametrize("evidence", [[{"name": "a\u0000b"}], [{"name": "\ud800"}], [{"n\u0000": "x"}]])
def test_unstorable_text_in_dispute_evidence_is_refused_and_nothing_is_written(world, client_for, evidence):
    from tests.transactions.factories import fund

    txn = fund(world, make_escrow(world))
    # Escaped as JSON sends it ("\\ud800"): a lone surrogate cannot be UTF-8 encoded raw.
    body = json.dumps({"reason": "Buyer missed the inspection contingency date", "evidence": evidence})
    response = client_for(world.seller_user).post(
        f"{BASE}/transactions/{txn.public_id}/disputes/", body, content_type="application/json"
    )
    assert _is_problem(response, 400)["code"] == "malformed_request"
    assert not Dispute.objects.filter(transaction=txn).exists()


@pytest.mark.parametrize(
    ("timestamp", "signature", "body", "code"),
    [
        ("\xb2", None, b"{}", "webhook_stale"),
        ("1" * 400, None, b"{}", "webhook_stale"),
        ("9" * 5000, None, b"{}", "webhook_stale"),
        (None, "sha256=\xe9", b"{}", "webhook_signature_invalid"),
        (None, None, b"[" * 100_000 + b"]" * 100_000, "malformed_request"),
        (None, None, b'{"task": "\\u0000"}', "malformed_request"),
    ],
)
def test_the_agent_webhook_parses_garbage_defensively(world, api_client, timestamp, signature, body, code):
    import time

    from verifications.api.views import webhook_signature
    from verifications.models import AgentProfile, VerificationReport

    AgentProfile.objects.filter(organization=world.title_company).update(webhook_secret="whsec-title-123")
    ts = str(int(time.time())) if timestamp is None else timestamp
    sig = signature if signature is not None else webhook_signature("whsec-title-123", ts, body)
    response = api_client.post(
        f"{BASE}/agents/{world.title_company.public_id}/webhook/",
        body,
        content_type="application/json",
        HTTP_X_AGENT_TIMESTAMP=ts,
        HTTP_X_AGENT_SIGNATURE=sig,
    )
    assert response.status_code in (400, 403), response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert not VerificationReport.objects.exists()
