"""Amounts and moments as people read them, in each currency's own minor unit."""

import datetime as dt
from decimal import Decimal

import pytest

from escrow_project.common.display import describe_money, format_day, format_minor, format_money, format_when


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (Decimal("350000"), "USD", "$350,000.00"),
        ("-93003.97", "USD", "-$93,003.97"),
        (Decimal("1200.0000"), "JPY", "¥1,200"),
        ("1.25", "KWD", "KWD1.250"),
        (Decimal("0.005"), "USD", "$0.01"),
    ],
    ids=["separators", "negative", "no-minor-unit", "three-places", "rounds-half-up"],
)
def test_money_reads_with_separators_and_the_currency_minor_unit(amount, currency, text):
    assert format_money(amount, currency) == text


def test_minor_units_from_the_ledger_read_as_money():
    assert format_minor(2290000, "USD") == "$22,900.00"
    assert format_minor(1200, "JPY") == "¥1,200"


def test_another_locale_uses_its_own_separators():
    assert format_money("350000", "EUR", locale="de_DE") == "350.000,00\xa0€"


def test_moments_name_their_zone_and_days_read_as_dates():
    moment = dt.datetime(2026, 12, 4, 17, 50, tzinfo=dt.UTC)
    assert format_when(moment) == "Dec 4, 2026, 5:50:00 PM UTC"
    assert format_when(moment, tz="America/New_York") == "Dec 4, 2026, 12:50:00 PM America/New_York"
    assert format_day(dt.date(2026, 12, 4)) == "Dec 4, 2026"
    assert format_money(None, "USD") == ""
    assert format_when(None) == ""


def test_a_label_with_a_currency_the_platform_does_not_know_still_reads():
    assert describe_money(Decimal("1200.0000"), "USD") == "$1,200.00"
    assert describe_money(Decimal("1200.0000"), "XYZ") == "1200.0000 XYZ"
