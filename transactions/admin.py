"""Operator console for escrow: read-only records; every change is a confirmed button calling a service.

Each button opens a page that says exactly what will happen ("Refund $22,900.00 now in the escrow
wallet of ESC-1 to the buyer, ...") and asks for a reason, recorded in the audit trail
(escrow_project.common.admin.ConsoleAdmin). The services keep their rules: operators only, four eyes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from unfold.decorators import display
from unfold.widgets import UnfoldAdminDecimalFieldWidget, UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

from escrow_project.common.admin import (
    QueueFilter,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ReasonForm,
    console_money,
    object_action,
    register_subject,
)
from escrow_project.common.admin_masking import MaskedFieldsAdminMixin
from escrow_project.common.display import format_when
from transactions import services
from transactions.models import (
    BankDetailsChange,
    DepositKind,
    Dispute,
    DisputeStatus,
    EscrowTransaction,
    ManualDeposit,
    Milestone,
    PayeeProfile,
    Payment,
    PaymentStatus,
    PlatformControl,
    SettlementStatement,
    SettlementStatus,
)
from transactions.services._common import SUBJECT_TYPE
from transactions.services.controls import CONTROL_SUBJECT_TYPE
from transactions.states import FINAL, EscrowStatus

register_subject(SUBJECT_TYPE, EscrowTransaction, "public_id")
register_subject(CONTROL_SUBJECT_TYPE, PlatformControl, "=1")


def _money(amount: Any, currency: str) -> str:
    return console_money(amount, currency)


def _wallet(txn: EscrowTransaction) -> Decimal:
    from ledger.selectors import account_balance

    return account_balance(account_id=int(txn.wallet_account_id)).balance if txn.wallet_account_id else Decimal(0)


class MilestoneInline(ReadOnlyInline):
    model = Milestone
    fields = ["verification_type", "amount", "payee", "status", "earned_at", "released_at"]
    readonly_fields = fields
    money_fields, money_currency = ["amount"], "transaction.currency"


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["label", "payee", "amount", "status", "blocked_reason", "attempts", "failure_reason"]
    readonly_fields = fields
    money_fields = ["amount"]
    show_change_link = True


class DisputeInline(ReadOnlyInline):
    model = Dispute
    fields = ["status", "reason", "resolution", "created_at"]
    readonly_fields = fields
    show_change_link = True


class ManualDepositInline(ReadOnlyInline):
    model = ManualDeposit
    fields = ["kind", "amount", "status", "provider_reference", "recorded_by", "decided_by", "created_at"]
    readonly_fields = fields
    money_fields, money_currency = ["amount"], "transaction.currency"
    show_change_link = True


class ManualDepositForm(ReasonForm):
    """A wire received outside the payment rail, typed in from the bank statement."""

    kind = forms.ChoiceField(choices=DepositKind.choices, widget=UnfoldAdminSelectWidget)
    amount = forms.DecimalField(
        min_value=Decimal("0.01"), max_digits=20, decimal_places=4, widget=UnfoldAdminDecimalFieldWidget
    )
    provider_reference = forms.CharField(
        max_length=255, label="Bank reference", help_text="As on the statement.", widget=UnfoldAdminTextInputWidget
    )
    field_order = ["kind", "amount", "provider_reference", "reason"]


class SplitForm(ReasonForm):
    seller_share_pct = forms.DecimalField(
        min_value=Decimal("0.01"),
        max_value=Decimal("99.99"),
        decimal_places=2,
        label="Seller's share (%)",
        widget=UnfoldAdminDecimalFieldWidget,
    )
    field_order = ["seller_share_pct", "reason"]


def _settling(txn: EscrowTransaction) -> SettlementStatement | None:
    return SettlementStatement.objects.filter(transaction=txn).first()


def _approve_text(txn: EscrowTransaction) -> str:
    st = _settling(txn)
    if st is None:
        return f"Add your approval to the settlement of {txn.reference}."
    have = st.approvals.count()
    return (
        f"Add your signature to the settlement of {txn.reference} ({_money(st.total_disbursed, txn.currency)} "
        f"to disburse): {have} of {st.approvals_required} operator approvals so far. Once all are in, the "
        "time lock starts; the money moves only when the settlement is executed after it."
    )


def _execute_text(txn: EscrowTransaction) -> str:
    st = _settling(txn)
    total = _money(st.total_disbursed, txn.currency) if st else "the statement's amounts"
    return (
        f"Disburse {total} from the escrow wallet of {txn.reference} to every payee on the settlement "
        "statement, in one ledger batch (all of it or nothing). Payouts then leave through the rail."
    )


def _approvable(txn: EscrowTransaction) -> bool:
    st = _settling(txn)
    return st is not None and st.status == SettlementStatus.AWAITING_APPROVAL


def _executable(txn: EscrowTransaction) -> bool:
    return txn.status == EscrowStatus.CLEAR_TO_CLOSE or (
        txn.status == EscrowStatus.SETTLING and getattr(_settling(txn), "status", "") != SettlementStatus.EXECUTED
    )


class _TransactionQueue(QueueFilter):
    queues = {
        "paused": ("Payouts paused", lambda: Q(paused=True)),
        "disputed": ("Disputed", lambda: Q(status=EscrowStatus.DISPUTED)),
    }


@admin.register(EscrowTransaction)
class EscrowTransactionAdmin(ReadOnlyAdmin):
    list_display = ["reference", "property_address", "status", "price", "paused", "closing_date"]
    money_fields = ["purchase_price", "earnest_money", "loan_amount", "annual_property_tax"]
    list_filter = [_TransactionQueue, "status", "paused", "currency"]
    search_fields = ["reference", "property_address"]
    inlines = [MilestoneInline, PaymentInline, DisputeInline, ManualDepositInline]
    object_actions = [
        "approve_settlement", "execute_settlement", "record_manual_deposit", "pause", "resume",
    ]  # fmt: skip

    @display(description="purchase price", ordering="purchase_price")
    def price(self, obj: EscrowTransaction) -> str:
        return _money(obj.purchase_price, obj.currency)

    @object_action(label="Approve the settlement", describe=_approve_text, available=_approvable)
    def approve_settlement(self, request: HttpRequest, txn: EscrowTransaction, form: ReasonForm) -> str:
        st = services.settlement_approve(transaction_id=txn.pk, operator=request.user)
        return f"{txn.reference}: your approval is recorded (settlement {st.get_status_display().lower()})."

    @object_action(label="Execute the settlement", describe=_execute_text, available=_executable, danger=True)
    def execute_settlement(self, request: HttpRequest, txn: EscrowTransaction, form: ReasonForm) -> str:
        services.settlement_execute(transaction_id=txn.pk, actor=request.user)
        return f"{txn.reference}: the settlement was executed."

    @object_action(
        label="Record manual deposit",
        describe=lambda t: (
            f"Record a wire received outside the payment rail into the escrow wallet of {t.reference}. Up to "
            f"{_money(settings.ESCROW_MANUAL_DEPOSIT_CONFIRM_ABOVE, t.currency)} it counts at once; above that "
            "it waits until a second operator (not you) confirms it on the manual deposit's page."
        ),
        available=lambda t: t.status not in FINAL,
        form=ManualDepositForm,
        confirm_label="Record the deposit",
    )
    def record_manual_deposit(self, request: HttpRequest, txn: EscrowTransaction, form: ReasonForm) -> str:
        data = form.cleaned_data
        _, pending = services.manual_deposit_record(
            transaction_id=txn.pk, kind=data["kind"], amount=data["amount"], actor=request.user,
            provider_reference=data["provider_reference"],
        )  # fmt: skip
        amount = _money(data["amount"], txn.currency)
        if pending is not None:
            return f"{txn.reference}: {amount} recorded; it waits for a second operator to confirm it."
        return f"{txn.reference}: {amount} recorded in the escrow wallet."

    @object_action(
        label="Pause payouts",
        describe=lambda t: f"Stop every payout of {t.reference} (milestone fees, settlement, refunds) until resumed.",
        available=lambda t: not t.paused and t.status not in FINAL,
        danger=True,
    )
    def pause(self, request: HttpRequest, txn: EscrowTransaction, form: ReasonForm) -> str:
        services.escrow_pause(
            transaction_id=txn.pk, actor=request.user, paused=True, reason=form.cleaned_data["reason"]
        )
        return f"{txn.reference}: payouts paused."

    @object_action(
        label="Resume payouts",
        describe=lambda t: f"Let the payouts of {t.reference} move again; payouts held by the pause are sent.",
        available=lambda t: t.paused,
    )
    def resume(self, request: HttpRequest, txn: EscrowTransaction, form: ReasonForm) -> str:
        services.escrow_pause(transaction_id=txn.pk, actor=request.user, paused=False)
        return f"{txn.reference}: payouts resumed."


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "transaction", "kind", "label", "payee", "money", "status", "attempts"]
    money_fields = ["amount"]
    list_filter = ["status", "kind"]
    list_select_related = ["transaction", "payee"]
    object_actions = ["retry"]

    @display(description="amount", ordering="amount")
    def money(self, obj: Payment) -> str:
        return _money(obj.amount, obj.currency)

    @object_action(
        label="Retry the payout",
        describe=lambda p: (
            f"Send {_money(p.amount, p.currency)} to {p.payee} again ({p.label}, transaction "
            f"{p.transaction.reference}); attempt {p.attempts + 1}. The failed attempt's money is back."
        ),
        available=lambda p: p.status == PaymentStatus.FAILED,
    )
    def retry(self, request: HttpRequest, payment: Payment, form: ReasonForm) -> str:
        services.payment_retry(payment_id=payment.pk, actor=request.user)
        return f"Payout {payment.public_id} sent again."


class _SettlementQueue(QueueFilter):
    queues = {"due": ("Approvals due or time lock over", lambda: settlement_due_q())}


def settlement_due_q() -> Q:
    """Settlements waiting on operators: approvals missing, or approved with the time lock over."""
    return Q(status=SettlementStatus.AWAITING_APPROVAL) | Q(
        status=SettlementStatus.TIME_LOCKED, unlock_at__lte=timezone.now()
    )


@admin.register(SettlementStatement)
class SettlementAdmin(ReadOnlyAdmin):
    list_display = ["transaction", "status", "total", "approvals_required", "unlocks", "executed_at"]
    money_fields, money_currency = ["total_disbursed"], "transaction.currency"
    list_filter = [_SettlementQueue, "status"]
    list_select_related = ["transaction"]

    object_actions = ["approve", "execute"]

    # The same buttons as on the transaction's page: the settlement queue leads here.
    @object_action(
        label="Approve the settlement",
        describe=lambda st: _approve_text(st.transaction),
        available=lambda st: st.status == SettlementStatus.AWAITING_APPROVAL,
    )
    def approve(self, request: HttpRequest, st: SettlementStatement, form: ReasonForm) -> str:
        txn = st.transaction
        after = services.settlement_approve(transaction_id=txn.pk, operator=request.user)
        return f"{txn.reference}: your approval is recorded (settlement {after.get_status_display().lower()})."

    @object_action(
        label="Execute the settlement",
        describe=lambda st: _execute_text(st.transaction),
        available=lambda st: _executable(st.transaction),
        danger=True,
    )
    def execute(self, request: HttpRequest, st: SettlementStatement, form: ReasonForm) -> str:
        services.settlement_execute(transaction_id=st.transaction_id, actor=request.user)
        return f"{st.transaction.reference}: the settlement was executed."

    @display(description="total disbursed")
    def total(self, obj: SettlementStatement) -> str:
        return _money(obj.total_disbursed, obj.transaction.currency)

    @display(description="time lock ends")
    def unlocks(self, obj: SettlementStatement) -> str:
        return format_when(obj.unlock_at)


def _resolve_text(verb: str) -> Any:
    def describe(d: Dispute) -> str:
        txn = d.transaction
        held = _money(_wallet(txn), txn.currency)
        if verb == "refund":
            return (f"Refund the {held} now in the escrow wallet of {txn.reference} to the buyer, {txn.buyer}. "
                    "Agents keep fees already earned; the dispute closes as resolved.")  # fmt: skip
        if verb == "release":
            return (f"Release the {held} now in the escrow wallet of {txn.reference} to the seller, {txn.seller}. "
                    "Agents keep fees already earned; the dispute closes as resolved.")  # fmt: skip
        return (f"Split the {held} now in the escrow wallet of {txn.reference} between the seller, {txn.seller} "
                f"(the share you enter) and the buyer, {txn.buyer} (the rest).")  # fmt: skip

    return describe


def _open(d: Dispute) -> bool:
    return d.status == DisputeStatus.OPEN


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "transaction", "status", "resolution", "created_at"]
    list_filter = ["status", "resolution"]
    list_select_related = ["transaction"]
    object_actions = ["refund", "release", "split", "dismiss"]

    @object_action(label="Refund the buyer", describe=_resolve_text("refund"), available=_open, danger=True)
    def refund(self, request: HttpRequest, dispute: Dispute, form: ReasonForm) -> str:
        return self._resolve(request, dispute, form, "refund")

    @object_action(label="Release to the seller", describe=_resolve_text("release"), available=_open, danger=True)
    def release(self, request: HttpRequest, dispute: Dispute, form: ReasonForm) -> str:
        return self._resolve(request, dispute, form, "release")

    @object_action(label="Split", describe=_resolve_text("split"), available=_open, danger=True, form=SplitForm)
    def split(self, request: HttpRequest, dispute: Dispute, form: ReasonForm) -> str:
        return self._resolve(request, dispute, form, "split", form.cleaned_data["seller_share_pct"])

    @object_action(
        label="Dismiss the dispute",
        describe=lambda d: (
            f"Close the dispute without moving money: {d.transaction.reference} resumes where it was "
            "and the payouts the dispute froze are sent."
        ),
        available=_open,
    )
    def dismiss(self, request: HttpRequest, dispute: Dispute, form: ReasonForm) -> str:
        services.dispute_dismiss(dispute_id=dispute.pk, actor=request.user, note=form.cleaned_data["reason"])
        return f"Dispute on {dispute.transaction.reference} dismissed."

    def _resolve(self, request: HttpRequest, dispute: Dispute, form: ReasonForm, how: str, share: Any = None) -> str:
        services.dispute_resolve(dispute_id=dispute.pk, actor=request.user, resolution=how, seller_share_pct=share,
                                 note=form.cleaned_data["reason"])  # fmt: skip
        return f"Dispute on {dispute.transaction.reference} resolved: {how}."


@admin.register(PlatformControl)
class PlatformControlAdmin(ReadOnlyAdmin):
    """The emergency switch: its state here, its history in the audit trail (escrow_platform_control/payouts)."""

    list_display = ["__str__", "payouts_paused", "reason", "changed_by", "changed_at"]
    object_actions = ["pause_all", "resume_all"]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        # The single row must exist to be shown and opened for its buttons, even before anyone paused.
        PlatformControl.objects.get_or_create(pk=1)
        return super().changelist_view(request, extra_context)

    @object_action(
        label="EMERGENCY: pause every payout",
        describe=lambda c: (
            "Stop EVERY escrow payout on the platform: no milestone fee, settlement, refund or dispute "
            f"payout moves for any of the {EscrowTransaction.objects.exclude(status__in=FINAL).count()} open "
            "transactions until someone resumes them."
        ),
        available=lambda c: not c.payouts_paused,
        danger=True,
    )
    def pause_all(self, request: HttpRequest, control: PlatformControl, form: ReasonForm) -> str:
        services.payouts_pause_all(actor=request.user, paused=True, reason=form.cleaned_data["reason"])
        return "All escrow payouts are paused."

    @object_action(
        label="Resume every payout",
        describe=lambda c: (
            "Let escrow payouts move again everywhere; payouts held by the pause are sent "
            "(transactions paused one by one stay paused)."
        ),
        available=lambda c: c.payouts_paused,
    )
    def resume_all(self, request: HttpRequest, control: PlatformControl, form: ReasonForm) -> str:
        services.payouts_pause_all(actor=request.user, paused=False, reason=form.cleaned_data["reason"])
        return "Escrow payouts resumed."


@admin.register(PayeeProfile)
class PayeeProfileAdmin(MaskedFieldsAdminMixin, ReadOnlyAdmin):
    masked_fields = ("bank_details",)
    list_display = ["organization", "masked_bank_details", "bank_details_changed_at", "cooling_off_until"]


def _pending(row: Any) -> bool:
    return bool(row.status == "pending")


@admin.register(BankDetailsChange)
class BankDetailsChangeAdmin(MaskedFieldsAdminMixin, ReadOnlyAdmin):
    """Proposed payout-detail changes: an operator may be the second person (never the proposer)."""

    masked_fields = ("bank_details",)
    list_display = ["organization", "status", "masked_bank_details", "proposed_by", "decided_by", "created_at"]
    list_filter = ["status"]
    object_actions = ["confirm", "reject"]

    @object_action(
        label="Confirm (second person)",
        describe=lambda c: (
            f"Apply the new payout bank details of {c.organization} proposed by {c.proposed_by}; a "
            "change of existing details starts the cooling-off before any payout uses them. You must not be "
            "the proposer."
        ),
        available=_pending,
    )
    def confirm(self, request: HttpRequest, row: BankDetailsChange, form: ReasonForm) -> str:
        services.payee_bank_details_confirm(change_id=row.pk, actor=request.user)
        return f"{row.organization}: bank details confirmed; the cooling-off applies."

    @object_action(
        label="Reject",
        describe=lambda c: (
            f"Refuse the payout bank details proposed for {c.organization}; payouts keep the current ones."
        ),
        available=_pending,
        danger=True,
    )
    def reject(self, request: HttpRequest, row: BankDetailsChange, form: ReasonForm) -> str:
        services.payee_bank_details_reject(change_id=row.pk, actor=request.user, reason=form.cleaned_data["reason"])
        return f"{row.organization}: proposal rejected."


def _wire_text(verb: str) -> Any:
    def describe(w: ManualDeposit) -> str:
        amount, ref = _money(w.amount, w.transaction.currency), w.transaction.reference
        if verb == "confirm":
            return (
                f"Confirm the {w.get_kind_display().lower()} wire of {amount} (bank reference "
                f"{w.provider_reference or '—'}) recorded by {w.recorded_by}: it becomes a deposit in the escrow "
                f"wallet of {ref}. Check it on the bank statement first; you must not be the one who recorded it."
            )
        return f"Refuse the wire of {amount} recorded on {ref}: nothing is put in the wallet."

    return describe


@admin.register(ManualDeposit)
class ManualDepositAdmin(ReadOnlyAdmin):
    """Wires entered by hand above the threshold: a second operator (never the recorder) confirms."""

    list_display = ["transaction", "kind", "money", "status", "provider_reference", "recorded_by", "decided_by",
                    "created_at"]  # fmt: skip
    list_filter = ["status", "kind"]
    list_select_related = ["transaction", "recorded_by", "decided_by"]
    money_fields, money_currency = ["amount"], "transaction.currency"
    object_actions = ["confirm", "reject"]

    @display(description="amount", ordering="amount")
    def money(self, obj: ManualDeposit) -> str:
        return _money(obj.amount, obj.transaction.currency)

    @object_action(label="Confirm the deposit (second person)", describe=_wire_text("confirm"), available=_pending)
    def confirm(self, request: HttpRequest, row: ManualDeposit, form: ReasonForm) -> str:
        services.manual_deposit_confirm(manual_deposit_id=row.pk, actor=request.user)
        return f"{row.transaction.reference}: wire confirmed and recorded in the wallet."

    @object_action(label="Reject the deposit", describe=_wire_text("reject"), available=_pending, danger=True)
    def reject(self, request: HttpRequest, row: ManualDeposit, form: ReasonForm) -> str:
        services.manual_deposit_reject(manual_deposit_id=row.pk, actor=request.user, reason=form.cleaned_data["reason"])
        return f"{row.transaction.reference}: wire rejected; nothing moved."
