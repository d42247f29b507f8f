"""Money as Decimal with a currency. One quantize rule; no float ever enters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 minor units for the currencies the platform accepts.
MINOR_UNITS: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CAD": 2,
    "AUD": 2,
    "CHF": 2,
    "INR": 2,
    "SGD": 2,
    "JPY": 0,
    "KWD": 3,
}
MAX_DIGITS = 20
DECIMAL_PLACES = 4  # storage precision; amounts are quantized to the currency's own minor unit


class MoneyError(ValueError):
    pass


def minor_units(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError as exc:
        raise MoneyError(f"Unsupported currency {currency!r}.") from exc


# Amounts on the wire are plain decimal strings: ASCII digits, an optional fraction, nothing else.
# No exponent ("1e3"), no sign (a refund is its own operation), no spaces, no thousands separators,
# no other scripts' digits (Arabic-Indic digits are a number to Python's Decimal, not to a payment system).
_INTEGER_DIGITS = MAX_DIGITS - DECIMAL_PLACES - 1
_AMOUNT_TEXT = re.compile(rf"(0|[1-9][0-9]{{0,{_INTEGER_DIGITS - 1}}})(\.[0-9]{{1,{DECIMAL_PLACES}}})?")
# Above this no amount is plausible anywhere on the platform (and it fits every ledger column).
MAX_AMOUNT = Decimal(10) ** 15


class AmountError(MoneyError):
    """An amount that is not acceptable; `code` says why, for the API's errors[]."""

    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


def to_decimal(value: object) -> Decimal:
    """An amount from our own code (Decimal, int) or from the wire (a strict decimal string).

    Floats are refused because they are already wrong; booleans because they are not amounts.
    """
    if isinstance(value, (bool, float)):
        raise AmountError('Give amounts as strings such as "1200.00", never as JSON numbers.', code="not_a_string")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        if not _AMOUNT_TEXT.fullmatch(value):
            raise AmountError(
                'An amount is written with digits 0-9 and at most one decimal point, such as "1200.00"'
                " (no exponent, sign, spaces or separators).",
                code="invalid_format",
            )
        amount = Decimal(value)
    else:
        raise AmountError('An amount must be a string such as "1200.00".', code="not_a_string")
    if not amount.is_finite():
        raise AmountError("Amounts must be finite.", code="invalid_format")
    return amount


def parse_amount(
    value: object,
    currency: str,
    *,
    allow_zero: bool = False,
    allow_negative: bool = False,
    maximum: Decimal = MAX_AMOUNT,
) -> Decimal:
    """The platform's one amount parser: a Decimal with exactly the currency's decimals.

    Refuses what `to_decimal` refuses, more decimals than the currency has (even "10.000" for
    USD: a client that sends three decimals has a bug we should not round away; a Decimal from our
    own code is judged by its value), zero unless
    allowed, negatives unless allowed, and anything at or above `maximum`.
    """
    places = minor_units(currency)
    amount = to_decimal(value)
    # Text is judged by the digits written; our own Decimals (stored with 4 places) by their value.
    exponent = amount.as_tuple().exponent
    written = -exponent if isinstance(value, str) and isinstance(exponent, int) else 0
    if written > places or quantize(amount, currency) != amount:
        raise AmountError(f"{currency} amounts have at most {places} decimals.", code="too_many_decimals")
    if amount < 0 and not allow_negative:
        raise AmountError("The amount must not be negative.", code="negative")
    if amount == 0 and not allow_zero:
        raise AmountError("The amount must be greater than zero.", code="zero")
    if abs(amount) >= maximum:
        raise AmountError(f"The amount must be below {maximum:,} {currency}.", code="too_large")
    return quantize(amount, currency)


def parse_decimal(value: object, *, places: int, minimum: Decimal, maximum: Decimal) -> Decimal:
    """A plain decimal such as a percentage, by the same grammar as amounts, within [minimum, maximum]."""
    number = to_decimal(value)
    exponent = number.as_tuple().exponent
    if isinstance(value, str) and isinstance(exponent, int) and -exponent > places:
        raise AmountError(f"At most {places} decimals.", code="too_many_decimals")
    if not minimum <= number <= maximum:
        raise AmountError(f"Must be between {minimum} and {maximum}.", code="out_of_range")
    return number


def format_amount(amount: Decimal, currency: str) -> str:
    """The wire form of an amount: always exactly the currency's decimals ("2.00", "1500", "0.125")."""
    return str(quantize(amount, currency))


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor unit: the platform's single rounding rule."""
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        minor_units(self.currency)
        if not isinstance(self.amount, Decimal):
            object.__setattr__(self, "amount", to_decimal(self.amount))

    @classmethod
    def of(cls, amount: object, currency: str) -> Money:
        return cls(quantize(to_decimal(amount), currency), currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        return cls(Decimal(minor).scaleb(-minor_units(currency)), currency)

    def to_minor(self) -> int:
        return int(quantize(self.amount, self.currency).scaleb(minor_units(self.currency)))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError("Money only combines with Money.")
        if other.currency != self.currency:
            raise MoneyError(f"Cannot combine {self.currency} with {other.currency}.")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __str__(self) -> str:
        return f"{quantize(self.amount, self.currency):,} {self.currency}"
