"""FAILED: the insurer refuses content for good (HTTP 422 naming items) -> hold voided, audit, HR told."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from audit.models import AuditEvent
from endorsements import funds
from endorsements.models import Dispatch, EndorsementAccount, EndorsementRequest, Member
from endorsements.sandbox.server import Config, build_server
from endorsements.services import dispatch, funding
from endorsements.services.intake import endorsement_submit
from endorsements.states import RequestState
from notifications.models import Notification
from tests.endorsements.conftest import SECRET, addition, day


@pytest.fixture(autouse=True)
def _ledger_invariants(db):
    yield
    from ledger.selectors import invariants_check

    assert invariants_check().ok


@pytest.fixture
def sandbox() -> Iterator[str]:
    """The sandbox insurer on a free port, refusing member ids starting with BAD as invalid (422)."""
    # A long delay: accepted submissions would call back later; this test applies no callbacks.
    config = Config(api_key="sandbox-key", secrets=[SECRET], delay_ms=600_000, invalid_prefix="BAD")
    server = build_server("127.0.0.1", 0, config)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def available(world) -> Decimal:
    return funds.available(EndorsementAccount.objects.get(employer=world.employer, currency="USD"))


def send_window() -> Dispatch:
    [dispatch_id] = dispatch.scheduler_tick(force=True)
    dispatch.dispatch_send(dispatch_id=dispatch_id)
    return Dispatch.objects.get(pk=dispatch_id)


def test_invalid_items_fail_with_holds_voided_and_the_rest_go_out_next_window(live_world, sandbox):
    world = live_world
    world.profile.base_url = sandbox
    world.profile.save()
    funding.ea_topup(employer=world.employer, amount="400.00", currency="USD", idempotency_key="t1", actor="t")
    submit = lambda member_id: endorsement_submit(  # noqa: E731
        employer=world.employer, data=addition(member_id, effective=day(5), plan="DAY"), actor="t"
    )
    good, bad, waiting = submit("E-1"), submit("BAD-7"), submit("E-3")
    price = good.amount
    assert bad.amount == price
    assert waiting.amount == price
    assert waiting.state == RequestState.ON_HOLD_FUNDS  # three holds do not fit in 400.00

    first = send_window()

    assert first.status == Dispatch.Status.INVALID
    bad.refresh_from_db()
    assert bad.state == RequestState.FAILED
    assert "member_id is not a valid member number" in bad.last_error
    assert Member.objects.get(pk=bad.member_id).status == Member.Status.NOT_COVERED
    # The voided hold woke the parked request; the one the insurer did not object to is queued again.
    good.refresh_from_db()
    waiting.refresh_from_db()
    assert (good.state, good.dispatch_id) == (RequestState.FUND_LOCKED, None)
    assert waiting.state == RequestState.FUND_LOCKED
    assert available(world) == Decimal("400.00") - 2 * price

    failed = AuditEvent.objects.get(subject_id=str(world.employer.pk), kind="endorsement.failed")
    assert [r["tracking_id"] for r in failed.payload["requests"]] == [bad.tracking_id]
    told = Notification.objects.filter(recipient_organization=world.employer, kind="endorsement_failed")
    contexts: list[Any] = [n.context for n in told]
    assert {c["reference"] for c in contexts} == {bad.tracking_id}
    assert all("not a valid member number" in c["reason"] for c in contexts)

    second = send_window()
    assert second.status == Dispatch.Status.ACKNOWLEDGED
    assert set(EndorsementRequest.objects.filter(dispatch=second).values_list("state", flat=True)) == {"sent"}
    assert EndorsementRequest.objects.filter(dispatch=second).count() == 2
    # A failed request frees its content: the corrected row can be sent again (not a duplicate).
    funding.ea_topup(employer=world.employer, amount="200.00", currency="USD", idempotency_key="t2", actor="t")
    again = submit("BAD-7")
    assert again.state == RequestState.FUND_LOCKED


def test_a_configuration_error_dead_letters_and_stays_retryable(live_world, sandbox):
    world = live_world
    world.profile.base_url = sandbox
    world.profile.api_key = "wrong-key"  # 401: an operator can fix this, so it must not fail for good
    world.profile.save()
    funding.ea_topup(employer=world.employer, amount="400.00", currency="USD", idempotency_key="t1", actor="t")
    request = endorsement_submit(
        employer=world.employer, data=addition("BAD-1", effective=day(5), plan="DAY"), actor="t"
    )
    assert send_window().status == Dispatch.Status.DEAD_LETTER
    request.refresh_from_db()
    assert request.state == RequestState.DEAD_LETTER
    assert available(world) == Decimal("400.00") - request.amount  # the hold stays for the retry
    assert not AuditEvent.objects.filter(kind="endorsement.failed").exists()
