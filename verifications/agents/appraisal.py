from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from verifications.agents.base import AmountField, StrictSerializer, VerificationProvider, money_str


class ComparableSerializer(StrictSerializer):
    address = serializers.CharField(max_length=300)
    sale_price = AmountField()
    sale_date = serializers.DateField()
    adjusted_value = AmountField()


class AppraisalReportSerializer(StrictSerializer):
    appraised_value = AmountField()
    effective_date = serializers.DateField()
    method = serializers.ChoiceField(choices=["sales_comparison", "cost", "income"])
    comparables = ComparableSerializer(many=True)

    def validate_comparables(self, value: list[dict[str, object]]) -> list[dict[str, object]]:
        if len(value) < 3:
            raise serializers.ValidationError("An appraisal needs at least three comparable sales.")
        return value

    def validate_appraised_value(self, value: Decimal) -> Decimal:
        if value <= 0:
            raise serializers.ValidationError("The appraised value must be positive.")
        return value


class AppraisalProvider(VerificationProvider):
    verification_type = "appraisal"
    schema = AppraisalReportSerializer

    def rules(self, report: dict[str, Any], *, context: dict[str, Any]) -> list[str]:
        price = Decimal(str(context.get("purchase_price", "0")))
        if report["appraised_value"] < price:
            return [f"Appraised value {report['appraised_value']} is below the purchase price {price}."]
        return []

    def sandbox_report(self, *, context: dict[str, Any], passing: bool, rng: random.Random) -> dict[str, Any]:
        price = Decimal(str(context.get("purchase_price", "300000")))
        factor = Decimal(rng.randint(1000, 1060)) / 1000 if passing else Decimal(rng.randint(880, 960)) / 1000
        value = (price * factor).quantize(Decimal("1000"))
        if passing and value < price:
            value = price
        today = timezone.localdate()
        streets = ["Maple Ave", "Oak St", "Cedar Ln", "Birch Rd"]
        return {
            "appraised_value": money_str(value),
            "effective_date": today.isoformat(),
            "method": "sales_comparison",
            "comparables": [
                {
                    "address": f"{rng.randint(10, 999)} {street}",
                    "sale_price": money_str(value * Decimal(rng.randint(960, 1040)) / 1000),
                    "sale_date": (today - timedelta(days=rng.randint(20, 170))).isoformat(),
                    "adjusted_value": money_str(value * Decimal(rng.randint(985, 1015)) / 1000),
                }
                for street in streets[:3]
            ],
        }
