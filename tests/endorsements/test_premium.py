"""The issue's premium formulas, exactly, including leap terms and half-up rounding."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from endorsements.premium import (
    PremiumError,
    ProrationMethod,
    addition_premium,
    days_360_e,
    deletion_credit,
    modification_amount,
)

D = datetime.date
Y2025: dict[str, Any] = {"term_start": D(2025, 1, 1), "term_end": D(2025, 12, 31)}  # T = 365
Y2024: dict[str, Any] = {"term_start": D(2024, 1, 1), "term_end": D(2024, 12, 31)}  # T = 366 (leap)


def test_addition_by_days_in_an_ordinary_year():
    # 1200 x (31 Dec - 1 Jul + 1 = 184) / 365 = 604.9315... -> 604.93
    assert addition_premium(annual=Decimal("1200.00"), currency="USD", effective=D(2025, 7, 1), **Y2025) == Decimal(
        "604.93"
    )


def test_addition_by_days_in_a_leap_term_counts_29_february():
    # 1200 x 306 / 366 = 1003.2786... -> 1003.28; the same date in 2025 is 306/365 = 1006.027... -> 1006.03
    assert addition_premium(annual=Decimal("1200.00"), currency="USD", effective=D(2024, 3, 1), **Y2024) == Decimal(
        "1003.28"
    )
    assert addition_premium(annual=Decimal("1200.00"), currency="USD", effective=D(2025, 3, 1), **Y2025) == Decimal(
        "1006.03"
    )


def test_addition_on_the_first_day_is_the_full_premium_and_on_the_last_day_one_day():
    assert addition_premium(annual=Decimal("1200"), currency="USD", effective=D(2024, 1, 1), **Y2024) == Decimal(
        "1200.00"
    )
    # 1200 / 366 = 3.2786... -> 3.28
    assert addition_premium(annual=Decimal("1200"), currency="USD", effective=D(2024, 12, 31), **Y2024) == Decimal(
        "3.28"
    )


def test_deletion_credits_the_days_after_the_last_covered_day():
    # last covered 29 Feb 2024: 1200 x (31 Dec - 29 Feb = 306) / 366 -> 1003.28
    assert deletion_credit(annual=Decimal("1200"), currency="USD", last_covered=D(2024, 2, 29), **Y2024) == Decimal(
        "1003.28"
    )
    assert deletion_credit(annual=Decimal("1200"), currency="USD", last_covered=D(2024, 12, 31), **Y2024) == Decimal(
        "0.00"
    )
    # Covered only on day one: 365 of 366 days come back.
    assert deletion_credit(annual=Decimal("1200"), currency="USD", last_covered=D(2024, 1, 1), **Y2024) == Decimal(
        "1196.72"
    )


def test_addition_and_deletion_on_complementary_days_sum_to_the_annual_premium():
    # Joining on d+1 pays exactly what leaving with last day d refunds.
    for day in (D(2024, 2, 28), D(2024, 2, 29), D(2024, 6, 30)):
        joined = addition_premium(
            annual=Decimal("999.99"), currency="USD", effective=day + datetime.timedelta(days=1), **Y2024
        )
        refunded = deletion_credit(annual=Decimal("999.99"), currency="USD", last_covered=day, **Y2024)
        assert joined == refunded


def test_a_claim_in_the_term_makes_the_deletion_credit_zero():
    assert deletion_credit(
        annual=Decimal("1200"), currency="USD", last_covered=D(2024, 2, 29), claim_in_term=True, **Y2024
    ) == Decimal("0.00")


def test_modification_charges_the_difference_over_the_remaining_days():
    up = modification_amount(
        old_annual=Decimal("1200"), new_annual=Decimal("1500"), currency="USD", effective=D(2025, 7, 1), **Y2025
    )
    down = modification_amount(
        old_annual=Decimal("1500"), new_annual=Decimal("1200"), currency="USD", effective=D(2025, 7, 1), **Y2025
    )
    assert up == Decimal("151.23")  # 300 x 184 / 365 = 151.2328...
    assert down == Decimal("-151.23")  # a credit, rounded half-up away from zero symmetrically


def test_rounding_is_half_up_per_endorsement_not_bankers():
    # A 400-day term: 1.00 x 2 / 400 = 0.005 exactly; half-up gives 0.01 where banker's would give 0.00.
    term: dict[str, Any] = {"term_start": D(2025, 1, 1), "term_end": D(2025, 1, 1) + datetime.timedelta(days=399)}
    assert addition_premium(
        annual=Decimal("1.00"), currency="USD", effective=term["term_end"] - datetime.timedelta(days=1), **term
    ) == Decimal("0.01")
    # 0.10 x 1 / 20 days = 0.005 -> 0.01 as well
    short: dict[str, Any] = {"term_start": D(2025, 1, 1), "term_end": D(2025, 1, 20)}
    assert addition_premium(annual=Decimal("0.10"), currency="USD", effective=D(2025, 1, 20), **short) == Decimal(
        "0.01"
    )


def test_rounding_follows_the_currency_minor_unit():
    assert addition_premium(annual=Decimal("120000"), currency="JPY", effective=D(2025, 7, 1), **Y2025) == Decimal(
        "60493"
    )
    assert addition_premium(annual=Decimal("1200"), currency="KWD", effective=D(2025, 7, 1), **Y2025) == Decimal(
        "604.932"
    )


def test_months_method_charges_the_starting_month_in_full_and_refunds_only_later_months():
    kw: dict[str, Any] = {"method": ProrationMethod.MONTHS, **Y2025}
    assert addition_premium(annual=Decimal("1200"), currency="USD", effective=D(2025, 7, 15), **kw) == Decimal("600.00")
    assert addition_premium(annual=Decimal("1200"), currency="USD", effective=D(2025, 7, 1), **kw) == Decimal("600.00")
    assert deletion_credit(annual=Decimal("1200"), currency="USD", last_covered=D(2025, 7, 15), **kw) == Decimal(
        "500.00"
    )
    assert deletion_credit(annual=Decimal("1200"), currency="USD", last_covered=D(2025, 12, 31), **kw) == Decimal(
        "0.00"
    )


def test_months_method_with_a_month_end_anniversary():
    # Term from 31 Jan: policy months start 31 Jan, 28 Feb, 31 Mar... (clamped to month ends).
    term: dict[str, Any] = {"term_start": D(2025, 1, 31), "term_end": D(2026, 1, 30), "method": ProrationMethod.MONTHS}
    assert addition_premium(annual=Decimal("1200"), currency="USD", effective=D(2025, 2, 27), **term) == Decimal(
        "1200.00"
    )
    assert addition_premium(annual=Decimal("1200"), currency="USD", effective=D(2025, 2, 28), **term) == Decimal(
        "1100.00"
    )


def test_30e360_counts_every_month_as_30_days():
    assert days_360_e(D(2024, 1, 31), D(2024, 3, 1)) == 31  # 30 Jan -> 1 Mar in 30E/360
    assert days_360_e(D(2024, 2, 29), D(2024, 12, 31)) == 301
    kw: dict[str, Any] = {"method": ProrationMethod.THIRTY_E_360, **Y2024}
    # T = 360 in a leap year as in any other; 1200 x 301/360 = 1003.333 -> 1003.33
    assert deletion_credit(annual=Decimal("1200"), currency="USD", last_covered=D(2024, 2, 29), **kw) == Decimal(
        "1003.33"
    )
    assert addition_premium(annual=Decimal("1200"), currency="USD", effective=D(2024, 7, 1), **kw) == Decimal("600.00")


def test_dates_outside_the_term_are_refused():
    with pytest.raises(PremiumError, match="outside the policy term"):
        addition_premium(annual=Decimal("1200"), currency="USD", effective=D(2026, 1, 1), **Y2025)
    with pytest.raises(PremiumError):
        deletion_credit(annual=Decimal("1200"), currency="USD", last_covered=D(2024, 12, 31), **Y2025)
