"""Operator console for the ledger: read-only views; actions call services."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html

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
    ReconciliationBreak,
    ReconciliationLine,
    ReconciliationRun,
)
from ledger.selectors import AGE_BUCKETS, break_age_bucket
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


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    """Each comparison with a counterparty's statement; reports as CSV and PDF through the API."""

    list_display = ["kind", "counterparty_name", "statement_name", "period_start", "line_count", "break_count",
                    "created_at", "reports"]  # fmt: skip
    list_filter = ["kind", "business"]
    search_fields = ["statement_name", "counterparty_name", "counterparty", "public_id"]

    @admin.display(description="reports")
    def reports(self, obj: ReconciliationRun) -> str:
        base = f"/api/v1/ledger/reconciliation/runs/{obj.public_id}"
        return format_html('<a href="{}/report.csv">CSV</a> · <a href="{}/report.pdf">PDF</a>', base, base)


class _OutcomeFilter(admin.SimpleListFilter):
    title = "class"
    parameter_name = "outcome"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from ledger.reconciliation import Outcome

        return [(o.value, o.value) for o in Outcome]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.value():
            return queryset
        field = "outcomes" if queryset.model is ReconciliationLine else "line__outcomes"
        return queryset.filter(**{f"{field}__contains": f",{self.value()},"})


@admin.register(ReconciliationLine)
class ReconciliationLineAdmin(ReadOnlyAdmin):
    list_display = ["run", "position", "outcomes", "reference", "our_amount", "their_amount", "difference",
                    "our_date", "their_date", "our_source", "their_source"]  # fmt: skip
    list_filter = [_OutcomeFilter, "is_break", "run__kind"]
    search_fields = ["reference", "our_source", "their_source"]
    list_select_related = ["run"]


class _AgeFilter(admin.SimpleListFilter):
    title = "age (days open)"
    parameter_name = "age"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, name) for name, _low, _high in AGE_BUCKETS]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        bucket = next((b for b in AGE_BUCKETS if b[0] == self.value()), None)
        if bucket is None:
            return queryset
        today, (_name, low, high) = timezone.now().date(), bucket
        start = datetime.datetime.combine(today - datetime.timedelta(days=low - 1), datetime.time.min, datetime.UTC)
        queryset = queryset.filter(opened_at__lt=start)
        if high is not None:
            end = datetime.datetime.combine(today - datetime.timedelta(days=high), datetime.time.min, datetime.UTC)
            queryset = queryset.filter(opened_at__gte=end)
        return queryset


@admin.register(ReconciliationBreak)
class ReconciliationBreakAdmin(SecondPersonActions, ReadOnlyAdmin):
    """Breaks to work. Resolving with a note or a correction is done through the API; the console
    assigns, accepts or raises, and a second operator approves or rejects write-offs."""

    list_display = ["public_id", "run", "outcomes", "difference", "status", "age", "assignee", "reason_code",
                    "requested_by", "decided_by"]  # fmt: skip
    list_filter = ["status", "run__business", "reason_code", _AgeFilter, _OutcomeFilter]
    search_fields = ["public_id", "assignee", "line__reference", "line__our_source", "line__their_source"]
    list_select_related = ["run", "line"]
    actions = ["confirm", "reject", "assign_to_me", "raise_with_counterparty", "accept_difference"]
    confirmed_message = "write-off approved"

    @admin.display(description="classes")
    def outcomes(self, obj: ReconciliationBreak) -> str:
        return " ".join(obj.line.outcome_list)

    @admin.display(description="difference")
    def difference(self, obj: ReconciliationBreak) -> str:
        return f"{obj.line.difference} {obj.line.currency}"

    @admin.display(description="age")
    def age(self, obj: ReconciliationBreak) -> str:
        return break_age_bucket(opened_at=obj.opened_at)

    def confirm_one(self, request: HttpRequest, row: ReconciliationBreak) -> None:
        services.break_write_off_approve(break_id=row.pk, actor=f"user:{request.user.pk}")

    def reject_one(self, request: HttpRequest, row: ReconciliationBreak) -> None:
        services.break_write_off_reject(break_id=row.pk, actor=f"user:{request.user.pk}", reason="operator console")

    @admin.action(description="Assign the selected breaks to me")
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[ReconciliationBreak]) -> None:
        actor = f"user:{request.user.pk}"
        self._each(request, queryset, "assigned", lambda r, row: services.break_assign(
            break_id=row.pk, assignee=actor, actor=actor))  # fmt: skip

    @admin.action(description="Resolve: raised with the insurer / rail")
    def raise_with_counterparty(self, request: HttpRequest, queryset: QuerySet[ReconciliationBreak]) -> None:
        self._resolve(request, queryset, "raised_with_counterparty")

    @admin.action(description="Resolve: accept the difference")
    def accept_difference(self, request: HttpRequest, queryset: QuerySet[ReconciliationBreak]) -> None:
        self._resolve(request, queryset, "accepted_difference")

    def _resolve(self, request: HttpRequest, queryset: QuerySet[ReconciliationBreak], code: str) -> None:
        actor = f"user:{request.user.pk}"
        self._each(request, queryset, "resolved", lambda r, row: services.break_resolve(
            break_id=row.pk, actor=actor, reason_code=code, note="resolved in the operator console"))  # fmt: skip
