from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from verifications.agents.base import AmountField, StrictSerializer, VerificationProvider, money_str


class LienSerializer(StrictSerializer):
    holder = serializers.CharField(max_length=200)
    amount = AmountField()
    recorded_on = serializers.DateField()
    released_at_closing = serializers.BooleanField()


class EncumbranceSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=["easement", "covenant", "restriction", "encroachment", "other"])
    description = serializers.CharField(max_length=500)
    affects_marketability = serializers.BooleanField()


class TitleReportSerializer(StrictSerializer):
    search_date = serializers.DateField()
    vesting = serializers.CharField(max_length=300)
    liens = LienSerializer(many=True)
    encumbrances = EncumbranceSerializer(many=True)
    title_status = serializers.ChoiceField(choices=["clear", "not_clear"])
    exceptions = serializers.ListField(child=serializers.CharField(max_length=300), allow_empty=True)


class TitleProvider(VerificationProvider):
    verification_type = "title"
    schema = TitleReportSerializer

    def rules(self, report: dict[str, Any], *, context: dict[str, Any]) -> list[str]:
        reasons = []
        if report["title_status"] != "clear":
            reasons.append("The title search reports the title as not clear.")
        for lien in report["liens"]:
            if not lien["released_at_closing"]:
                reasons.append(f"A lien of {lien['amount']} held by {lien['holder']} survives closing.")
        for item in report["encumbrances"]:
            if item["affects_marketability"]:
                reasons.append(f"An {item['kind']} affects marketability: {item['description']}")
        return reasons

    def sandbox_report(self, *, context: dict[str, Any], passing: bool, rng: random.Random) -> dict[str, Any]:
        today = timezone.localdate()
        mortgage = Decimal(context.get("purchase_price", "300000")) * Decimal("0.4")
        return {
            "search_date": today.isoformat(),
            "vesting": "Seller of record, as sole owner, fee simple",
            "liens": [
                {
                    "holder": "First Federal Savings",
                    "amount": money_str(mortgage),
                    "recorded_on": (today - timedelta(days=rng.randint(900, 3000))).isoformat(),
                    "released_at_closing": passing,
                }
            ],
            "encumbrances": [
                {
                    "kind": "easement",
                    "description": "Utility easement along the rear 10 feet of the lot",
                    "affects_marketability": False,
                }
            ],
            "title_status": "clear" if passing else "not_clear",
            "exceptions": ["Rights of parties in possession", "Taxes not yet due and payable"],
        }
