from __future__ import annotations

from typing import Any

from rest_framework import serializers

from escrow_project.common.amounts import AmountField
from escrow_project.common.money import MINOR_UNITS, format_amount
from ledger.models import Account, JournalLine, OperatorEntryRequest
from ledger.selectors import balance_from_counters, line_balance_after


class BalanceSerializer(serializers.Serializer[Any]):
    currency = serializers.CharField()
    posted_debits = serializers.CharField()
    posted_credits = serializers.CharField()
    pending_debits = serializers.CharField()
    pending_credits = serializers.CharField()
    balance = serializers.CharField()
    available = serializers.CharField()
    projected = serializers.CharField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        currency = instance.currency
        return {
            "currency": currency,
            **{
                name: format_amount(getattr(instance, name), currency)
                for name in (
                    "posted_debits",
                    "posted_credits",
                    "pending_debits",
                    "pending_credits",
                    "balance",
                    "available",
                    "projected",
                )
            },
        }


class AccountSerializer(serializers.ModelSerializer[Account]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    no_overdraft = serializers.SerializerMethodField()
    balance = serializers.SerializerMethodField()

    class Meta:
        model = Account
        fields = [
            "id",
            "owner_type",
            "owner_id",
            "purpose",
            "currency",
            "normal_side",
            "name",
            "no_overdraft",
            "closed_at",
            "created_at",
            "balance",
        ]

    def get_no_overdraft(self, account: Account) -> bool:
        return account.debits_must_not_exceed_credits or account.credits_must_not_exceed_debits

    def get_balance(self, account: Account) -> dict[str, Any]:
        balance = balance_from_counters(
            account_id=account.pk,
            currency=account.currency,
            normal_side=account.normal_side,
            posted_debits=account.posted_debits,
            posted_credits=account.posted_credits,
            pending_debits=account.pending_debits,
            pending_credits=account.pending_credits,
        )
        return BalanceSerializer(balance).data


class HistoryLineSerializer(serializers.ModelSerializer[JournalLine]):
    entry_id = serializers.UUIDField(source="entry.public_id", read_only=True)
    kind = serializers.CharField(source="entry.kind", read_only=True)
    description = serializers.CharField(source="entry.description", read_only=True)
    amount = serializers.SerializerMethodField()
    balance_after = serializers.SerializerMethodField()

    class Meta:
        model = JournalLine
        fields = ["entry_id", "kind", "description", "side", "amount", "currency", "balance_after", "created_at"]

    def get_amount(self, line: JournalLine) -> str:
        return format_amount(line.amount, line.currency)

    def get_balance_after(self, line: JournalLine) -> str:
        return format_amount(line_balance_after(line, self.context["normal_side"]), line.currency)


class TopUpSerializer(serializers.Serializer[Any]):
    amount = AmountField()
    currency = serializers.ChoiceField(choices=sorted(MINOR_UNITS))
    rail = serializers.CharField(default="simulated", max_length=32)
    provider_reference = serializers.CharField(default="", allow_blank=True, max_length=255)


class AdjustmentSerializer(serializers.Serializer[Any]):
    amount = AmountField()
    currency = serializers.ChoiceField(choices=sorted(MINOR_UNITS))
    direction = serializers.ChoiceField(choices=["credit", "debit"])
    reason = serializers.CharField(max_length=500)


class OperatorEntryRequestSerializer(serializers.ModelSerializer[OperatorEntryRequest]):
    """Money recorded by hand above the four-eyes threshold: nothing is posted until approved."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    account = serializers.UUIDField(source="account.public_id", read_only=True)
    amount = serializers.SerializerMethodField()
    entry = serializers.UUIDField(source="entry.public_id", read_only=True, default=None)

    class Meta:
        model = OperatorEntryRequest
        fields = ["id", "kind", "account", "amount", "currency", "details", "status", "requested_by", "decided_by",
                  "decided_at", "reason", "entry", "created_at"]  # fmt: skip
        read_only_fields = fields

    def get_amount(self, row: OperatorEntryRequest) -> str:
        return format_amount(row.amount, row.currency)


class ReverseSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=500)


class EntryLineSerializer(serializers.Serializer[Any]):
    account_id = serializers.UUIDField(read_only=True)
    side = serializers.CharField(read_only=True, help_text="debit or credit")
    amount = serializers.CharField(read_only=True)
    currency = serializers.CharField(read_only=True)


class EntrySerializer(serializers.Serializer[Any]):
    # Declared for the OpenAPI schema; the representation is built by hand below.
    id = serializers.UUIDField(read_only=True)
    kind = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    reverses = serializers.UUIDField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    replayed = serializers.BooleanField(
        read_only=True, help_text="True when the ledger had already done this very operation under this key."
    )
    lines = EntryLineSerializer(many=True, read_only=True)

    def to_representation(self, entry: Any) -> dict[str, Any]:
        return {
            "id": str(entry.public_id),
            "kind": entry.kind,
            "description": entry.description,
            "reverses": str(entry.reverses.public_id) if entry.reverses_id else None,
            "created_at": entry.created_at.isoformat(),
            "replayed": entry.replayed,
            "lines": [
                {
                    "account_id": str(line.account.public_id),
                    "side": line.side,
                    "amount": format_amount(line.amount, line.currency),
                    "currency": line.currency,
                }
                for line in entry.lines.select_related("account").order_by("id")
            ],
        }


class SandboxPaySerializer(serializers.Serializer[Any]):
    # Printable ASCII only, as the secrets we issue are: hmac.compare_digest() raises on other text
    # (found by the API fuzzer: a 500).
    client_secret = serializers.RegexField(r"^[\x21-\x7e]+$", max_length=200)
    card_number = serializers.CharField(
        max_length=19, default="4242424242424242", help_text="4000000000000002 is declined, as in Stripe test mode"
    )
