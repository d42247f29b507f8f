"""The escrow lifecycle's records. Money itself lives in the ledger; these rows point at it."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django_fsm import FSMField

from escrow_project.common.crypto.fields import EncryptedJSONField
from escrow_project.common.display import describe_money
from escrow_project.common.money import DECIMAL_PLACES, MAX_DIGITS
from identity.models import Organization
from transactions.states import (
    BankDetailsChangeStateMachine,
    BankDetailsChangeStatus,
    DisputeStateMachine,
    DisputeStatus,
    EscrowStatus,
    EscrowTransitions,
    ManualDepositStateMachine,
    ManualDepositStatus,
    MilestoneStateMachine,
    MilestoneStatus,
    PaymentStateMachine,
    PaymentStatus,
    SettlementStateMachine,
    SettlementStatus,
)
from verifications.models import VerificationWorkflow
from verifications.states import VerificationType


def _money(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, **kwargs)  # type: ignore[arg-type]


class EscrowTransaction(EscrowTransitions, models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    reference = models.CharField(max_length=32, unique=True)
    property_address = models.CharField(max_length=300)
    currency = models.CharField(max_length=3, default="USD")
    purchase_price = _money()
    earnest_money = _money()
    loan_amount = _money(default=0)
    closing_date = models.DateField()
    buyer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    seller = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    buyer_agent = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    seller_agent = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    lender = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    escrow_company = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    escrow_officer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Percent of the price, e.g. 2.5000 for 2.5 %.
    buyer_agent_commission_pct = models.DecimalField(max_digits=7, decimal_places=4, default=0)
    seller_agent_commission_pct = models.DecimalField(max_digits=7, decimal_places=4, default=0)
    annual_property_tax = _money(default=0)
    status = FSMField(max_length=32, choices=EscrowStatus.choices, default=EscrowStatus.DRAFT, protected=True)
    status_before_dispute = models.CharField(max_length=32, blank=True, default="")
    paused = models.BooleanField(default=False)
    pause_reason = models.CharField(max_length=300, blank=True, default="")
    workflow = models.OneToOneField(
        VerificationWorkflow, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    wallet_account_id = models.BigIntegerField(null=True, blank=True, help_text="ledger Account id")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    funded_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status"]), models.Index(fields=["closing_date"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(purchase_price__gt=0), name="escrow_price_positive"),
            models.CheckConstraint(condition=models.Q(earnest_money__gt=0), name="escrow_earnest_positive"),
            models.CheckConstraint(condition=models.Q(loan_amount__gte=0), name="escrow_loan_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.property_address})"


class Milestone(MilestoneStateMachine):
    """One verification fee: a ledger hold on the wallet, released when its report is verified."""

    Status = MilestoneStatus

    transaction = models.ForeignKey(EscrowTransaction, on_delete=models.CASCADE, related_name="milestones")
    verification_type = models.CharField(max_length=16, choices=VerificationType.choices)
    amount = _money()
    payee = models.ForeignKey(Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    hold_id = models.BigIntegerField(null=True, blank=True, help_text="ledger Hold id")
    hold_generation = models.PositiveIntegerField(default=0)
    earned_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["transaction", "verification_type"], name="milestone_one_per_type"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="milestone_amount_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.get_verification_type_display()} fee ({self.get_status_display()})"


class CostPayer(models.TextChoices):
    BUYER = "buyer", "Buyer"
    SELLER = "seller", "Seller"


class ClosingCost(models.Model):
    transaction = models.ForeignKey(EscrowTransaction, on_delete=models.CASCADE, related_name="closing_costs")
    description = models.CharField(max_length=200)
    paid_by = models.CharField(max_length=8, choices=CostPayer.choices)
    payee = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    amount = _money()

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="closing_cost_positive")]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount}"


class DepositKind(models.TextChoices):
    EARNEST = "earnest", "Earnest money (buyer)"
    LOAN = "loan", "Loan funds (lender)"
    CLOSING_FUNDS = "closing_funds", "Cash to close (buyer)"


class Deposit(models.Model):
    """Money that came into the escrow wallet through a rail."""

    transaction = models.ForeignKey(EscrowTransaction, on_delete=models.CASCADE, related_name="deposits")
    kind = models.CharField(max_length=16, choices=DepositKind.choices)
    amount = _money()
    rail = models.CharField(max_length=32, default="simulated")
    provider_reference = models.CharField(max_length=200, blank=True, default="")
    ledger_reference = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["transaction", "kind"], name="deposit_one_per_kind"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="deposit_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"


class SecondPersonDecision(models.Model):
    """Who decided a request that waits for a second person, when, and why (escrow_project/common/four_eyes.py)."""

    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class ManualDeposit(ManualDepositStateMachine, SecondPersonDecision):
    """A wire received outside the payment rail, entered by hand: above the threshold, four eyes.

    The escrow officer or an operator records it; a different person (another operator, or another
    escrow officer of the same escrow company) confirms it; only then is it a Deposit in the wallet.
    """

    Status = ManualDepositStatus

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    transaction = models.ForeignKey(EscrowTransaction, on_delete=models.CASCADE, related_name="manual_deposits")
    kind = models.CharField(max_length=16, choices=DepositKind.choices)
    amount = _money()
    provider_reference = models.CharField(max_length=200, blank=True, default="", help_text="the wire's reference")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["transaction", "kind"], condition=models.Q(status="pending"), name="manual_deposit_one_pending"
            ),
            models.CheckConstraint(
                condition=models.Q(decided_by__isnull=True) | ~models.Q(decided_by=models.F("recorded_by")),
                name="manual_deposit_four_eyes",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="manual_deposit_positive"),
        ]

    def __str__(self) -> str:
        return f"Wire for the {self.get_kind_display().lower()} ({self.get_status_display()})"


class PaymentKind(models.TextChoices):
    MILESTONE = "milestone", "Milestone fee"
    SETTLEMENT = "settlement", "Settlement disbursement"
    REFUND = "refund", "Refund"
    DISPUTE = "dispute", "Dispute resolution"


class Payment(PaymentStateMachine):
    """A payout of money already credited to a payee's account, to the payee's bank."""

    Status = PaymentStatus

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    transaction = models.ForeignKey(EscrowTransaction, on_delete=models.CASCADE, related_name="payments")
    milestone = models.ForeignKey(Milestone, on_delete=models.PROTECT, null=True, blank=True, related_name="payments")
    kind = models.CharField(max_length=16, choices=PaymentKind.choices)
    label = models.CharField(max_length=200)
    payee = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    amount = _money()
    currency = models.CharField(max_length=3)
    blocked_reason = models.CharField(max_length=300, blank=True, default="")
    # Deterministic: the same business event always yields the same key, so it pays once.
    idempotency_key = models.CharField(max_length=200, unique=True)
    payout_id = models.BigIntegerField(null=True, blank=True, help_text="ledger PayoutIntent id")
    # Money returned to the payer goes back where it came from: the rail payment (Stripe PaymentIntent)
    # it is refunded to. Empty: paid out to the payee's own account.
    refund_of = models.CharField(max_length=255, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    failure_reason = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_positive")]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.label}: {describe_money(self.amount, self.currency)} ({self.get_status_display()})"


class SettlementStatement(SettlementStateMachine):
    Status = SettlementStatus

    transaction = models.OneToOneField(EscrowTransaction, on_delete=models.CASCADE, related_name="settlement")
    statement = models.JSONField(default=dict, help_text="The ALTA-style statement as computed")
    total_disbursed = _money(default=0)
    approvals_required = models.PositiveSmallIntegerField(default=0)
    approved_at = models.DateTimeField(null=True, blank=True)
    unlock_at = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    executed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"Settlement statement of {self.transaction.reference} ({self.get_status_display()})"


class SettlementApproval(models.Model):
    statement = models.ForeignKey(SettlementStatement, on_delete=models.CASCADE, related_name="approvals")
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["statement", "operator"], name="approval_one_per_operator")]

    def __str__(self) -> str:
        return f"Approval by {self.operator.get_username()}"


class DisputeResolution(models.TextChoices):
    RELEASE = "release", "Release the funds to the seller"
    REFUND = "refund", "Refund the funds to the buyer"
    SPLIT = "split", "Split between seller and buyer"


class Dispute(DisputeStateMachine):
    Status = DisputeStatus

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    transaction = models.ForeignKey(EscrowTransaction, on_delete=models.CASCADE, related_name="disputes")
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(max_length=4000)
    evidence = models.JSONField(default=list, blank=True)
    resolution = models.CharField(max_length=16, choices=DisputeResolution.choices, blank=True, default="")
    seller_share_pct = models.DecimalField(max_digits=7, decimal_places=4, null=True, blank=True)
    resolution_note = models.TextField(blank=True, default="")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["transaction"], condition=models.Q(status="open"), name="dispute_one_open_per_transaction"
            ),
        ]

    def __str__(self) -> str:
        return f"Dispute on {self.transaction.reference} ({self.get_status_display()})"


class PlatformControl(models.Model):
    """A single row: the operators' emergency switch for every escrow payout."""

    payouts_paused = models.BooleanField(default=False)
    reason = models.CharField(max_length=300, blank=True, default="")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return "Payouts paused" if self.payouts_paused else "Payouts running"


class PayeeProfile(models.Model):
    """Where an organization is paid. A change of bank details starts a cooling-off period."""

    organization = models.OneToOneField(Organization, on_delete=models.PROTECT, related_name="+")
    bank_details = EncryptedJSONField(blank=True, default="")
    bank_details_changed_at = models.DateTimeField(null=True, blank=True)
    cooling_off_until = models.DateTimeField(null=True, blank=True)
    ledger_account_id = models.BigIntegerField(null=True, blank=True, help_text="ledger Account id")
    # The payee's Stripe Connect (Express) account, and whether Stripe says it can receive payouts.
    stripe_account_id = models.CharField(max_length=64, blank=True, default="")
    stripe_payouts_enabled = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"Payee profile of {self.organization.name}"


class BankDetailsChange(BankDetailsChangeStateMachine, SecondPersonDecision):
    """A proposed change of where an organization is paid: four eyes before it counts.

    An organization admin (or an operator) proposes; a different admin of that organization (or an
    operator) confirms; only then does PayeeProfile change and the cooling-off start.
    """

    Status = BankDetailsChangeStatus

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    bank_details = EncryptedJSONField()
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(status="pending"),
                name="bank_details_one_pending_change",
            ),
            models.CheckConstraint(
                condition=models.Q(decided_by__isnull=True) | ~models.Q(decided_by=models.F("proposed_by")),
                name="bank_details_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"Bank details change for {self.organization.name} ({self.get_status_display()})"
