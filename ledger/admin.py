"""Operator console for the ledger: read-only views; actions call services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from escrow_project.common.admin import ReadOnlyAdmin, SecondPersonActions
from escrow_project.common.errors import DomainError
from ledger import services
from ledger.models import (
    Account,
    Hold,
    InvariantRun,
    JournalEntry,
    JournalLine,
    OperatorEntryRequest,
    PayoutIntent,
    RailEvent,
    RailPayment,
)
from ledger.states import PAYOUT_OPEN


def _invariant_status(request: HttpRequest) -> None:
    last = InvariantRun.objects.first()
    if last is None:
        messages.warning(request, "The ledger invariant check has not run yet.")
    elif last.ok:
        messages.info(request, f"Ledger invariants held at the last check ({last.checked_at:%Y-%m-%d %H:%M:%S} UTC).")
    else:
        messages.error(
            request, f"LEDGER INVARIANTS BREACHED at {last.checked_at:%Y-%m-%d %H:%M:%S}: {last.breaches[:3]}"
        )


def _rail_status(request: HttpRequest) -> None:
    """Which rail moves money, and (for Stripe) this process's circuit breaker and retry policy."""
    from django.conf import settings

    from ledger.rails import rail_get

    if settings.PAYMENT_RAIL != "stripe":
        messages.info(request, f"Payment rail: {settings.PAYMENT_RAIL} (sandbox: no real money moves).")
        return
    breaker = getattr(rail_get("stripe"), "breaker", None)
    state = breaker.describe() if breaker is not None else "unknown"
    level = messages.error if breaker is not None and breaker.is_open else messages.info
    level(
        request,
        f"Payment rail: Stripe ({'live' if settings.STRIPE_LIVE_MODE else 'test'} mode). Circuit breaker {state}; "
        f"each call retried {settings.STRIPE_MAX_NETWORK_RETRIES} times with backoff. Calls by outcome: "
        "stripe_calls_total on /metrics.",
    )


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "owner_type",
        "owner_id",
        "purpose",
        "currency",
        "normal_side",
        "posted_debits",
        "posted_credits",
        "pending_debits",
        "pending_credits",
        "closed_at",
    ]
    list_filter = ["currency", "normal_side", "owner_type", "purpose"]
    search_fields = ["owner_id", "name", "=public_id"]
    actions = ["check_invariants"]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method == "GET":
            _invariant_status(request)
        return super().changelist_view(request, extra_context)

    @admin.action(description="Run the ledger invariant check now (whole ledger)")
    def check_invariants(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        report = services.invariants_run()
        if report.ok:
            self.message_user(request, f"Invariants hold ({report.accounts_checked} accounts).", messages.SUCCESS)
        else:
            self.message_user(request, f"{len(report.breaches)} breach(es): {report.breaches[:5]}", messages.ERROR)


class JournalLineInline(admin.TabularInline[JournalLine, JournalEntry]):
    model = JournalLine
    fields = ["account", "side", "amount", "currency", "posted_debits_after", "posted_credits_after"]
    readonly_fields = ["account", "side", "amount", "currency", "posted_debits_after", "posted_credits_after"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "idempotency_key", "description", "reverses", "created_at"]
    list_filter = ["kind"]
    search_fields = ["idempotency_key", "=public_id"]
    inlines = [JournalLineInline]
    date_hierarchy = "created_at"


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ["id", "debit_account", "credit_account", "amount", "currency", "status", "expires_at", "created_at"]
    list_filter = ["status", "currency"]
    search_fields = ["idempotency_key", "=public_id"]


@admin.register(PayoutIntent)
class PayoutIntentAdmin(ReadOnlyAdmin):
    list_display = ["id", "account", "amount", "currency", "rail", "status", "attempt", "created_at"]
    list_filter = ["status", "rail", "currency"]
    search_fields = ["idempotency_key", "provider_reference", "=public_id"]
    exclude = ["beneficiary"]  # bank details stay out of list and detail pages
    actions = ["redispatch"]

    @admin.action(description="Re-dispatch requested, unknown or stale sent payouts (same rail key: never pays twice)")
    def redispatch(self, request: HttpRequest, queryset: QuerySet[PayoutIntent]) -> None:
        count = 0
        for payout in queryset.filter(status__in=PAYOUT_OPEN):
            # payout_dispatch itself skips a `sent` payout that is not stale yet (a send in progress).
            if services.payout_dispatch(payout_id=payout.pk).dispatch_count > payout.dispatch_count:
                count += 1
        self.message_user(request, f"{count} payout(s) dispatched.", messages.SUCCESS)


@admin.register(InvariantRun)
class InvariantRunAdmin(ReadOnlyAdmin):
    list_display = ["checked_at", "ok", "duration_ms"]
    list_filter = ["ok"]


@admin.register(RailPayment)
class RailPaymentAdmin(ReadOnlyAdmin):
    """Payments in at a rail; `applied` false with an error is money at the rail an owner refused."""

    list_display = [
        "public_id", "rail", "purpose", "amount", "currency", "status", "applied", "amount_refunded", "created_at"
    ]  # fmt: skip
    list_filter = ["rail", "status", "applied", "purpose"]
    search_fields = ["reference", "subject_id"]
    actions = ["refund_unapplied"]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method == "GET":
            _rail_status(request)
        return super().changelist_view(request, extra_context)

    @admin.action(description="Refund to the payer (money the platform did not credit)")
    def refund_unapplied(self, request: HttpRequest, queryset: QuerySet[RailPayment]) -> None:
        for payment in queryset:
            try:
                services.rail_payment_refund_unapplied(payment_id=payment.pk, actor=f"user:{request.user.pk}")
                self.message_user(request, f"{payment.public_id}: refunded to the payer.", messages.SUCCESS)
            except DomainError as exc:
                self.message_user(request, f"{payment.public_id}: {exc.detail}", messages.ERROR)


@admin.register(RailEvent)
class RailEventAdmin(ReadOnlyAdmin):
    """Every verified rail event with its verdict (received, applied, recorded, ignored, ...)."""

    list_display = ["received_at", "rail", "type", "event_id", "verdict", "detail", "livemode"]
    list_filter = ["rail", "verdict", "type"]
    search_fields = ["event_id"]


@admin.register(OperatorEntryRequest)
class OperatorEntryRequestAdmin(SecondPersonActions, ReadOnlyAdmin):
    """Money recorded by hand above LEDGER_FOUR_EYES_ABOVE: a second operator approves or rejects."""

    list_display = ["kind", "account", "amount", "currency", "status", "requested_by", "decided_by", "created_at"]
    list_filter = ["status", "kind"]
    confirmed_message = "approved and posted"

    def confirm_one(self, request: HttpRequest, row: OperatorEntryRequest) -> None:
        services.operator_entry_approve(request_id=row.pk, actor=f"user:{request.user.pk}")

    def reject_one(self, request: HttpRequest, row: OperatorEntryRequest) -> None:
        services.operator_entry_reject(request_id=row.pk, actor=f"user:{request.user.pk}", reason="operator console")
