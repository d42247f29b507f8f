from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from audit import verify
from audit.models import Anchor, AnchorStatus, AuditEvent
from audit.services import tree_seal
from identity.models import Role, User
from tests.audit.conftest import SUBJECT, anchor_now, record_events
from tests.factories import auditor, member

pytestmark = pytest.mark.django_db

Client = Callable[[User], APIClient]


@pytest.fixture
def buyer(case_access: dict[str, set[int]]) -> User:
    user = member(Role.BUYER)
    case_access["c1"] = {user.pk}
    return user


def test_a_party_lists_their_case_events_filtered_and_paginated(client_for: Client, buyer: User) -> None:
    record_events("c1", 3)
    record_events("c1", 2, kind="escrow.milestone_released")
    record_events("c2", 1)

    response = client_for(buyer).get(f"/api/v1/audit/{SUBJECT}/c1/events?page_size=2")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5
    assert [e["seq"] for e in body["results"]] == [1, 2]
    assert 'rel="next"' in response["Link"]

    released = client_for(buyer).get(f"/api/v1/audit/{SUBJECT}/c1/events?kind=escrow.milestone_released").json()
    assert [e["seq"] for e in released["results"]] == [4, 5]

    first = AuditEvent.objects.get(subject_id="c1", seq=1)
    after = client_for(buyer).get(
        f"/api/v1/audit/{SUBJECT}/c1/events", {"since": first.occurred_at.isoformat(), "until": "2999-01-01T00:00:00Z"}
    )
    assert after.json()["count"] == 5


def test_a_bad_time_filter_is_a_problem_document(client_for: Client, buyer: User) -> None:
    response = client_for(buyer).get(f"/api/v1/audit/{SUBJECT}/c1/events?since=yesterday")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")


def test_a_party_downloads_a_bundle_that_verifies(client_for: Client, buyer: User) -> None:
    record_events("c1", 3)
    tree_seal()
    response = client_for(buyer).get(f"/api/v1/audit/{SUBJECT}/c1/bundle")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="audit-{SUBJECT}-c1.json"'
    bundle = json.loads(response.content)
    assert verify.verify_bundle(bundle).ok


def test_a_party_cannot_fetch_another_case(client_for: Client, buyer: User) -> None:
    record_events("c2", 2)
    tree_seal()
    event = AuditEvent.objects.get(subject_id="c2", seq=1)
    client = client_for(buyer)

    for url in (f"/api/v1/audit/{SUBJECT}/c2/bundle", f"/api/v1/audit/{SUBJECT}/c2/events"):
        response = client.get(url)
        assert response.status_code == 404
        assert response.json()["code"] == "audit_trail_not_found"
    verify_response = client.post(f"/api/v1/audit/events/{event.event_hash}/verify")
    assert verify_response.status_code == 404
    assert verify_response.json()["code"] == "audit_event_not_found"


def test_an_auditor_sees_any_case_and_anonymous_nobody(client_for: Client, api_client: APIClient) -> None:
    record_events("c9", 1)
    assert client_for(auditor()).get(f"/api/v1/audit/{SUBJECT}/c9/events").status_code == 200
    assert api_client.get(f"/api/v1/audit/{SUBJECT}/c9/events").status_code == 401


def test_verify_returns_proof_tree_head_and_verdict(client_for: Client, buyer: User) -> None:
    record_events("c1", 3)
    tree_seal()
    event = AuditEvent.objects.get(subject_id="c1", seq=2)

    response = client_for(buyer).post(f"/api/v1/audit/events/{event.event_hash}/verify")
    assert response.status_code == 200
    body = response.json()
    assert body["event"]["event_hash"] == event.event_hash
    assert body["event"]["proof"]["tree_size"] == 3
    assert body["tree_heads"][0]["tree_size"] == 3
    verdict = body["verdict"]
    assert (verdict["valid"], verdict["level"], verdict["sealed"], verdict["anchored"]) == (True, "signed", True, False)
    assert verdict["failures"] == []
    assert verdict["not_proven"] == ["no tree head of this bundle is anchored on chain yet"]


def test_verify_checks_the_anchor_on_chain(client_for: Client, buyer: User, in_process_chain: Any) -> None:
    record_events("c1", 3)
    tree_seal()
    assert anchor_now().status == AnchorStatus.CONFIRMED
    event = AuditEvent.objects.get(subject_id="c1", seq=2)
    url = f"/api/v1/audit/events/{event.event_hash}/verify"

    verdict = client_for(buyer).post(url).json()["verdict"]
    assert (verdict["valid"], verdict["level"], verdict["anchor_verified_on_chain"]) == (True, "anchored", True)
    assert any(
        line.startswith(f"anchored on chain {in_process_chain.chain_id} at block ") for line in verdict["proven"]
    )

    # The anchor row now claims another chain: only asking the chain can tell.
    Anchor.objects.update(chain_id=1)
    verdict = client_for(buyer).post(url).json()["verdict"]
    assert (verdict["valid"], verdict["level"]) == (False, None)
    assert [f["reason"] for f in verdict["failures"]] == ["anchor_chain_mismatch"]


def test_verify_says_when_the_anchor_is_on_a_chain_this_process_cannot_read(
    client_for: Client, buyer: User, in_process_chain: Any
) -> None:
    from audit import chain

    record_events("c1", 2)
    tree_seal()
    assert anchor_now().status == AnchorStatus.CONFIRMED
    chain.reset_client()  # as in a web process: the worker's in-process chain is not here
    event = AuditEvent.objects.get(subject_id="c1", seq=1)

    verdict = client_for(buyer).post(f"/api/v1/audit/events/{event.event_hash}/verify").json()["verdict"]
    assert (verdict["valid"], verdict["level"], verdict["anchor_verified_on_chain"]) == (True, "signed", False)
    assert verdict["not_proven"][-1].startswith("anchors not checked on chain: they were made on an in-process")
    assert chain._client is None  # and it did not build a fresh, empty chain to ask


def test_the_audit_trail_is_read_only(client_for: Client, buyer: User) -> None:
    record_events("c1", 1)
    response = client_for(buyer).delete(f"/api/v1/audit/{SUBJECT}/c1/events")
    assert response.status_code == 405
    assert AuditEvent.objects.count() == 1
