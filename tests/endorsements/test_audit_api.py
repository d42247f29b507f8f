"""The employer's audit endpoints: trail filters, hashed events, proof bundle, event verification, isolation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from audit.services import tree_seal
from endorsements.services import funding
from tests.endorsements.conftest import addition, day, make_world
from tests.factories import auditor

ROOT = Path(settings.BASE_DIR)


@pytest.fixture
def two_employers(live_world):
    other = make_world(policy_number="GP-2002", term=(live_world.policy.term_start, live_world.policy.term_end))
    funding.ea_topup(employer=live_world.employer, amount="500.00", currency="USD", idempotency_key="t1", actor="t")
    funding.ea_topup(employer=other.employer, amount="100.00", currency="USD", idempotency_key="t2", actor="t")
    return live_world, other


def test_a_party_downloads_a_bundle_the_standalone_verifier_accepts(two_employers, client_for, tmp_path):
    world, _ = two_employers
    hr = client_for(world.hr)
    assert (
        hr.post("/api/v1/endorsements/", addition("E-1", effective=day(5), plan="DAY"), format="json").status_code
        == 201
    )
    tree_seal()

    response = hr.get("/api/v1/endorsements/audit-bundle")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    bundle = json.loads(response.content)
    assert bundle["subject"] == {
        "type": "employer_endorsements",
        "id": str(world.employer.pk),
        "length": 3,
        "head_hash": bundle["events"][-1]["event_hash"],
    }
    path = tmp_path / "bundle.json"
    path.write_bytes(response.content)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}  # no Django settings, no database
    ok = subprocess.run([sys.executable, "-m", "audit.verify", str(path)], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    # The verifier is not a rubber stamp: the same file with an edited payload fails.
    bundle["events"][1]["payload"]["requests"][0]["state"] = "active"
    path.write_text(json.dumps(bundle))
    bad = subprocess.run([sys.executable, "-m", "audit.verify", str(path)], capture_output=True, text=True, env=env)
    assert bad.returncode != 0


def test_another_employer_gets_404_on_every_audit_endpoint(two_employers, client_for):
    world, other = two_employers
    stranger = client_for(other.hr)
    mine = client_for(world.hr).get("/api/v1/endorsements/audit-events").json()["results"]
    event_hash = mine[0]["event_hash"]
    query = {"employer": str(world.employer.public_id)}
    for url in [
        "/api/v1/endorsements/audit-trail",
        "/api/v1/endorsements/audit-events",
        "/api/v1/endorsements/audit-bundle",
    ]:
        response = stranger.get(url, query)
        assert response.status_code == 404, url
        assert response.json()["code"] == "employer_not_found"
    verify = stranger.post(f"/api/v1/endorsements/audit-events/{event_hash}/verify")
    assert verify.status_code == 404
    assert verify.json()["code"] == "audit_event_not_found"
    # Their own trail holds only their own top-up.
    own = stranger.get("/api/v1/endorsements/audit-events").json()["results"]
    assert [e["kind"] for e in own] == ["endorsement_account.topped_up"]
    assert own[0]["subject_id"] == str(other.employer.pk)


def test_an_auditor_names_the_employer_and_verifies_an_event(two_employers, client_for):
    world, _ = two_employers
    client_for(world.hr).post("/api/v1/endorsements/", addition("E-1", effective=day(5), plan="DAY"), format="json")
    tree_seal()
    reader = client_for(auditor())
    query = {"employer": str(world.employer.public_id)}
    assert reader.get("/api/v1/endorsements/audit-trail").status_code == 403  # must say which employer
    events = reader.get("/api/v1/endorsements/audit-events", query).json()["results"]
    assert [e["kind"] for e in events] == [
        "endorsement_account.topped_up",
        "endorsement.received",
        "endorsement.fund_locked",
    ]
    assert events[0]["subject_type"] == "employer_endorsements"
    proof = reader.post(f"/api/v1/endorsements/audit-events/{events[1]['event_hash']}/verify").json()
    assert proof["verdict"]["valid"] is True
    assert proof["verdict"]["sealed"] is True
    assert proof["event"]["event_hash"] == events[1]["event_hash"]
    assert reader.get("/api/v1/endorsements/audit-bundle", query).status_code == 200


def test_trail_filters_by_kind_and_time(two_employers, client_for):
    world, _ = two_employers
    hr = client_for(world.hr)
    hr.post("/api/v1/endorsements/", addition("E-1", effective=day(5), plan="DAY"), format="json")
    kinds = [
        e["kind"]
        for e in hr.get("/api/v1/endorsements/audit-trail", {"kind": "endorsement.received"}).json()["results"]
    ]
    assert kinds == ["endorsement.received"]
    assert hr.get("/api/v1/endorsements/audit-trail", {"since": "2999-01-01T00:00:00Z"}).json()["count"] == 0
    assert hr.get("/api/v1/endorsements/audit-trail", {"until": "2999-01-01T00:00:00Z"}).json()["count"] == 3
    bad = hr.get("/api/v1/endorsements/audit-trail", {"since": "2999-01-02T00:00:00Z", "until": "2999-01-01T00:00:00Z"})
    assert bad.status_code == 400
    assert hr.get("/api/v1/endorsements/audit-bundle", {"employer": "not-a-uuid"}).status_code == 404
