"""Operator console for the ledger: read-only views; every change is a confirmed button calling a service."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html
from unfold.decorators import display

from escrow_project.common.admin import (
    QueueFilter,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ReasonForm,
    actor_link,
    console_money,
    object_action,
    register_subject,
)
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
from ledger.models.reconciliation import BreakStatus
from ledger.selectors import AGE_BUCKETS, break_age_bucket
from ledger.services.payouts import PAYOUT_STALE_AFTER
from ledger.states import PAYOUT_OPEN, PayoutStatus

register_subject("reconciliation_run", ReconciliationRun, "public_id")  # breaks' events (ledger.selectors)


def _actor(request: HttpRequest) -> str:
    return f"user:{request.user.pk}"


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


def _amount(obj: Any) -> str:
    return console_money(obj.amount, obj.currency)


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
    object_actions = ["check_invariants"]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method == "GET":
            _invariant_status(request)
        return super().changelist_view(request, extra_context)

    @object_action(
        label="Run the ledger invariant check",
        describe=lambda a: (
            "Check every invariant of the whole ledger now (balanced entries, balances equal "
            "their lines, holds within balances) and store the run; nothing in the books changes."
        ),
    )
    def check_invariants(self, request: HttpRequest, account: Account, form: ReasonForm) -> str:
        report = services.invariants_run()
        if report.ok:
            return f"Invariants hold ({report.accounts_checked} accounts)."
        messages.error(request, f"{len(report.breaches)} breach(es): {report.breaches[:5]}")
        return "The check ran and found breaches."


class JournalLineInline(ReadOnlyInline):
    model = JournalLine
    fields = ["account", "side", "amount", "currency", "posted_debits_after", "posted_credits_after"]
    readonly_fields = fields
    money_fields = ["amount"]


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "idempotency_key", "description", "reverses", "created_at"]
    list_filter = ["kind"]
    search_fields = ["idempotency_key", "=public_id"]
    inlines = [JournalLineInline]
    date_hierarchy = "created_at"


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    money_fields = ["amount"]
    list_display = ["id", "debit_account", "credit_account", "money", "status", "expires_at", "created_at"]
    list_filter = ["status", "currency"]
    search_fields = ["idempotency_key", "=public_id"]

    @display(description="amount", ordering="amount")
    def money(self, obj: Hold) -> str:
        return _amount(obj)


class _PayoutQueue(QueueFilter):
    queues = {
        "stuck": ("Stuck (open past the stale time)",
                  lambda: Q(status__in=PAYOUT_OPEN, updated_at__lt=timezone.now() - PAYOUT_STALE_AFTER)),
        "failed": ("Failed or outcome unknown", lambda: Q(status__in=[PayoutStatus.FAILED, PayoutStatus.UNKNOWN])),
    }  # fmt: skip


@admin.register(PayoutIntent)
class PayoutIntentAdmin(ReadOnlyAdmin):
    money_fields = ["amount"]
    list_display = ["id", "account", "money", "rail", "status", "attempt", "created_at", "updated_at"]
    list_filter = [_PayoutQueue, "status", "rail", "currency"]
    search_fields = ["idempotency_key", "provider_reference", "=public_id"]
    exclude = ["beneficiary"]  # bank details stay out of list and detail pages
    object_actions = ["redispatch"]

    @display(description="amount", ordering="amount")
    def money(self, obj: PayoutIntent) -> str:
        return _amount(obj)

    @object_action(
        label="Re-dispatch the payout",
        describe=lambda p: (
            f"Send the payout of {_amount(p)} to the {p.rail} rail again with the same rail key "
            "(the rail answers the first attempt's outcome: it never pays twice)."
        ),
        available=lambda p: p.status in PAYOUT_OPEN,
        atomic=False,  # the rail is called: never inside our transaction
    )
    def redispatch(self, request: HttpRequest, payout: PayoutIntent, form: ReasonForm) -> str:
        # payout_dispatch itself skips a `sent` payout that is not stale yet (a send in progress).
        after = services.payout_dispatch(payout_id=payout.pk)
        if after.dispatch_count > payout.dispatch_count:
            return f"Payout {payout.public_id} dispatched: now {after.get_status_display().lower()}."
        return f"Payout {payout.public_id} was not sent again: a send is in progress or it is settled."


@admin.register(InvariantRun)
class InvariantRunAdmin(ReadOnlyAdmin):
    list_display = ["checked_at", "ok", "duration_ms"]
    list_filter = ["ok"]


@admin.register(RailPayment)
class RailPaymentAdmin(ReadOnlyAdmin):
    """Payments in at a rail; `applied` false with an error is money at the rail an owner refused."""

    list_display = [
        "public_id", "rail", "purpose", "money", "status", "applied", "amount_refunded", "created_at"
    ]  # fmt: skip
    list_filter = ["rail", "status", "applied", "purpose"]
    search_fields = ["reference", "subject_id"]
    money_fields = ["amount", "amount_refunded"]
    object_actions = ["refund_unapplied"]

    @display(description="amount", ordering="amount")
    def money(self, obj: RailPayment) -> str:
        return _amount(obj)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method == "GET":
            _rail_status(request)
        return super().changelist_view(request, extra_context)

    @object_action(
        label="Refund to the payer",
        describe=lambda p: (
            f"Refund {console_money(p.amount - p.amount_refunded, p.currency)} to the payer through the {p.rail} "
            f"rail (payment {p.reference}): money the rail took and the platform never credited."
        ),
        available=lambda p: p.status == "succeeded" and not p.applied and p.amount_refunded < p.amount,
        danger=True,
        atomic=False,  # the rail is called: never inside our transaction
    )
    def refund_unapplied(self, request: HttpRequest, payment: RailPayment, form: ReasonForm) -> str:
        services.rail_payment_refund_unapplied(payment_id=payment.pk, actor=_actor(request))
        return f"{payment.public_id}: refunded to the payer."


@admin.register(RailEvent)
class RailEventAdmin(ReadOnlyAdmin):
    """Every verified rail event with its verdict (received, applied, recorded, ignored, ...)."""

    list_display = ["received_at", "rail", "type", "event_id", "verdict", "detail", "livemode"]
    list_filter = ["rail", "verdict", "type"]
    search_fields = ["event_id"]


def _pending(row: Any) -> bool:
    return bool(row.status == "pending")


@admin.register(OperatorEntryRequest)
class OperatorEntryRequestAdmin(ReadOnlyAdmin):
    """Money recorded by hand above LEDGER_FOUR_EYES_ABOVE: a second operator approves or rejects."""

    money_fields = ["amount"]

    list_display = ["kind", "account", "money", "status", "requester", "decider", "created_at"]
    list_filter = ["status", "kind"]
    object_actions = ["confirm", "reject"]

    @display(description="amount", ordering="amount")
    def money(self, obj: OperatorEntryRequest) -> str:
        return _amount(obj)

    @display(description="requested by")
    def requester(self, obj: Any) -> str:
        return actor_link(obj.requested_by, self.admin_site)

    @display(description="decided by")
    def decider(self, obj: Any) -> str:
        return actor_link(obj.decided_by, self.admin_site)

    @object_action(
        label="Approve and post (second person)",
        describe=lambda r: (
            f"Post the {r.get_kind_display().lower()} of {_amount(r)} on account {r.account_id} "
            f"requested by {r.requested_by}. You must not be the one who asked for it."
        ),
        available=_pending,
    )
    def confirm(self, request: HttpRequest, row: OperatorEntryRequest, form: ReasonForm) -> str:
        services.operator_entry_approve(request_id=row.pk, actor=_actor(request))
        return "Approved and posted."

    @object_action(
        label="Reject",
        describe=lambda r: f"Refuse the {r.get_kind_display().lower()} of {_amount(r)}: nothing is posted.",
        available=_pending,
        danger=True,
    )
    def reject(self, request: HttpRequest, row: OperatorEntryRequest, form: ReasonForm) -> str:
        services.operator_entry_reject(request_id=row.pk, actor=_actor(request), reason=form.cleaned_data["reason"])
        return "Rejected; nothing was posted."


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    """Each comparison with a counterparty's statement; reports as CSV and PDF through the API."""

    list_display = ["kind", "counterparty_name", "statement_name", "period_start", "line_count", "break_count",
                    "created_at", "reports"]  # fmt: skip
    list_filter = ["kind", "business"]
    search_fields = ["statement_name", "counterparty_name", "counterparty", "public_id"]

    @display(description="reports")
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


def _diff(b: ReconciliationBreak) -> str:
    return console_money(b.line.difference, b.line.currency) if b.line.difference is not None else "—"


def _open(b: ReconciliationBreak) -> bool:
    return b.status == BreakStatus.OPEN


@admin.register(ReconciliationBreak)
class ReconciliationBreakAdmin(ReadOnlyAdmin):
    """Breaks to work. Resolving with a correction is done through the API; the console assigns,
    accepts or raises, and a second operator approves or rejects write-offs."""

    list_display = ["public_id", "run", "outcomes", "difference", "status", "age", "assigned_to", "reason_code",
                    "requester", "decider"]  # fmt: skip
    list_filter = ["status", "run__business", "reason_code", _AgeFilter, _OutcomeFilter]
    search_fields = ["public_id", "assignee", "line__reference", "line__our_source", "line__their_source"]
    list_select_related = ["run", "line"]
    object_actions = ["assign_to_me", "raise_with_counterparty", "accept_difference", "confirm", "reject"]

    @display(description="classes")
    def outcomes(self, obj: ReconciliationBreak) -> str:
        return " ".join(obj.line.outcome_list)

    @display(description="difference")
    def difference(self, obj: ReconciliationBreak) -> str:
        return _diff(obj)

    @display(description="age")
    def age(self, obj: ReconciliationBreak) -> str:
        return break_age_bucket(opened_at=obj.opened_at)

    @display(description="assignee")
    def assigned_to(self, obj: ReconciliationBreak) -> str:
        return actor_link(obj.assignee, self.admin_site)

    requester = OperatorEntryRequestAdmin.requester
    decider = OperatorEntryRequestAdmin.decider

    @object_action(
        label="Assign to me",
        describe=lambda b: f"Take the break {b.public_id} (difference {_diff(b)}) to work it yourself.",
        available=_open,
    )
    def assign_to_me(self, request: HttpRequest, row: ReconciliationBreak, form: ReasonForm) -> str:
        services.break_assign(break_id=row.pk, assignee=_actor(request), actor=_actor(request))
        return f"Break {row.public_id} assigned to you."

    @object_action(
        label="Resolve: raised with the counterparty",
        describe=lambda b: (
            f"Close the break {b.public_id} (difference {_diff(b)}) as raised with the insurer or "
            "rail; your reason is its note. Nothing is posted."
        ),
        available=_open,
    )
    def raise_with_counterparty(self, request: HttpRequest, row: ReconciliationBreak, form: ReasonForm) -> str:
        return self._resolve(request, row, form, "raised_with_counterparty")

    @object_action(
        label="Resolve: accept the difference",
        describe=lambda b: (
            f"Accept the difference of {_diff(b)} on break {b.public_id} as it is (a write-off "
            "without correction); your reason is its note. A write-off may wait for a second person."
        ),
        available=_open,
        danger=True,
    )
    def accept_difference(self, request: HttpRequest, row: ReconciliationBreak, form: ReasonForm) -> str:
        return self._resolve(request, row, form, "accepted_difference")

    @object_action(
        label="Approve the write-off (second person)",
        describe=lambda b: (
            f"Approve the write-off of {_diff(b)} on break {b.public_id} requested by "
            f"{b.requested_by}: its correction (if any) is posted and the break resolved. Not by the requester."
        ),
        available=_pending,
        danger=True,
    )
    def confirm(self, request: HttpRequest, row: ReconciliationBreak, form: ReasonForm) -> str:
        services.break_write_off_approve(break_id=row.pk, actor=_actor(request))
        return f"Break {row.public_id}: write-off approved."

    @object_action(
        label="Reject the write-off",
        describe=lambda b: f"Refuse the write-off on break {b.public_id}: the break is open again, nothing posted.",
        available=_pending,
    )
    def reject(self, request: HttpRequest, row: ReconciliationBreak, form: ReasonForm) -> str:
        services.break_write_off_reject(break_id=row.pk, actor=_actor(request), reason=form.cleaned_data["reason"])
        return f"Break {row.public_id}: write-off rejected; the break is open again."

    def _resolve(self, request: HttpRequest, row: ReconciliationBreak, form: ReasonForm, code: str) -> str:
        services.break_resolve(break_id=row.pk, actor=_actor(request), reason_code=code,
                               note=form.cleaned_data["reason"])  # fmt: skip
        row.refresh_from_db()
        return f"Break {row.public_id}: {row.get_status_display().lower()}."
