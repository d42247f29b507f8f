"""The cash-flow forecast against an example worked out by hand, and the alert before it runs dry."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from endorsements.models import EmployerSafeguards, EndorsementAccount, EndorsementKind
from endorsements.services import forecast, funding
from endorsements.states import RequestState
from notifications.models import Notification
from notifications.rendering import render_message
from tests.endorsements.velocity_world import covered_members, history

ADD, DELETE = EndorsementKind.ADDITION, EndorsementKind.DELETION


def _example(world, *, topped_up: str):
    """The worked example (USD, minor units are cents).

    - 100 members covered on BASIC/employee at 1,200.00 a year: annual premium 120,000.00;
      floor 10% = 12,000.00.
    - Last 30 days: 30 additions of 100.00 went ahead (3,000.00) and 6 deletions refunded 50.00
      each (300.00); 3 additions of 999.00 were rejected and spent nothing. Net 2,700.00 over 30
      days: 90.00 a day.
    - Waiting: one parked debit of 500.00 and one pending (validated) debit of 250.00: 750.00.
    """
    members = covered_members(world, 100)
    newcomers = covered_members(world, 39, prefix="N")
    funding.ea_topup(employer=world.employer, amount=topped_up, currency="USD", idempotency_key="t1", actor="test")
    history(world, newcomers[:30], kind=ADD, days_ago=10, amount="100.00")
    history(world, members[:6], kind=DELETE, days_ago=12, amount="50.00")
    history(world, newcomers[30:33], kind=ADD, days_ago=3, amount="999.00", state=RequestState.REJECTED)
    # Waiting since before the window (so not in the usual spending).
    history(world, newcomers[33:34], kind=ADD, days_ago=40, amount="500.00", state=RequestState.ON_HOLD_FUNDS)
    history(world, newcomers[34:35], kind=ADD, days_ago=40, amount="250.00", state=RequestState.VALIDATED)
    # The newcomers are pending members, not covered ones: only the 100 count for the premium.
    from endorsements.models import Member

    Member.objects.filter(pk__in=[m.pk for m in newcomers]).update(status=Member.Status.PENDING)
    return EndorsementAccount.objects.get(employer=world.employer, currency="USD")


def test_the_forecast_matches_the_hand_computed_example(world):
    ea = _example(world, topped_up="10000.00")

    f = forecast.ea_forecast(ea=ea)

    assert (f.balance, f.locked, f.available) == (1_000_000, 0, 1_000_000)
    assert (f.parked, f.parked_count, f.pending) == (50_000, 1, 25_000)
    assert f.daily_spend == 9_000  # 2,700.00 / 30
    assert (f.annual_premium, f.floor) == (12_000_000, 1_200_000)
    # (10,000.00 - 750.00) / 90.00 = 102.7 -> 102 whole days
    assert f.days_until_exhausted == 102
    assert f.runs_out_on == timezone.localdate() + datetime.timedelta(days=102)
    assert f.needed_to_clear == 0
    # 750.00 waiting + 30 days x 90.00 + 12,000.00 floor - 10,000.00 available = 5,450.00
    assert f.recommended_topup == 545_000
    assert f.projection[:3] == [(0, 925_000), (5, 880_000), (10, 835_000)]
    assert not f.running_low


def test_an_account_short_of_what_waits_needs_the_difference_now(world):
    ea = _example(world, topped_up="500.00")

    f = forecast.ea_forecast(ea=ea)

    assert f.days_until_exhausted == 0
    assert f.needed_to_clear == 25_000  # 750.00 waiting - 500.00 available
    assert f.recommended_topup == 750_00 + 30 * 9_000 + 1_200_000 - 50_000
    assert f.running_low


def test_the_forecast_api_answers_in_the_currency_s_decimals(world, client_for):
    _example(world, topped_up="10000.00")
    response = client_for(world.hr).get("/api/v1/ledger/forecast?currency=USD")
    assert response.status_code == 200
    body = response.json()
    assert (body["available"], body["parked"], body["pending"], body["daily_spend"]) == (
        "10000.00",
        "500.00",
        "250.00",
        "90.00",
    )
    assert (body["days_until_exhausted"], body["recommended_topup"], body["floor"]) == (102, "5450.00", "12000.00")
    assert body["projection"][0] == {"day": 0, "left": "9250.00"}


def test_another_employer_s_hr_cannot_read_the_forecast(world, client_for):
    from tests.endorsements.conftest import make_world

    _example(world, topped_up="10000.00")
    other = make_world(policy_number="GP-2002")
    response = client_for(other.hr).get(f"/api/v1/ledger/forecast?currency=USD&employer={world.employer.public_id}")
    assert response.status_code == 404


@pytest.mark.parametrize(("topped_up", "told"), [("1500.00", True), ("10000.00", False)])
def test_hr_is_warned_before_the_account_runs_dry(world, topped_up, told):
    # (1,500.00 - 750.00) / 90.00 = 8 days: inside the 14-day warning period.
    _example(world, topped_up=topped_up)

    assert forecast.ea_forecast_alerts() == int(told)
    assert forecast.ea_forecast_alerts() == int(told)  # checked again the same day...

    sent = Notification.objects.filter(recipient_organization=world.employer, kind="ea_running_low")
    channels = set(sent.values_list("channel", flat=True))
    assert channels == ({"email", "live"} if told else set())  # ... but told once per channel
    if told:
        message = render_message("ea_running_low", {**sent[0].context, "url": ""})
        assert message.subject == f"The endorsement account of {world.employer.name} runs out in 8 days"
        assert "We recommend a top-up of: $13,950.00" in message.text


def test_the_floor_and_warning_period_are_the_employer_s_own(world):
    ea = _example(world, topped_up="10000.00")
    EmployerSafeguards.objects.create(
        employer=world.employer, floor_percent=0, topup_cover_days=0, low_balance_days=120
    )

    f = forecast.ea_forecast(ea=ea)

    assert (f.floor, f.recommended_topup) == (0, 0)
    assert f.running_low  # 102 days is inside a 120-day warning period
