"""Fund locks that park and wake, on the real ledger."""

from __future__ import annotations

from decimal import Decimal

import pytest

from endorsements import funds
from endorsements.gateway import GatewayResult
from endorsements.models import Direction, EndorsementAccount, EndorsementRequest, Member
from endorsements.services import callbacks, dispatch, funding, lifecycle
from endorsements.services.intake import endorsement_submit
from endorsements.states import RequestState
from endorsements.validation import member_index
from escrow_project.common.errors import UnprocessableError
from tests.endorsements.conftest import addition, day


@pytest.fixture(autouse=True)
def _ledger_invariants(db):
    yield
    from ledger.selectors import invariants_check

    report = invariants_check()
    assert report.ok, report


def submit(world, row):
    return endorsement_submit(employer=world.employer, data=row, actor="test")


def available(world) -> Decimal:
    ea = EndorsementAccount.objects.get(employer=world.employer, currency="USD")
    return funds.available(ea)


def confirm_via_insurer(world, request):
    """Window, delivery acknowledged, then the insurer's signed 'confirmed' event applied."""
    [dispatch_id] = dispatch.scheduler_tick(force=True)
    dispatch.dispatch_record_result(dispatch_id=dispatch_id, result=GatewayResult(accepted=True))
    outcome = callbacks.insurer_event_apply(
        insurer=world.insurer,
        event={
            "event_id": f"evt-{request.tracking_id}",
            "type": "endorsement.confirmed",
            "tracking_id": request.tracking_id,
        },
    )
    assert outcome == "applied"


def test_park_and_wake_sequence(live_world):
    world = live_world
    world.profile.future_limit_days = 200
    world.profile.save()
    funding.ea_topup(employer=world.employer, amount="400.00", currency="USD", idempotency_key="t1", actor="test")

    # Several debits (1.00 per remaining day): 160 + 159 fit, 158 no longer does.
    a = submit(world, addition("E-A", effective=day(5), plan="DAY"))
    b = submit(world, addition("E-B", effective=day(6), plan="DAY"))
    c = submit(world, addition("E-C", effective=day(7), plan="DAY"))
    assert (a.amount, b.amount, c.amount) == (Decimal("160.00"), Decimal("159.00"), Decimal("158.00"))
    assert [a.state, b.state, c.state] == [
        RequestState.FUND_LOCKED,
        RequestState.FUND_LOCKED,
        RequestState.ON_HOLD_FUNDS,
    ]
    assert c.hold_id == ""
    assert available(world) == Decimal("81.00")

    # A leaving member's refund of 24.00 is confirmed: 105 available, still not enough for 158.
    leaver = Member.objects.create(
        policy=world.policy,
        member_id="E-X",
        member_index=member_index("E-X"),
        person_name="Leaving Person",
        date_of_birth="1980-01-01",
        relationship="employee",
        plan="DAY",
        status=Member.Status.COVERED,
    )
    credit = submit(
        world, {"policy_number": "GP-1001", "kind": "deletion", "member_id": "E-X", "effective_date": day(140)}
    )
    assert (credit.direction, credit.amount, credit.state) == (
        Direction.CREDIT,
        Decimal("24.00"),
        RequestState.FUND_LOCKED,
    )
    confirm_via_insurer(world, credit)
    assert available(world) == Decimal("105.00")
    c.refresh_from_db()
    assert c.state == RequestState.ON_HOLD_FUNDS

    # A top-up of 60.00 wakes it: 165 available, 158 locked, 7 left.
    result = funding.ea_topup(
        employer=world.employer, amount="60.00", currency="USD", idempotency_key="t2", actor="test"
    )
    assert (result.locked, result.parked) == (1, 0)
    c.refresh_from_db()
    assert c.state == RequestState.FUND_LOCKED
    assert c.hold_id
    assert available(world) == Decimal("7.00")
    leaver.refresh_from_db()
    assert leaver.status == Member.Status.COVERED  # only activation removes the member


def test_parked_requests_wake_oldest_effective_date_first_and_newcomers_queue_behind(live_world):
    world = live_world
    funding.ea_topup(employer=world.employer, amount="10.00", currency="USD", idempotency_key="t1", actor="test")
    late = submit(world, addition("E-1", effective=day(20), plan="DAY"))  # 145.00
    early = submit(world, addition("E-2", effective=day(10), plan="DAY"))  # 155.00
    small = submit(world, addition("E-3", effective=day(30), plan="DAY"))  # 135.00
    assert {r.state for r in (late, early, small)} == {RequestState.ON_HOLD_FUNDS}
    # 160 more: 170 available covers the oldest effective date (155) but then 15 is left.
    funding.ea_topup(employer=world.employer, amount="160.00", currency="USD", idempotency_key="t2", actor="test")
    for r in (late, early, small):
        r.refresh_from_db()
    assert [early.state, late.state, small.state] == [
        RequestState.FUND_LOCKED,
        RequestState.ON_HOLD_FUNDS,
        RequestState.ON_HOLD_FUNDS,
    ]


def test_rejection_voids_the_hold_and_wakes_the_next(live_world):
    world = live_world
    funding.ea_topup(employer=world.employer, amount="200.00", currency="USD", idempotency_key="t1", actor="test")
    first = submit(world, addition("E-1", effective=day(5), plan="DAY"))  # 160
    second = submit(world, addition("E-2", effective=day(6), plan="DAY"))  # 159: parked
    assert second.state == RequestState.ON_HOLD_FUNDS
    [dispatch_id] = dispatch.scheduler_tick(force=True)
    dispatch.dispatch_record_result(dispatch_id=dispatch_id, result=GatewayResult(accepted=True))
    callbacks.insurer_event_apply(
        insurer=world.insurer,
        event={"event_id": "r1", "type": "endorsement.rejected", "tracking_id": first.tracking_id, "reason": "No"},
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.state == RequestState.REJECTED
    assert first.member.status == Member.Status.NOT_COVERED
    assert second.state == RequestState.FUND_LOCKED
    assert available(world) == Decimal("41.00")


def test_confirmation_posts_the_hold_and_activation_covers_the_member(live_world):
    world = live_world
    funding.ea_topup(employer=world.employer, amount="200.00", currency="USD", idempotency_key="t1", actor="test")
    request = submit(world, addition("E-1", effective=day(5), plan="DAY"))
    confirm_via_insurer(world, request)
    callbacks.insurer_event_apply(
        insurer=world.insurer,
        event={"event_id": "a1", "type": "endorsement.activated", "tracking_id": request.tracking_id},
    )
    request.refresh_from_db()
    assert request.state == RequestState.ACTIVE
    assert request.settled_amount == Decimal("160.00")
    ea = EndorsementAccount.objects.get(employer=world.employer)
    summary = funds.balance_summary(ea)
    assert (summary["balance"], summary["locked"], summary["available"]) == (
        Decimal("40.00"),
        Decimal("0.00"),
        Decimal("40.00"),
    )
    assert request.member.status == Member.Status.COVERED
    assert request.member.coverages.get().plan == "DAY"


def test_a_bad_topup_changes_nothing(live_world):
    world = live_world
    with pytest.raises(UnprocessableError) as err:
        funding.ea_topup(employer=world.employer, amount="10.001", currency="USD", idempotency_key="t1", actor="test")
    assert err.value.code == "invalid_amount"
    assert not EndorsementAccount.objects.filter(employer=world.employer).exists()


def test_cancel_of_a_locked_request_voids_its_hold(live_world):
    world = live_world
    funding.ea_topup(employer=world.employer, amount="200.00", currency="USD", idempotency_key="t1", actor="test")
    request = submit(world, addition("E-1", effective=day(5), plan="DAY"))
    lifecycle.request_cancel(request_id=request.pk, reason="Entered by mistake", actor="test")
    request.refresh_from_db()
    assert request.state == RequestState.CANCELLED
    assert available(world) == Decimal("200.00")
    assert not EndorsementRequest.objects.filter(state=RequestState.FUND_LOCKED).exists()


def test_every_step_is_audited_and_hr_hears_about_the_ones_that_matter(live_world):
    from audit.models import AuditEvent
    from notifications.models import Notification

    world = live_world
    funding.ea_topup(employer=world.employer, amount="100.00", currency="USD", idempotency_key="t1", actor="test")
    parked = submit(world, addition("E-1", effective=day(5), plan="DAY"))
    funding.ea_topup(employer=world.employer, amount="100.00", currency="USD", idempotency_key="t2", actor="test")
    confirm_via_insurer(world, parked)
    kinds = list(
        AuditEvent.objects.filter(subject_type="employer_endorsements", subject_id=str(world.employer.pk))
        .order_by("seq")
        .values_list("kind", flat=True)
    )
    assert kinds == [
        "endorsement_account.topped_up",
        "endorsement.received",
        "endorsement.on_hold_funds",
        "endorsement_account.topped_up",
        "endorsement.fund_locked",
        "endorsement.sent",
        "endorsement.confirmed",
    ]
    notified = set(Notification.objects.filter(recipient_organization=world.employer).values_list("kind", flat=True))
    assert {"endorsement_received", "endorsement_on_hold_funds", "endorsement_confirmed"} <= notified


def test_transient_failures_retry_then_dead_letter_and_an_operator_can_retry_or_cancel(live_world):
    from endorsements.models import Dispatch

    world = live_world
    world.profile.max_attempts = 2
    world.profile.save()
    funding.ea_topup(employer=world.employer, amount="200.00", currency="USD", idempotency_key="t1", actor="test")
    request = submit(world, addition("E-1", effective=day(5), plan="DAY"))
    [dispatch_id] = dispatch.scheduler_tick(force=True)
    failure = GatewayResult(accepted=False, transient=True, error="HTTP 503")
    assert dispatch.dispatch_record_result(dispatch_id=dispatch_id, result=failure) == 5  # first backoff
    assert dispatch.dispatch_record_result(dispatch_id=dispatch_id, result=failure) is None
    request.refresh_from_db()
    assert request.state == RequestState.DEAD_LETTER
    assert Dispatch.objects.get(pk=dispatch_id).status == Dispatch.Status.DEAD_LETTER
    assert available(world) == Decimal("40.00")  # still held: nothing was sent, nothing released

    lifecycle.request_retry(request_id=request.pk, actor="operator")
    request.refresh_from_db()
    assert (request.state, request.dispatch_id) == (RequestState.FUND_LOCKED, None)
    [second] = dispatch.scheduler_tick(force=True)  # picked up by the next window
    dispatch.dispatch_record_result(dispatch_id=second, result=failure)
    dispatch.dispatch_record_result(dispatch_id=second, result=failure)
    request.refresh_from_db()
    assert request.state == RequestState.DEAD_LETTER

    lifecycle.request_cancel(request_id=request.pk, reason="Employer withdrew it", actor="operator")
    request.refresh_from_db()
    assert request.state == RequestState.CANCELLED
    assert available(world) == Decimal("200.00")


def test_a_request_in_delivery_cannot_be_cancelled_and_lost_deliveries_are_swept(
    live_world, django_capture_on_commit_callbacks
):
    import datetime as dt

    from django.utils import timezone

    from endorsements.models import Dispatch
    from escrow_project.common.errors import ConflictError

    world = live_world
    funding.ea_topup(employer=world.employer, amount="200.00", currency="USD", idempotency_key="t1", actor="test")
    request = submit(world, addition("E-1", effective=day(5), plan="DAY"))
    [dispatch_id] = dispatch.scheduler_tick(force=True)
    with pytest.raises(ConflictError) as err:
        lifecycle.request_cancel(request_id=request.pk, reason="oops", actor="operator")
    assert err.value.code == "endorsement_in_delivery"
    request.refresh_from_db()
    assert request.state == RequestState.FUND_LOCKED

    # Ten minutes later the delivery is still pending (its task was lost): the next tick re-enqueues it.
    Dispatch.objects.filter(pk=dispatch_id).update(created_at=timezone.now() - dt.timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert dispatch.scheduler_tick(force=True) == []
    assert len(callbacks) == 1


def _file(world, tmp_path, rows):
    import json

    from endorsements.models import Batch
    from endorsements.services import batches

    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows))
    batch = Batch.objects.create(
        employer=world.employer, file_format=Batch.Format.JSON, file_path=str(path), file_sha256="x" * 64
    )
    assert batches.batch_process(batch_id=batch.pk) is True
    return {r.member.member_id: r for r in EndorsementRequest.objects.filter(batch=batch).select_related("member")}


def test_a_file_locks_in_queue_order_what_fits_and_parks_the_rest_in_the_same_chunk(live_world, tmp_path):
    world = live_world
    funding.ea_topup(employer=world.employer, amount="320.00", currency="USD", idempotency_key="t1", actor="test")
    # File order is not queue order: the earliest effective dates come first (160 + 155 = 315 fit).
    got = _file(
        world,
        tmp_path,
        [
            addition("F-LATE", effective=day(20), plan="DAY"),  # 145.00
            addition("F-FIRST", effective=day(5), plan="DAY"),  # 160.00
            addition("F-SECOND", effective=day(10), plan="DAY"),  # 155.00
        ],
    )
    assert {m: r.state for m, r in got.items()} == {
        "F-FIRST": RequestState.FUND_LOCKED,
        "F-SECOND": RequestState.FUND_LOCKED,
        "F-LATE": RequestState.ON_HOLD_FUNDS,
    }
    assert got["F-LATE"].hold_id == ""
    assert available(world) == Decimal("5.00")
    # Each request's hold is on the ledger with its amount.
    from ledger.models import Hold

    holds = Hold.objects.in_bulk([int(got[m].hold_id) for m in ("F-FIRST", "F-SECOND")])
    assert sorted(h.amount for h in holds.values()) == [Decimal("155.00"), Decimal("160.00")]
    # The trail says what happened, in order, with the state each step left them in.
    from audit.models import AuditEvent

    steps = [
        (e.kind, sorted(r["state"] for r in e.payload["requests"]))
        for e in AuditEvent.objects.filter(subject_id=str(world.employer.pk), kind__startswith="endorsement.").order_by(
            "seq"
        )
    ]
    assert steps[-3:] == [
        ("endorsement.received", ["validated"] * 3),
        ("endorsement.fund_locked", ["fund_locked"] * 2),
        ("endorsement.on_hold_funds", ["on_hold_funds"]),
    ]
    funding.ea_topup(employer=world.employer, amount="140.00", currency="USD", idempotency_key="t2", actor="test")
    got["F-LATE"].refresh_from_db()
    assert got["F-LATE"].state == RequestState.FUND_LOCKED


def test_a_file_queues_behind_a_parked_request_even_when_its_rows_would_fit(live_world, tmp_path):
    world = live_world
    funding.ea_topup(employer=world.employer, amount="100.00", currency="USD", idempotency_key="t1", actor="test")
    parked = submit(world, addition("E-BIG", effective=day(5), plan="DAY"))  # 160.00 > 100.00
    assert parked.state == RequestState.ON_HOLD_FUNDS
    got = _file(world, tmp_path, [addition("F-SMALL", effective=day(80), plan="DAY")])  # 85.00 would fit
    assert got["F-SMALL"].state == RequestState.ON_HOLD_FUNDS
    assert available(world) == Decimal("100.00")
