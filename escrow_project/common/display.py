"""How money and moments read to people: one place for pages, e-mails, PDFs and the console.

The wire keeps plain decimal strings and ISO 8601 (escrow_project.common.money); a person reads
"$350,000.00" and "4 Dec 2026, 17:50 UTC". Babel carries CLDR's rules, so a locale other than
the default gets its own separators and symbol placement without code here.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.numbers import format_currency
from django.conf import settings
from django.utils import timezone

from escrow_project.common.money import minor_units, quantize

DEFAULT_LOCALE = "en_US"


def _locale(locale: str | None) -> str:
    if locale:
        return locale
    return getattr(settings, "DISPLAY_LOCALE", DEFAULT_LOCALE)


def format_money(amount: Decimal | int | str | None, currency: str, *, locale: str | None = None) -> str:
    """An amount in major units as a person reads it: "$350,000.00", "¥1,200", "KWD 1.250"."""
    if amount is None or amount == "":
        return ""
    value = quantize(Decimal(amount), currency)
    return format_currency(value, currency, locale=_locale(locale), currency_digits=True)


def describe_money(amount: object, currency: str) -> str:
    """Money for a label that must never fail (a row's name in the console, a log line): formatted
    when the currency is one the platform knows, else amount and code as stored (bad data is what
    operators come to look at)."""
    try:
        return format_money(amount, currency)  # type: ignore[arg-type]
    except (ValueError, ArithmeticError, TypeError):  # MoneyError is a ValueError
        return f"{amount} {currency}"


def format_minor(minor: int | None, currency: str, *, locale: str | None = None) -> str:
    """An amount the ledger keeps in minor units (cents), read as money."""
    if minor is None:
        return ""
    return format_money(Decimal(minor).scaleb(-minor_units(currency)), currency, locale=locale)


def format_when(moment: dt.datetime | None, *, locale: str | None = None, tz: str | None = None) -> str:
    """A moment with its zone named, since parties sit in different ones: "Dec 4, 2026, 5:50 PM UTC"."""
    if moment is None:
        return ""
    zone = tz or settings.TIME_ZONE
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, dt.UTC)
    # CLDR puts a narrow no-break space before AM/PM; plain text e-mail and SMS mangle it.
    text = _babel_datetime(moment, "medium", tzinfo=zoneinfo.ZoneInfo(zone), locale=_locale(locale))
    return f"{text.replace(chr(0x202F), ' ')} {zone}"


def format_day(day: dt.date | None, *, locale: str | None = None) -> str:
    """A calendar day (a deadline, a coverage date): "Dec 4, 2026"."""
    if day is None:
        return ""
    if isinstance(day, dt.datetime):
        day = day.date()
    return _babel_date(day, "medium", locale=_locale(locale))
