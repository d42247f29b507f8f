from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from verifications.agents.base import AmountField, StrictSerializer, VerificationProvider, money_str


class ConditionSerializer(StrictSerializer):
    description = serializers.CharField(max_length=300)
    satisfied = serializers.BooleanField()


class LendingReportSerializer(StrictSerializer):
    loan_approved = serializers.BooleanField()
    loan_amount = AmountField()
    interest_rate = AmountField()
    conditions = ConditionSerializer(many=True)
    clear_to_close = serializers.BooleanField()


class LendingProvider(VerificationProvider):
    verification_type = "lending"
    schema = LendingReportSerializer

    def rules(self, report: dict[str, Any], *, context: dict[str, Any]) -> list[str]:
        reasons = []
        if not report["loan_approved"]:
            reasons.append("The loan was not approved.")
        wanted = Decimal(str(context.get("loan_amount", "0")))
        if report["loan_amount"] < wanted:
            reasons.append(f"The approved loan {report['loan_amount']} is below the {wanted} the purchase needs.")
        reasons.extend(f"Open loan condition: {c['description']}" for c in report["conditions"] if not c["satisfied"])
        if not report["clear_to_close"]:
            reasons.append("The lender has not issued clear to close.")
        return reasons

    def sandbox_report(self, *, context: dict[str, Any], passing: bool, rng: random.Random) -> dict[str, Any]:
        amount = Decimal(str(context.get("loan_amount", "0")))
        return {
            "loan_approved": passing,
            "loan_amount": money_str(amount),
            "interest_rate": f"{Decimal(rng.randint(550, 725)) / 100}",
            "conditions": [
                {"description": "Proof of homeowner's insurance", "satisfied": True},
                {"description": "Final verification of employment", "satisfied": passing},
            ],
            "clear_to_close": passing,
        }
