"""Operator console for escrow: read-only records; every change is an action calling a service."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from escrow_project.common.admin import SecondPersonActions
from escrow_project.common.admin_masking import MaskedFieldsAdminMixin
from escrow_project.common.errors import DomainError
from transactions import services
from transactions.models import (
    BankDetailsChange,
    Dispute,
    EscrowTransaction,
    ManualDeposit,
    Milestone,
    PayeeProfile,
    Payment,
    PlatformControl,
    SettlementStatement,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.fields]


def _each(admin_view: Any, request: HttpRequest, objects: Any, call: Any) -> None:
    done = 0
    for obj in objects:
        try:
            call(obj)
            done += 1
        except DomainError as exc:
            admin_view.message_user(request, f"{obj}: {exc.detail}", messages.ERROR)
    if done:
        admin_view.message_user(request, f"{done} done.", messages.SUCCESS)


class MilestoneInline(admin.TabularInline[Milestone, EscrowTransaction]):
    model = Milestone
    fields = ["verification_type", "amount", "payee", "status", "earned_at", "released_at"]
    readonly_fields = ["verification_type", "amount", "payee", "status", "earned_at", "released_at"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PaymentInline(admin.TabularInline[Payment, EscrowTransaction]):
    model = Payment
    fields = ["label", "payee", "amount", "status", "blocked_reason", "attempts", "failure_reason"]
    readonly_fields = ["label", "payee", "amount", "status", "blocked_reason", "attempts", "failure_reason"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DisputeInline(admin.TabularInline[Dispute, EscrowTransaction]):
    model = Dispute
    fields = ["status", "reason", "resolution", "created_at"]
    readonly_fields = ["status", "reason", "resolution", "created_at"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(EscrowTransaction)
class EscrowTransactionAdmin(ReadOnlyAdmin):
    list_display = ["reference", "property_address", "status", "purchase_price", "currency", "paused", "closing_date"]
    list_filter = ["status", "paused", "currency"]
    search_fields = ["reference", "property_address"]
    inlines = [MilestoneInline, PaymentInline, DisputeInline]
    actions = ["approve_settlement", "execute_settlement", "pause", "resume"]

    @admin.action(description="Approve the settlement (one operator signature)")
    def approve_settlement(self, request: HttpRequest, queryset: QuerySet[EscrowTransaction]) -> None:
        _each(
            self, request, queryset, lambda t: services.settlement_approve(transaction_id=t.pk, operator=request.user)
        )

    @admin.action(description="Execute the settlement")
    def execute_settlement(self, request: HttpRequest, queryset: QuerySet[EscrowTransaction]) -> None:
        _each(self, request, queryset, lambda t: services.settlement_execute(transaction_id=t.pk, actor=request.user))

    @admin.action(description="Pause payouts of these transactions")
    def pause(self, request: HttpRequest, queryset: QuerySet[EscrowTransaction]) -> None:
        _each(
            self,
            request,
            queryset,
            lambda t: services.escrow_pause(transaction_id=t.pk, actor=request.user, paused=True, reason="operator"),
        )

    @admin.action(description="Resume payouts of these transactions")
    def resume(self, request: HttpRequest, queryset: QuerySet[EscrowTransaction]) -> None:
        _each(
            self,
            request,
            queryset,
            lambda t: services.escrow_pause(transaction_id=t.pk, actor=request.user, paused=False),
        )


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "transaction", "kind", "label", "payee", "amount", "status", "attempts"]
    list_filter = ["status", "kind"]
    actions = ["retry"]

    @admin.action(description="Retry failed payouts")
    def retry(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        _each(self, request, queryset, lambda p: services.payment_retry(payment_id=p.pk, actor=request.user))


@admin.register(SettlementStatement)
class SettlementAdmin(ReadOnlyAdmin):
    list_display = ["transaction", "status", "total_disbursed", "approvals_required", "unlock_at", "executed_at"]
    list_filter = ["status"]


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "transaction", "status", "resolution", "created_at"]
    list_filter = ["status", "resolution"]
    actions = ["refund", "release", "dismiss"]

    @admin.action(description="Resolve: refund the remaining funds to the buyer")
    def refund(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> None:
        _each(
            self,
            request,
            queryset,
            lambda d: services.dispute_resolve(dispute_id=d.pk, actor=request.user, resolution="refund"),
        )

    @admin.action(description="Resolve: release the remaining funds to the seller")
    def release(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> None:
        _each(
            self,
            request,
            queryset,
            lambda d: services.dispute_resolve(dispute_id=d.pk, actor=request.user, resolution="release"),
        )

    @admin.action(description="Dismiss (the transaction resumes)")
    def dismiss(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> None:
        _each(self, request, queryset, lambda d: services.dispute_dismiss(dispute_id=d.pk, actor=request.user))


@admin.register(PlatformControl)
class PlatformControlAdmin(ReadOnlyAdmin):
    """The emergency switch: its state here, its history in the audit trail (escrow_platform_control/payouts)."""

    list_display = ["__str__", "payouts_paused", "reason", "changed_by", "changed_at"]
    actions = ["pause_all", "resume_all"]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        # The single row must exist to be shown and selected for the actions, even before anyone paused.
        PlatformControl.objects.get_or_create(pk=1)
        return super().changelist_view(request, extra_context)

    @admin.action(description="EMERGENCY: pause every escrow payout")
    def pause_all(self, request: HttpRequest, queryset: QuerySet[PlatformControl]) -> None:
        services.payouts_pause_all(actor=request.user, paused=True, reason="operator console")
        self.message_user(request, "All escrow payouts are paused.", messages.WARNING)

    @admin.action(description="Resume escrow payouts")
    def resume_all(self, request: HttpRequest, queryset: QuerySet[PlatformControl]) -> None:
        services.payouts_pause_all(actor=request.user, paused=False)
        self.message_user(request, "Escrow payouts resumed.", messages.SUCCESS)


@admin.register(PayeeProfile)
class PayeeProfileAdmin(MaskedFieldsAdminMixin, ReadOnlyAdmin):
    masked_fields = ("bank_details",)
    list_display = ["organization", "masked_bank_details", "bank_details_changed_at", "cooling_off_until"]


@admin.register(BankDetailsChange)
class BankDetailsChangeAdmin(SecondPersonActions, MaskedFieldsAdminMixin, ReadOnlyAdmin):
    """Proposed payout-detail changes: an operator may be the second person (never the proposer)."""

    masked_fields = ("bank_details",)
    list_display = ["organization", "status", "masked_bank_details", "proposed_by", "decided_by", "created_at"]
    list_filter = ["status"]
    confirmed_message = "confirmed; the cooling-off applies"

    def confirm_one(self, request: HttpRequest, row: BankDetailsChange) -> None:
        services.payee_bank_details_confirm(change_id=row.pk, actor=request.user)

    def reject_one(self, request: HttpRequest, row: BankDetailsChange) -> None:
        services.payee_bank_details_reject(change_id=row.pk, actor=request.user, reason="operator console")


@admin.register(ManualDeposit)
class ManualDepositAdmin(SecondPersonActions, ReadOnlyAdmin):
    """Wires entered by hand above the threshold: a second operator (never the recorder) confirms."""

    list_display = [
        "transaction",
        "kind",
        "amount",
        "status",
        "provider_reference",
        "recorded_by",
        "decided_by",
        "created_at",
    ]
    list_filter = ["status", "kind"]
    confirmed_message = "confirmed and recorded in the wallet"

    def confirm_one(self, request: HttpRequest, row: ManualDeposit) -> None:
        services.manual_deposit_confirm(manual_deposit_id=row.pk, actor=request.user)

    def reject_one(self, request: HttpRequest, row: ManualDeposit) -> None:
        services.manual_deposit_reject(manual_deposit_id=row.pk, actor=request.user, reason="operator console")
