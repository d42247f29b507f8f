"""Cash-flow forecast of an Endorsement Account, and the alert before members go uncovered.

Everything is computed in integer minor units of the account's currency (cents for USD), so no
rounding happens until an amount is shown. The forecast answers three questions an HR manager asks:

- how many days until the account cannot pay for what comes in: the available balance first pays
  what waits (parked and pending debits), then the employer's usual net spending per day (its
  debits less its credits over the last HISTORY_DAYS, requests that went ahead);
- how much is needed now to clear everything that waits;
- what to top up: what waits, plus `topup_cover_days` of usual spending, plus a floor kept in the
  account (`floor_percent` of the annual premium of the covered members), less what is available.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

import structlog
from django.db.models import Count, Q, Sum
from django.utils import timezone

from endorsements import funds
from endorsements.models import (
    Direction,
    EndorsementAccount,
    EndorsementRequest,
    Member,
    RateCard,
)
from endorsements.services.velocity import safeguards_for
from endorsements.states import RequestState
from escrow_project.common.money import Money

logger = structlog.get_logger(__name__)

HISTORY_DAYS = 30
CHART_DAYS = 60
PENDING_STATES = (RequestState.RECEIVED, RequestState.VALIDATED)
# Requests that did not go ahead spent nothing: they do not count in the usual spending.
NOT_SPENT = (RequestState.REJECTED, RequestState.FAILED, RequestState.CANCELLED)


def _minor(amount: Decimal | int, currency: str) -> int:
    return Money(Decimal(amount), currency).to_minor()


@dataclass
class Forecast:
    currency: str
    balance: int
    locked: int
    available: int
    parked: int
    parked_count: int
    pending: int
    daily_spend: int
    annual_premium: int
    floor: int
    needed_to_clear: int
    recommended_topup: int
    days_until_exhausted: int | None  # None: nothing is spent at the usual pace
    runs_out_on: datetime.date | None
    low_balance_days: int
    cover_days: int
    floor_percent: int
    # (day from today, projected balance left after what waits) for the chart; may go below zero.
    projection: list[tuple[int, int]] = field(default_factory=list)

    @property
    def running_low(self) -> bool:
        return self.days_until_exhausted is not None and self.days_until_exhausted <= self.low_balance_days

    def amount(self, minor: int) -> Decimal:
        return Money.from_minor(minor, self.currency).amount


def _sum_minor(queryset: object, currency: str) -> int:
    total = queryset.aggregate(s=Sum("amount"))["s"]  # type: ignore[attr-defined]
    return _minor(total or 0, currency)


def annual_premium_minor(*, employer_id: int, currency: str) -> int:
    """The yearly premium of every member covered now, from the policies' rate cards."""
    groups = (
        Member.objects.filter(
            policy__employer_id=employer_id,
            policy__currency=currency,
            policy__is_active=True,
            status=Member.Status.COVERED,
        )
        .values_list("policy_id", "plan", "relationship")
        .annotate(n=Count("pk"))
    )
    rates = {
        (r.policy_id, r.plan.casefold(), r.relationship): r.annual_premium
        for r in RateCard.objects.filter(policy__employer_id=employer_id, policy__currency=currency)
    }
    total = 0
    for policy_id, plan, relationship, count in groups:
        rate = rates.get((policy_id, plan.casefold(), relationship))
        if rate is not None:
            total += _minor(rate, currency) * count
    return total


def ea_forecast(*, ea: EndorsementAccount, now: datetime.datetime | None = None) -> Forecast:
    """The forecast of one Endorsement Account (see the module's docstring)."""
    now = now or timezone.now()
    currency = ea.currency
    limits = safeguards_for(ea.employer_id)
    summary = funds.balance_summary(ea) if ea.ledger_account_id else {}
    balance = _minor(summary.get("balance", 0), currency)
    available = _minor(summary.get("available", 0), currency)
    requests = EndorsementRequest.objects.filter(employer_id=ea.employer_id, currency=currency)
    debits = requests.filter(direction=Direction.DEBIT)
    parked_qs = debits.filter(state=RequestState.ON_HOLD_FUNDS)
    parked = _sum_minor(parked_qs, currency)
    pending = _sum_minor(debits.filter(state__in=PENDING_STATES), currency)

    window = requests.filter(created_at__gte=now - datetime.timedelta(days=HISTORY_DAYS), created_at__lt=now).exclude(
        state__in=NOT_SPENT
    )
    spent = window.aggregate(
        debit=Sum("amount", filter=Q(direction=Direction.DEBIT)),
        credit=Sum("amount", filter=Q(direction=Direction.CREDIT)),
    )
    net = _minor(spent["debit"] or 0, currency) - _minor(spent["credit"] or 0, currency)
    daily_spend = max(net, 0) // HISTORY_DAYS

    annual = annual_premium_minor(employer_id=ea.employer_id, currency=currency)
    floor = annual * limits.floor_percent // 100
    waiting = parked + pending
    left = available - waiting
    if left <= 0:
        days: int | None = 0
    elif daily_spend == 0:
        days = None
    else:
        days = left // daily_spend
    today = timezone.localdate(now)
    return Forecast(
        currency=currency,
        balance=balance,
        locked=balance - available,
        available=available,
        parked=parked,
        parked_count=parked_qs.count(),
        pending=pending,
        daily_spend=daily_spend,
        annual_premium=annual,
        floor=floor,
        needed_to_clear=max(waiting - available, 0),
        recommended_topup=max(waiting + daily_spend * limits.topup_cover_days + floor - available, 0),
        days_until_exhausted=days,
        runs_out_on=today + datetime.timedelta(days=days) if days is not None else None,
        low_balance_days=limits.low_balance_days,
        cover_days=limits.topup_cover_days,
        floor_percent=limits.floor_percent,
        projection=[(d, left - daily_spend * d) for d in range(0, CHART_DAYS + 1, 5)],
    )


def ea_forecast_alert(*, ea: EndorsementAccount, now: datetime.datetime | None = None) -> bool:
    """Tell the employer's HR (e-mail and live) when its account will run dry within its warning
    period, before members wait uncovered; at most once a day per account. Returns whether it told."""
    from endorsements import hooks

    forecast = ea_forecast(ea=ea, now=now)
    if not forecast.running_low:
        return False
    hooks.ea_running_low(
        employer_id=ea.employer_id,
        employer_name=ea.employer.name,
        currency=ea.currency,
        days_left=forecast.days_until_exhausted or 0,
        available=str(forecast.amount(forecast.available)),
        needed_now=str(forecast.amount(forecast.needed_to_clear)),
        recommended_topup=str(forecast.amount(forecast.recommended_topup)),
        day=timezone.localdate(now or timezone.now()).isoformat(),
    )
    return True


def ea_forecast_alerts(*, employer_id: int | None = None) -> int:
    """Check every Endorsement Account (or one employer's); returns how many were told."""
    accounts = EndorsementAccount.objects.exclude(ledger_account_id="").select_related("employer").order_by("pk")
    if employer_id is not None:
        accounts = accounts.filter(employer_id=employer_id)
    told = 0
    for ea in accounts.iterator():
        told += ea_forecast_alert(ea=ea)
    if told:
        logger.info("endorsement_accounts_running_low", count=told)
    return told
