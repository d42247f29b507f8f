"""Insurer callbacks: signatures, rotation, stale timestamps, replays and reordering."""

from __future__ import annotations

import json
import time

import pytest
from rest_framework.test import APIClient

from endorsements.gateway import GatewayResult
from endorsements.models import InsurerCallbackSecret, InsurerEvent
from endorsements.services import dispatch, funding
from endorsements.services.callbacks import sign
from endorsements.services.intake import endorsement_submit
from endorsements.states import RequestState
from ledger.models import Hold
from tests.endorsements.conftest import SECRET, addition, day


@pytest.fixture(autouse=True)
def _ledger_invariants(db):
    yield
    from ledger.selectors import invariants_check

    assert invariants_check().ok


def url(world, batch=True):
    return f"/api/v1/webhooks/insurers/{world.insurer.public_id}/{'batch-notify' if batch else 'notify'}"


def post(world, body: dict, *, secret=SECRET, timestamp=None, batch=True, signature=None):
    raw = json.dumps(body).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    sig = signature if signature is not None else f"v1={sign(secret, ts, raw)}"
    return APIClient().post(
        url(world, batch),
        data=raw,
        content_type="application/json",
        HTTP_X_INSURER_TIMESTAMP=ts,
        HTTP_X_INSURER_SIGNATURE=sig,
    )


@pytest.fixture
def sent(live_world):
    """Two requests delivered to the insurer (state SENT), funds locked."""
    world = live_world
    funding.ea_topup(employer=world.employer, amount="1000.00", currency="USD", idempotency_key="t1", actor="test")
    requests = [
        endorsement_submit(employer=world.employer, data=addition(f"E-{i}", effective=day(5), plan="DAY"), actor="t")
        for i in range(2)
    ]
    [dispatch_id] = dispatch.scheduler_tick(force=True)
    dispatch.dispatch_record_result(dispatch_id=dispatch_id, result=GatewayResult(accepted=True))
    for r in requests:
        r.refresh_from_db()
        assert r.state == RequestState.SENT
    return world, requests


def event(event_id, type_, request, **extra):
    return {"event_id": event_id, "type": f"endorsement.{type_}", "tracking_id": request.tracking_id, **extra}


def test_a_signed_batch_is_applied_and_a_replay_changes_nothing(sent):
    world, (a, b) = sent
    body = {"events": [event("e1", "confirmed", a), event("e2", "rejected", b, reason="Not eligible")]}
    first = post(world, body)
    assert first.status_code == 200, first.content
    assert first.json()["outcomes"] == {"applied": 2}
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.state, b.state) == (RequestState.CONFIRMED, RequestState.REJECTED)
    # The entry posting the hold leads back to the request (a reconciler's manual match).
    posted = Hold.objects.select_related("post_entry").get(pk=int(a.hold_id)).post_entry
    assert posted is not None
    assert posted.metadata["tracking_id"] == a.tracking_id
    replay = post(world, body)
    assert replay.json()["outcomes"] == {"duplicate": 2}
    assert InsurerEvent.objects.count() == 2


def test_activation_before_confirmation_is_applied_in_the_right_order(sent):
    world, (a, _) = sent
    assert post(world, event("e2", "activated", a), batch=False).json()["outcomes"] == {"applied": 1}
    a.refresh_from_db()
    assert a.state == RequestState.ACTIVE
    assert a.settled_amount == a.amount
    # The late confirmation is recognised as stale and changes nothing.
    assert post(world, event("e1", "confirmed", a), batch=False).json()["outcomes"] == {"stale": 1}
    a.refresh_from_db()
    assert a.state == RequestState.ACTIVE


def test_a_rejection_after_confirmation_is_a_recorded_conflict_not_a_change(sent):
    world, (a, _) = sent
    post(world, event("e1", "confirmed", a), batch=False)
    response = post(world, event("e2", "rejected", a, reason="late"), batch=False)
    assert response.json()["outcomes"] == {"conflict": 1}
    a.refresh_from_db()
    assert a.state == RequestState.CONFIRMED
    assert InsurerEvent.objects.get(event_id="e2").outcome == "conflict"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"secret": "not-the-secret"}, "invalid_signature"),
        ({"timestamp": int(time.time()) - 3600}, "stale_timestamp"),
        ({"timestamp": int(time.time()) + 3600}, "stale_timestamp"),
        ({"signature": ""}, "missing_signature"),
        ({"signature": "v1=00"}, "invalid_signature"),
    ],
)
def test_bad_signatures_and_stale_timestamps_are_refused_and_change_nothing(sent, kwargs, code):
    world, (a, _) = sent
    response = post(world, {"events": [event("e1", "confirmed", a)]}, **kwargs)
    assert response.status_code == 401
    assert response.json()["code"] == code
    a.refresh_from_db()
    assert a.state == RequestState.SENT
    assert not InsurerEvent.objects.exists()


def test_a_body_altered_after_signing_is_refused(sent):
    world, (a, _) = sent
    raw = json.dumps({"events": [event("e1", "confirmed", a)]}).encode()
    ts = str(int(time.time()))
    signature = sign(SECRET, ts, raw)
    tampered = raw.replace(b"confirmed", b"rejected!")
    response = APIClient().post(
        url(world),
        data=tampered,
        content_type="application/json",
        HTTP_X_INSURER_TIMESTAMP=ts,
        HTTP_X_INSURER_SIGNATURE=f"v1={signature}",
    )
    assert response.status_code == 401


def test_secret_rotation_accepts_old_and_new_until_the_old_is_retired(sent):
    world, (a, b) = sent
    InsurerCallbackSecret.objects.create(insurer=world.insurer, key_id="k2", secret="whsec-new")
    assert post(world, event("e1", "confirmed", a), batch=False, secret="whsec-new").status_code == 200
    assert post(world, event("e2", "confirmed", b), batch=False, secret=SECRET).status_code == 200
    InsurerCallbackSecret.objects.filter(key_id="k1").update(is_active=False)
    assert post(world, event("e3", "activated", a), batch=False, secret=SECRET).status_code == 401


def test_a_malformed_event_in_a_batch_applies_nothing(sent):
    world, (a, _b) = sent
    response = post(world, {"events": [event("e1", "confirmed", a), {"event_id": "e2", "type": "bogus"}]})
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"type", "tracking_id"}
    a.refresh_from_db()
    assert a.state == RequestState.SENT
    assert not InsurerEvent.objects.exists()


def test_an_unknown_insurer_is_404(sent):
    _world, _ = sent
    response = APIClient().post(
        "/api/v1/webhooks/insurers/00000000-0000-0000-0000-000000000000/notify",
        data=b"{}",
        content_type="application/json",
    )
    assert response.status_code == 404


def test_an_answer_that_overtakes_the_delivery_bookkeeping_clears_the_delivery_error(live_world):
    # Given a request whose first delivery timed out (the error is on the request for operators)...
    world = live_world
    funding.ea_topup(employer=world.employer, amount="1000.00", currency="USD", idempotency_key="t1", actor="test")
    request = endorsement_submit(employer=world.employer, data=addition("E-1", effective=day(5), plan="DAY"), actor="t")
    [dispatch_id] = dispatch.scheduler_tick(force=True)
    retry = GatewayResult(accepted=False, transient=True, error="timed out after 10s")
    assert dispatch.dispatch_record_result(dispatch_id=dispatch_id, result=retry) is not None
    request.refresh_from_db()
    assert (request.state, request.last_error) == (RequestState.FUND_LOCKED, "timed out after 10s")
    # ...when the insurer confirms it before the retry's bookkeeping: it evidently has it...
    response = post(world, {"events": [event("e1", "confirmed", request)]})
    assert response.status_code == 200, response.content
    # ...then it is confirmed and no longer shows the delivery error (mark_sent clears it, and it is written).
    request.refresh_from_db()
    assert (request.state, request.last_error) == (RequestState.CONFIRMED, "")
    assert request.sent_at is not None
