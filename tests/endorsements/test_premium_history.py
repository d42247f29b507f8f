"""Premiums and refunds follow the coverage in force on each day: no refund of what was never charged."""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from endorsements.gateway import GatewayResult
from endorsements.models import Coverage, EndorsementAccount, EndorsementRequest, Member
from endorsements.premium import PlanPeriod, ProrationMethod, deletion_credit_for, modification_amount_for
from endorsements.services import callbacks, dispatch, funding
from endorsements.services.intake import endorsement_submit
from endorsements.states import RequestState
from escrow_project.common.errors import UnprocessableError
from ledger.models import JournalEntry
from tests.endorsements.conftest import REAL_TODAY, addition, day


@pytest.fixture(autouse=True)
def _ledger_invariants(db):
    yield
    from ledger.selectors import invariants_check

    assert invariants_check().ok


@pytest.fixture
def funded(live_world):
    live_world.profile.future_limit_days = 200
    live_world.profile.save()
    funding.ea_topup(employer=live_world.employer, amount="5000.00", currency="USD", idempotency_key="t1", actor="test")
    return live_world


def submit(world, row):
    return endorsement_submit(employer=world.employer, data=row, actor="test")


def activate(world, request):
    """Window, delivery acknowledged, then the insurer's signed confirmation and activation applied."""
    [dispatch_id] = dispatch.scheduler_tick(force=True)
    dispatch.dispatch_record_result(dispatch_id=dispatch_id, result=GatewayResult(accepted=True))
    for kind in ("confirmed", "activated"):
        event = {"event_id": f"{kind}-{request.tracking_id}", "type": f"endorsement.{kind}"}
        outcome = callbacks.insurer_event_apply(
            insurer=world.insurer, event={**event, "tracking_id": request.tracking_id}
        )
        assert outcome == "applied"
    request.refresh_from_db()
    assert request.state == RequestState.ACTIVE


def change(member_id, plan, effective):
    return {
        "policy_number": "GP-1001",
        "kind": "modification",
        "member_id": member_id,
        "new_plan": plan,
        "effective_date": effective,
    }


def deletion(member_id, last_day):
    return {"policy_number": "GP-1001", "kind": "deletion", "member_id": member_id, "effective_date": last_day}


def money(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# The live term: 200 days before today to 164 after (365 days); BASIC 1200.00, PLUS 1825.00 a year.
def days_to_term_end(offset: int) -> int:
    return 164 - offset + 1


def test_an_exit_before_the_coverage_start_is_refused_and_changes_nothing(funded):
    activate(funded, submit(funded, addition("E-1", effective=day(10))))
    before = (EndorsementRequest.objects.count(), JournalEntry.objects.count())

    with pytest.raises(UnprocessableError) as refused:
        submit(funded, deletion("E-1", day(5)))

    assert [e["code"] for e in refused.value.errors] == ["before_coverage_start"]
    assert refused.value.errors[0]["field"] == "effective_date"
    assert (EndorsementRequest.objects.count(), JournalEntry.objects.count()) == before


def test_a_plan_change_dated_before_the_coverage_start_counts_from_the_start(funded):
    activate(funded, submit(funded, addition("E-1", effective=day(10))))

    modified = submit(funded, change("E-1", "PLUS", day(0)))

    # Only the covered days (from day 10) move to the new plan: 625 x 155 / 365.
    assert (modified.direction, modified.amount) == ("debit", money(Decimal(625 * days_to_term_end(10)) / 365))
    activate(funded, modified)
    periods = list(Coverage.objects.filter(member_id=modified.member_id, voided_at__isnull=True).order_by("start_date"))
    assert [(p.plan, p.start_date) for p in periods] == [("PLUS", REAL_TODAY + datetime.timedelta(days=10))]


def test_a_deletion_before_a_future_plan_change_refunds_each_day_at_the_plan_charged_for_it(funded):
    added = submit(funded, addition("E-1", effective=day(-20)))
    activate(funded, added)
    upgrade = submit(funded, change("E-1", "PLUS", day(30)))
    activate(funded, upgrade)
    assert Member.objects.get(pk=added.member_id).plan == "PLUS"  # the latest plan; days before 30 are BASIC

    deleted = submit(funded, deletion("E-1", day(10)))

    # Days 11..29 were charged at BASIC, days 30.. at PLUS (BASIC plus the upgrade's difference).
    expected = money(Decimal(1200 * 19 + 1825 * days_to_term_end(30)) / 365)
    assert (deleted.direction, deleted.amount) == ("credit", expected)
    assert deleted.amount <= added.amount + upgrade.amount
    activate(funded, deleted)
    periods = Coverage.objects.filter(member_id=added.member_id).order_by("start_date")
    assert [(p.plan, p.end_date, p.voided_at is not None) for p in periods] == [
        ("BASIC", REAL_TODAY + datetime.timedelta(days=10), False),
        ("PLUS", REAL_TODAY + datetime.timedelta(days=30), True),  # replaced before it began
    ]


def test_a_top_up_in_a_currency_no_policy_bills_is_refused(funded, client_for):
    before = EndorsementAccount.objects.count()

    response = client_for(funded.hr).post(
        "/api/v1/ledger/topup",
        {"amount": "100.00", "currency": "EUR"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="eur-1",
    )

    assert (response.status_code, response.json()["code"]) == (422, "currency_without_policy")
    assert EndorsementAccount.objects.count() == before
    assert not EndorsementAccount.objects.filter(currency="EUR").exists()


# --- property: for any coverage history, refunds never exceed charges, day by day -------------

TERM_START, TERM_END = datetime.date(2026, 1, 1), datetime.date(2026, 12, 31)
RATES = [Decimal("1200.00"), Decimal("1825.00"), Decimal("730.00"), Decimal("0.00")]


def _apply_change(periods: list[PlanPeriod], effective: datetime.date, annual: Decimal) -> list[PlanPeriod]:
    """What activation does to the periods (the model the services follow)."""
    start = max(effective, periods[0].start)
    kept = [p for p in periods if p.start < start]
    if kept:
        kept[-1] = PlanPeriod(kept[-1].start, start - datetime.timedelta(days=1), kept[-1].annual)
    return [*kept, PlanPeriod(start, None, annual)]


@settings(max_examples=300, deadline=None)
@given(
    start=st.integers(0, 300),
    first_rate=st.sampled_from(RATES),
    changes=st.lists(st.tuples(st.integers(0, 364), st.sampled_from(RATES)), max_size=4),
    exit_after=st.integers(0, 364),
)
def test_refunds_never_exceed_what_was_charged_for_the_same_days(start, first_rate, changes, exit_after):
    coverage_start = TERM_START + datetime.timedelta(days=start)
    periods = [PlanPeriod(coverage_start, None, first_rate)]
    total = Decimal(first_rate * ((TERM_END - coverage_start).days + 1)) / 365
    charged = money(total)
    for offset, rate in changes:
        effective = TERM_START + datetime.timedelta(days=offset)
        charged += modification_amount_for(
            periods=periods,
            new_annual=rate,
            currency="USD",
            term_start=TERM_START,
            term_end=TERM_END,
            effective=effective,
            method=ProrationMethod.DAYS,
            charged=charged,
        )
        assert charged >= 0  # a downgrade never refunds more than was charged
        periods = _apply_change(periods, effective, rate)
    last_day = min(coverage_start + datetime.timedelta(days=exit_after), TERM_END)

    credit = deletion_credit_for(
        periods=periods,
        currency="USD",
        term_start=TERM_START,
        term_end=TERM_END,
        last_covered=last_day,
        method=ProrationMethod.DAYS,
        charged=charged,
    )

    def rate_on(d: datetime.date) -> Decimal:
        return next(p.annual for p in reversed(periods) if p.start <= d)

    refunded_days = [last_day + datetime.timedelta(days=n) for n in range(1, (TERM_END - last_day).days + 1)]
    exact_refund = sum((rate_on(d) for d in refunded_days), Decimal(0)) / 365
    assert credit <= charged
    assert credit >= 0
    # Each charge was rounded once: the refund is the exact per-day figure within that rounding.
    assert abs(credit - exact_refund) <= Decimal("0.005") * (len(changes) + 2)
