"""Pro-rata premium: the issue's formulas, in Decimal, rounded once per endorsement.

With the term [S, E] inclusive and T its length in the method's units:
- addition effective d:           annual x (units from d to E, inclusive) / T
- deletion, last covered day d:    annual x (units after d up to E) / T  (zero when a claim was made)
- modification effective d:       (new annual - old annual) x (units from d to E, inclusive) / T
A positive result is a debit to the employer, a negative one a credit.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from enum import StrEnum

from escrow_project.common.money import quantize


class ProrationMethod(StrEnum):
    DAYS = "days"
    MONTHS = "months"
    THIRTY_E_360 = "30e360"


class PremiumError(ValueError):
    pass


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
    """Refund (a positive number) for a member whose last covered day is `last_covered`."""
    fraction = remaining_fraction(
        method=method, term_start=term_start, term_end=term_end, day=last_covered, inclusive=False
    )
    if claim_in_term:
        return quantize(Decimal(0), currency)
    return quantize(annual * fraction, currency)


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
    """Signed amount for a plan change: positive is a debit, negative a credit."""
    fraction = remaining_fraction(
        method=method, term_start=term_start, term_end=term_end, day=effective, inclusive=True
    )
    return quantize((new_annual - old_annual) * fraction, currency)
