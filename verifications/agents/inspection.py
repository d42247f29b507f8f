from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from verifications.agents.base import AmountField, StrictSerializer, VerificationProvider, money_str

# Repairs above this share of the price make the inspection fail: the parties must decide.
REPAIR_LIMIT_SHARE = Decimal("0.05")


class FindingSerializer(StrictSerializer):
    area = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=500)
    severity = serializers.ChoiceField(choices=["minor", "moderate", "major", "safety"])
    repair_estimate = AmountField()


class InspectionReportSerializer(StrictSerializer):
    inspected_on = serializers.DateField()
    inspector_license = serializers.CharField(max_length=40)
    findings = FindingSerializer(many=True)
    summary = serializers.CharField(max_length=2000)


class InspectionProvider(VerificationProvider):
    verification_type = "inspection"
    schema = InspectionReportSerializer

    def rules(self, report: dict[str, Any], *, context: dict[str, Any]) -> list[str]:
        reasons = [
            f"Safety finding in {f['area']}: {f['description']}"
            for f in report["findings"]
            if f["severity"] == "safety"
        ]
        total = sum((f["repair_estimate"] for f in report["findings"]), Decimal(0))
        price = Decimal(str(context.get("purchase_price", "0")))
        if price > 0 and total > price * REPAIR_LIMIT_SHARE:
            reasons.append(f"Estimated repairs of {total} exceed {REPAIR_LIMIT_SHARE:%} of the price.")
        return reasons

    def sandbox_report(self, *, context: dict[str, Any], passing: bool, rng: random.Random) -> dict[str, Any]:
        findings = [
            {
                "area": "Roof",
                "description": "Granule loss on south slope; 5-7 years of life left",
                "severity": "moderate",
                "repair_estimate": money_str(Decimal(rng.randint(800, 2500))),
            },
            {
                "area": "Plumbing",
                "description": "Slow drain in the upstairs bathroom sink",
                "severity": "minor",
                "repair_estimate": "150.00",
            },
        ]
        if not passing:
            findings.append(
                {
                    "area": "Electrical",
                    "description": "Ungrounded outlets and a double-tapped breaker in the main panel",
                    "severity": "safety",
                    "repair_estimate": "3200.00",
                }
            )
        return {
            "inspected_on": timezone.localdate().isoformat(),
            "inspector_license": f"HI-{rng.randint(10000, 99999)}",
            "findings": findings,
            "summary": "Home is in fair condition for its age." if passing else "Safety issues need repair.",
        }
