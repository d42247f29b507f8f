"""Pro-rata premium: the issue's formulas, in Decimal, rounded once per endorsement.

With the term [S, E] inclusive and T its length in the method's units:
- addition effective d:           annual x (units from d to E, inclusive) / T
- deletion, last covered day d:    annual x (units after d up to E) / T  (zero when a claim was made)
- modification effective d:       (new annual - old annual) x (units from d to E, inclusive) / T
A positive result is a debit to the employer, a negative one a credit.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from escrow_project.common.money import quantize

P = TypeVar("P")


class ProrationMethod(StrEnum):
    DAYS = "days"
    MONTHS = "months"
    THIRTY_E_360 = "30e360"


class PremiumError(ValueError):
    code = "outside_term"


class BeforeCoverageStartError(PremiumError):
    code = "before_coverage_start"


def _add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day-of-month `months` later, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return datetime.date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise PremiumError("unreachable")  # pragma: no cover


def days_360_e(start: datetime.date, end: datetime.date) -> int:
    """30E/360 (Eurobond) day count: every month has 30 days, 31st becomes 30th."""
    d1, d2 = min(start.day, 30), min(end.day, 30)
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)


def _policy_month_index(term_start: datetime.date, day: datetime.date) -> int:
    """Which policy month (0-based, anniversaries of the term start) contains `day`."""
    index = 0
    while _add_months(term_start, index + 1) <= day:
        index += 1
    return index


def _policy_months(term_start: datetime.date, term_end: datetime.date) -> int:
    # A trailing part-month counts as one month so every covered day belongs to a month.
    return _policy_month_index(term_start, term_end) + 1


def _check_in_term(term_start: datetime.date, term_end: datetime.date, day: datetime.date) -> None:
    if term_end < term_start:
        raise PremiumError("The policy term ends before it starts.")
    if not term_start <= day <= term_end:
        raise PremiumError(f"{day.isoformat()} is outside the policy term.")


def remaining_fraction(
    *,
    method: ProrationMethod,
    term_start: datetime.date,
    term_end: datetime.date,
    day: datetime.date,
    inclusive: bool,
) -> Decimal:
    """Share of the term from `day` (inclusive) or after `day` (exclusive) to the term end."""
    _check_in_term(term_start, term_end, day)
    extra = 1 if inclusive else 0
    if method == ProrationMethod.DAYS:
        total = (term_end - term_start).days + 1
        remaining = (term_end - day).days + extra
    elif method == ProrationMethod.THIRTY_E_360:
        total = days_360_e(term_start, term_end) + 1
        remaining = days_360_e(day, term_end) + extra
    elif method == ProrationMethod.MONTHS:
        # A month is charged in full when coverage touches it: an addition pays for the month it
        # starts in, a deletion is refunded only the months after the one holding its last day.
        total = _policy_months(term_start, term_end)
        remaining = total - _policy_month_index(term_start, day) - (0 if inclusive else 1)
    else:  # pragma: no cover - exhaustive over the enum
        raise PremiumError(f"Unknown proration method {method!r}.")
    return Decimal(max(remaining, 0)) / Decimal(total)


def addition_premium(
    *,
    annual: Decimal,
    currency: str,
    term_start: datetime.date,
    term_end: datetime.date,
    effective: datetime.date,
    method: ProrationMethod = ProrationMethod.DAYS,
) -> Decimal:
    """Debit for a member joining on `effective`."""
    fraction = remaining_fraction(
        method=method, term_start=term_start, term_end=term_end, day=effective, inclusive=True
    )
    return quantize(annual * fraction, currency)


def deletion_credit(
    *,
    annual: Decimal,
    currency: str,
    term_start: datetime.date,
    term_end: datetime.date,
    last_covered: datetime.date,
    method: ProrationMethod = ProrationMethod.DAYS,
    claim_in_term: bool = False,
) -> Decimal:
    """Refund (a positive number) for a member covered on one plan from the term start."""
    return deletion_credit_for(
        periods=[PlanPeriod(term_start, None, annual)],
        currency=currency,
        term_start=term_start,
        term_end=term_end,
        last_covered=last_covered,
        method=method,
        claim_in_term=claim_in_term,
    )


def modification_amount(
    *,
    old_annual: Decimal,
    new_annual: Decimal,
    currency: str,
    term_start: datetime.date,
    term_end: datetime.date,
    effective: datetime.date,
    method: ProrationMethod = ProrationMethod.DAYS,
) -> Decimal:
    """Signed amount for a plan change of a member covered on one plan from the term start."""
    return modification_amount_for(
        periods=[PlanPeriod(term_start, None, old_annual)],
        new_annual=new_annual,
        currency=currency,
        term_start=term_start,
        term_end=term_end,
        effective=effective,
        method=method,
    )


# --- effective-dated coverage -----------------------------------------------------------------
#
# A member's coverage is a run of plan periods (Coverage rows: one per plan, each starting the day
# the previous one ends + 1). Every charge and refund is counted in the proration method's units
# (days, 30E/360 days, policy months) from the plan in force on each unit, so a refund is always
# what was charged for exactly the units it gives back, whatever plan changes happened between.


@dataclass(frozen=True, slots=True)
class PlanPeriod:
    """One plan in force from `start` to `end` (None: open, i.e. to the term end)."""

    start: datetime.date
    end: datetime.date | None
    annual: Decimal


def unit_index(method: ProrationMethod, term_start: datetime.date, day: datetime.date) -> int:
    """The method's unit (0-based from the term start) that holds `day`."""
    if method == ProrationMethod.DAYS:
        return (day - term_start).days
    if method == ProrationMethod.THIRTY_E_360:
        return days_360_e(term_start, day)
    if method == ProrationMethod.MONTHS:
        return _policy_month_index(term_start, day)
    raise PremiumError(f"Unknown proration method {method!r}.")  # pragma: no cover - exhaustive


def _segments(
    method: ProrationMethod, term_start: datetime.date, term_end: datetime.date, periods: list[PlanPeriod]
) -> list[tuple[int, int, Decimal]]:
    """(first unit, last unit, annual) per period. A unit shared by two periods (a mid-month change
    under the months method) belongs to the later one, as the change was charged for it."""
    ordered = sorted(periods, key=lambda p: p.start)
    segments = []
    for index, period in enumerate(ordered):
        first = unit_index(method, term_start, max(period.start, term_start))
        if index + 1 < len(ordered):
            last = unit_index(method, term_start, ordered[index + 1].start) - 1
        else:
            last = unit_index(method, term_start, min(period.end or term_end, term_end))
        if last >= first:
            segments.append((first, last, period.annual))
    return segments


def _units_from(segment: tuple[int, int, Decimal], first_unit: int) -> int:
    first, last, _ = segment
    return max(0, last - max(first, first_unit) + 1)


def current_run(periods: Sequence[P], *, start: Callable[[P], datetime.date], end: Callable[[P], Any]) -> list[P]:
    """The periods of the current coverage: the contiguous run (each starting the day after the
    previous one ends) that ends with the latest period; an earlier coverage that ended is not part."""
    run: list[P] = []
    for period in sorted(periods, key=start):
        previous_end = end(run[-1]) if run else None
        if run and (previous_end is None or previous_end + datetime.timedelta(days=1) != start(period)):
            run.clear()
        run.append(period)
    return run


def coverage_start(periods: list[PlanPeriod]) -> datetime.date:
    return min(p.start for p in periods)


def deletion_credit_for(
    *,
    periods: list[PlanPeriod],
    currency: str,
    term_start: datetime.date,
    term_end: datetime.date,
    last_covered: datetime.date,
    method: ProrationMethod = ProrationMethod.DAYS,
    claim_in_term: bool = False,
    charged: Decimal | None = None,
) -> Decimal:
    """Refund for every unit after `last_covered`, at the plan that was in force (and charged) on it.

    `charged`, when known, is what the member's current coverage was charged net so far: rounding
    of the separate charges can never make the refund exceed it. A last covered day before the
    coverage start is refused (the member would be refunded days never charged).
    """
    _check_in_term(term_start, term_end, last_covered)
    if last_covered < coverage_start(periods):
        raise BeforeCoverageStartError(
            f"The last covered day {last_covered.isoformat()} is before the coverage start "
            f"{coverage_start(periods).isoformat()}; cancel the addition instead."
        )
    if claim_in_term:
        return quantize(Decimal(0), currency)
    after = unit_index(method, term_start, last_covered) + 1
    total = unit_index(method, term_start, term_end) + 1
    units = sum(
        (segment[2] * _units_from(segment, after) for segment in _segments(method, term_start, term_end, periods)),
        Decimal(0),
    )
    credit = quantize(units / Decimal(total), currency)
    return min(credit, max(charged, Decimal(0))) if charged is not None else credit


def modification_amount_for(
    *,
    periods: list[PlanPeriod],
    new_annual: Decimal,
    currency: str,
    term_start: datetime.date,
    term_end: datetime.date,
    effective: datetime.date,
    method: ProrationMethod = ProrationMethod.DAYS,
    charged: Decimal | None = None,
) -> Decimal:
    """Signed amount for a plan change from `effective` (a debit when positive).

    Each covered unit from `effective` on moves from the plan then in force to the new one; units
    before the coverage start were never covered, so a change dated earlier counts from the start.
    A downgrade's credit never exceeds `charged` (the coverage's net charge so far), whatever the
    rounding of the separate charges.
    """
    _check_in_term(term_start, term_end, effective)
    first_unit = unit_index(method, term_start, effective)
    total = unit_index(method, term_start, term_end) + 1
    units = sum(
        (
            (new_annual - annual) * _units_from((first, last, annual), first_unit)
            for first, last, annual in _segments(method, term_start, term_end, periods)
        ),
        Decimal(0),
    )
    signed = quantize(units / Decimal(total), currency)
    return max(signed, -max(charged, Decimal(0))) if charged is not None else signed
