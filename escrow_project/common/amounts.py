"""Amounts at the edges: the one parser (escrow_project.common.money) as a 422 and as DRF fields.

Every amount that enters the platform, through any endpoint, any service or any file, goes through
`clean_amount`; every amount that leaves through the API is written by `MoneyField` with exactly the
currency's decimals. docs/errors.md documents the codes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from escrow_project.common.errors import UnprocessableError
from escrow_project.common.money import MAX_AMOUNT, AmountError, format_amount, parse_amount, parse_decimal, to_decimal


class InvalidAmountError(UnprocessableError):
    code = "invalid_amount"
    title = "The amount is invalid"


def amount_problem(exc: AmountError, field: str, error: type[InvalidAmountError] = InvalidAmountError) -> Exception:
    """The 422 for a refused amount, naming the field and why (errors[0].code)."""
    return error(f"{field}: {exc}", errors=[{"field": field, "code": exc.code, "message": str(exc)}])


def clean_amount(
    value: object,
    currency: str,
    *,
    field: str = "amount",
    allow_zero: bool = False,
    allow_negative: bool = False,
    maximum: Decimal = MAX_AMOUNT,
    error: type[InvalidAmountError] = InvalidAmountError,
) -> Decimal:
    """`money.parse_amount`, refusing with a 422 that names `field`."""
    try:
        return parse_amount(value, currency, allow_zero=allow_zero, allow_negative=allow_negative, maximum=maximum)
    except AmountError as exc:
        raise amount_problem(exc, field, error) from None


def clean_decimal(value: object, *, field: str, places: int, minimum: Decimal, maximum: Decimal) -> Decimal:
    """A non-money decimal (a percentage) by the same grammar, refusing with a 422 naming `field`."""
    try:
        return parse_decimal(value, places=places, minimum=minimum, maximum=maximum)
    except AmountError as exc:
        raise amount_problem(exc, field) from None


def _field_path(field: serializers.Field) -> str:
    names: list[str] = []
    node: Any = field
    while node is not None:
        name = getattr(node, "field_name", "")
        if name:
            names.append(str(name))
        node = getattr(node, "parent", None)
    return ".".join(reversed(names)) or "amount"


@extend_schema_field({"type": "string", "pattern": r"^(0|[1-9][0-9]*)(\.[0-9]+)?$", "example": "1200.00"})
class AmountField(serializers.Field):
    """An amount in a request: a decimal string ("1200.00"). Anything else is a 422 naming the field.

    The currency's own decimals, zero and the upper bound are checked by the service, which knows
    the currency (`clean_amount`).
    """

    def to_internal_value(self, data: Any) -> Any:
        # The text itself goes on to the service: "10.000" must still read as three decimals there.
        try:
            if not isinstance(data, str):
                raise AmountError(
                    'Give amounts as strings such as "1200.00", never as JSON numbers.', code="not_a_string"
                )
            to_decimal(data)
        except AmountError as exc:
            raise amount_problem(exc, _field_path(self)) from None
        return data

    def to_representation(self, value: Any) -> str:
        return str(value)


@extend_schema_field({"type": "string", "example": "2.5"})
class DecimalTextField(AmountField):
    """A non-money decimal in a request (a percentage), by the amount grammar, within bounds."""

    def __init__(self, *, places: int, minimum: Decimal, maximum: Decimal, **kwargs: Any) -> None:
        self.places, self.minimum, self.maximum = places, minimum, maximum
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        return clean_decimal(
            super().to_internal_value(data),
            field=_field_path(self),
            places=self.places,
            minimum=self.minimum,
            maximum=self.maximum,
        )


@extend_schema_field(OpenApiTypes.STR)
class MoneyField(serializers.Field):
    """An amount in a response, with exactly its currency's decimals ("400000.00", "1500" for JPY).

    `currency` is the dotted attribute path, from the serialized object, of the currency code.
    """

    def __init__(self, *, currency: str = "currency", **kwargs: Any) -> None:
        self.currency_path = currency.split(".")
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance: Any) -> Any:
        value = super().get_attribute(instance)
        currency: Any = instance
        for part in self.currency_path:
            currency = getattr(currency, part)
        return None if value is None else (value, currency)

    def to_representation(self, value: Any) -> str:
        amount, currency = value
        return format_amount(Decimal(amount), currency)
