"""The provider interface and the pieces every type shares."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from rest_framework import serializers

from escrow_project.common.errors import UnprocessableError, flatten_field_errors
from escrow_project.common.money import MoneyError, to_decimal


class TransientAgentError(Exception):
    """The agent's system is briefly unavailable; retry with backoff."""


@dataclass(frozen=True)
class ReportDecision:
    passed: bool
    reasons: list[str] = field(default_factory=list)
    clean: dict[str, Any] = field(default_factory=dict)


class AmountField(serializers.Field):
    """A non-negative amount given as a string or integer; floats are refused (they are already wrong)."""

    default_error_messages = {
        "invalid": 'Give amounts as strings such as "1200.00", never as floating-point numbers.',
        "negative": "Amounts may not be negative.",
        "absurd": "This amount is not plausible.",
    }

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            amount = to_decimal(data)
        except MoneyError:
            self.fail("invalid")
        if amount < 0:
            self.fail("negative")
        if amount >= Decimal("1e12"):
            self.fail("absurd")
        return amount

    def to_representation(self, value: Any) -> str:
        return str(value)


class StrictSerializer(serializers.Serializer):
    """Unknown keys are an error: a report with a typo must not pass as if the field were absent."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class VerificationProvider:
    """One verification type: its report schema, its rules and its sandbox behaviour.

    `execute_verification` is how work starts (the sandbox agent schedules a realistic report, a
    partner is told through notifications and answers via API or signed webhook);
    `validate_report` checks a payload strictly against the type's schema and applies its rules.
    """

    verification_type: ClassVar[str]
    schema: ClassVar[type[serializers.Serializer]]

    def validate_report(self, payload: Any, *, context: dict[str, Any]) -> ReportDecision:
        """Schema errors raise UnprocessableError (nothing recorded); rule failures return passed=False."""
        if not isinstance(payload, dict):
            raise UnprocessableError("A report must be a JSON object.", code="invalid_report")
        serializer = self.schema(data=payload)
        if not serializer.is_valid():
            raise UnprocessableError(
                f"The {self.verification_type} report does not match its schema.",
                code="invalid_report",
                errors=flatten_field_errors(serializer.errors),
            )
        clean = dict(serializer.validated_data)
        reasons = self.rules(clean, context=context)
        return ReportDecision(passed=not reasons, reasons=reasons, clean=clean)

    def rules(self, report: dict[str, Any], *, context: dict[str, Any]) -> list[str]:
        raise NotImplementedError

    def sandbox_report(self, *, context: dict[str, Any], passing: bool, rng: random.Random) -> dict[str, Any]:
        """A realistic report such as a real agent of this type would send."""
        raise NotImplementedError

    def execute_verification(self, *, task: Any, profile: Any) -> str:
        """Start the work; returns what happened ("sandbox_scheduled" or "partner_notified")."""
        from verifications.models import ProviderKind

        if profile is not None and profile.provider == ProviderKind.SANDBOX:
            return "sandbox_scheduled"
        return "partner_notified"


def money_str(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01'))}"
