from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models
from rest_framework import serializers

from escrow_project.common.amounts import AmountField, DecimalTextField, MoneyField
from identity.models import Organization, User
from ledger.models import RailPayment
from transactions.models import (
    BankDetailsChange,
    DepositKind,
    Dispute,
    DisputeResolution,
    EscrowTransaction,
    ManualDeposit,
    Milestone,
    Payment,
    SettlementStatement,
)
from transactions.selectors import masked_account
from verifications.models import VerificationTask
from verifications.states import VerificationType


def _percent(maximum: int, **kwargs: Any) -> DecimalTextField:
    return DecimalTextField(places=4, minimum=Decimal(0), maximum=Decimal(maximum), **kwargs)


def _org(org: Organization | None) -> dict[str, str] | None:
    return {"id": str(org.public_id), "name": org.name} if org else None


class OrganizationRef(serializers.SlugRelatedField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="public_id", queryset=Organization.objects.filter(is_active=True), **kwargs)


class MilestoneSerializer(serializers.ModelSerializer[Milestone]):
    payee = serializers.SerializerMethodField()
    amount = MoneyField(currency="transaction.currency")

    class Meta:
        model = Milestone
        fields = ["verification_type", "amount", "status", "payee", "earned_at", "released_at"]

    def get_payee(self, m: Milestone) -> dict[str, str] | None:
        return _org(m.payee)


class TransactionSerializer(serializers.ModelSerializer[EscrowTransaction]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    parties = serializers.SerializerMethodField()
    milestones = MilestoneSerializer(many=True, read_only=True)
    purchase_price = MoneyField()
    earnest_money = MoneyField()
    loan_amount = MoneyField()
    annual_property_tax = MoneyField()

    class Meta:
        model = EscrowTransaction
        fields = [
            "id",
            "reference",
            "status",
            "property_address",
            "currency",
            "purchase_price",
            "earnest_money",
            "loan_amount",
            "closing_date",
            "buyer_agent_commission_pct",
            "seller_agent_commission_pct",
            "annual_property_tax",
            "paused",
            "pause_reason",
            "parties",
            "milestones",
            "created_at",
            "funded_at",
            "cleared_at",
            "settled_at",
            "cancelled_at",
        ]

    def get_parties(self, t: EscrowTransaction) -> dict[str, Any]:
        return {
            "buyer": _org(t.buyer),
            "seller": _org(t.seller),
            "buyer_agent": _org(t.buyer_agent),
            "seller_agent": _org(t.seller_agent),
            "lender": _org(t.lender),
            "escrow_company": _org(t.escrow_company),
            "escrow_officer": {"id": str(t.escrow_officer.public_id), "name": str(t.escrow_officer)},
        }


class ClosingCostIn(serializers.Serializer):
    description = serializers.CharField(max_length=200)
    paid_by = serializers.ChoiceField(choices=["buyer", "seller"])
    payee = OrganizationRef()
    amount = AmountField()


class TransactionCreateSerializer(serializers.Serializer):
    property_address = serializers.CharField(max_length=300)
    currency = serializers.CharField(max_length=3, default="USD")
    purchase_price = AmountField()
    earnest_money = AmountField()
    loan_amount = AmountField(required=False, default="0")
    closing_date = serializers.DateField()
    buyer = OrganizationRef()
    seller = OrganizationRef()
    escrow_company = OrganizationRef()
    escrow_officer = serializers.SlugRelatedField(slug_field="public_id", queryset=User.objects.filter(is_active=True))
    buyer_agent = OrganizationRef(required=False, allow_null=True, default=None)
    seller_agent = OrganizationRef(required=False, allow_null=True, default=None)
    lender = OrganizationRef(required=False, allow_null=True, default=None)
    buyer_agent_commission_pct = _percent(10, required=False, default=Decimal(0))
    seller_agent_commission_pct = _percent(10, required=False, default=Decimal(0))
    annual_property_tax = AmountField(required=False, default="0")
    milestone_amounts = serializers.DictField(child=AmountField(), required=False)
    agents = serializers.DictField(child=OrganizationRef(), required=False)
    closing_costs = ClosingCostIn(many=True, required=False)


class TransactionUpdateSerializer(serializers.Serializer):
    property_address = serializers.CharField(max_length=300, required=False)
    purchase_price = AmountField(required=False)
    earnest_money = AmountField(required=False)
    loan_amount = AmountField(required=False)
    closing_date = serializers.DateField(required=False)
    buyer_agent_commission_pct = _percent(10, required=False)
    seller_agent_commission_pct = _percent(10, required=False)
    annual_property_tax = AmountField(required=False)


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class DepositSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DepositKind.choices)
    amount = AmountField()
    provider_reference = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ManualDepositSerializer(serializers.ModelSerializer[ManualDeposit]):
    """A wire entered by hand that waits for (or had) a second person's confirmation."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    amount = MoneyField(currency="transaction.currency")
    recorded_by = serializers.CharField(source="recorded_by.username", read_only=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True, default=None)

    class Meta:
        model = ManualDeposit
        fields = ["id", "kind", "amount", "provider_reference", "status", "recorded_by", "decided_by", "reason",
                  "created_at", "decided_at"]  # fmt: skip
        read_only_fields = fields


class ManualDepositRejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class Decision(models.TextChoices):
    WAIVE = "waive", "Waive the rejected verification"
    RENEGOTIATE = "renegotiate", "Renegotiate the price and redo it"
    REASSIGN = "reassign", "Reassign it to another agent"


class DisputeDecision(models.TextChoices):
    RESOLVED = "resolved", "Resolved"
    DISMISSED = "dismissed", "Dismissed"


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Decision.choices)
    verification_type = serializers.ChoiceField(choices=VerificationType.choices)
    purchase_price = AmountField(required=False)
    agent = OrganizationRef(required=False, allow_null=True, default=None)


class PauseSerializer(serializers.Serializer):
    paused = serializers.BooleanField()
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class PauseStateSerializer(serializers.Serializer):
    """The emergency switch; its history is the audit trail of escrow_platform_control/payouts."""

    paused = serializers.BooleanField(source="payouts_paused")
    reason = serializers.CharField()
    changed_by = serializers.UUIDField(source="changed_by.public_id", allow_null=True, default=None)
    changed_at = serializers.DateTimeField(allow_null=True)


class VerificationSummarySerializer(serializers.ModelSerializer[VerificationTask]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    agent = serializers.SerializerMethodField()
    depends_on = serializers.SerializerMethodField()

    class Meta:
        model = VerificationTask
        fields = [
            "id",
            "verification_type",
            "status",
            "agent",
            "depends_on",
            "deadline",
            "attempt",
            "waived",
            "decided_at",
        ]

    def get_agent(self, t: VerificationTask) -> dict[str, str] | None:
        return _org(t.agent)

    def get_depends_on(self, t: VerificationTask) -> list[str]:
        return [d.verification_type for d in t.depends_on.all()]


class PaymentSerializer(serializers.ModelSerializer[Payment]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    transaction = serializers.UUIDField(source="transaction.public_id", read_only=True)
    payee = serializers.SerializerMethodField()
    amount = MoneyField()

    class Meta:
        model = Payment
        fields = [
            "id",
            "transaction",
            "kind",
            "label",
            "payee",
            "amount",
            "currency",
            "status",
            "blocked_reason",
            "attempts",
            "failure_reason",
            "created_at",
            "updated_at",
        ]

    def get_payee(self, p: Payment) -> dict[str, str] | None:
        return _org(p.payee)


class SettlementSerializer(serializers.ModelSerializer[SettlementStatement]):
    approvals = serializers.SerializerMethodField()
    total_disbursed = MoneyField(currency="transaction.currency")

    class Meta:
        model = SettlementStatement
        fields = [
            "status",
            "statement",
            "total_disbursed",
            "approvals_required",
            "approvals",
            "approved_at",
            "unlock_at",
            "computed_at",
            "executed_at",
        ]

    def get_approvals(self, s: SettlementStatement) -> int:
        return s.approvals.count()


class DisputeSerializer(serializers.ModelSerializer[Dispute]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    transaction = serializers.UUIDField(source="transaction.public_id", read_only=True)

    class Meta:
        model = Dispute
        fields = [
            "id",
            "transaction",
            "reason",
            "evidence",
            "status",
            "resolution",
            "seller_share_pct",
            "resolution_note",
            "resolved_at",
            "created_at",
        ]


class DisputeCreateSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=4000)
    evidence = serializers.ListField(child=serializers.JSONField(), required=False, default=list, max_length=50)


class DisputeUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=DisputeDecision.choices)
    resolution = serializers.ChoiceField(choices=DisputeResolution.choices, required=False)
    seller_share_pct = _percent(100, required=False, allow_null=True, default=None)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class BankDetailsSerializer(serializers.Serializer):
    bank_details = serializers.DictField()


class BankDetailsChangeSerializer(serializers.ModelSerializer[BankDetailsChange]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    account = serializers.SerializerMethodField(help_text="the proposed account, masked to its last 4 digits")
    proposed_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="public_id", read_only=True
    )
    decided_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="public_id", read_only=True)

    class Meta:
        model = BankDetailsChange
        fields = ["id", "status", "account", "proposed_by", "decided_by", "reason", "created_at", "decided_at"]

    def get_account(self, change: BankDetailsChange) -> str:
        return masked_account(change.bank_details)


class BankDetailsStateSerializer(serializers.Serializer):
    account = serializers.CharField(help_text="the account in force, masked ('' when none is set)")
    cooling_off_until = serializers.DateTimeField(allow_null=True)
    changes = BankDetailsChangeSerializer(many=True)


class BankDetailsDecisionSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class PaymentInStartSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DepositKind.choices)


class PaymentInSerializer(serializers.ModelSerializer[RailPayment]):
    """A payment in at the rail. `client_secret` (only when it was just opened) completes it
    with Stripe.js; the deposit is recorded when the rail confirms, never on the payer's word."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    kind = serializers.CharField(source="purpose", read_only=True)
    amount = MoneyField()

    class Meta:
        model = RailPayment
        fields = ["id", "kind", "rail", "reference", "amount", "currency", "status", "failure_reason", "applied"]
        read_only_fields = fields
