"""The console's front page: work queues with counts, each linking to the filtered list to clear.

Every count is a plain query on the owning app's tables (one per queue, indexed columns), run when
an operator opens the index; nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from endorsements.models import Batch, Dispatch, EndorsementRequest, InboundFile
from endorsements.states import RequestState
from ledger.models import OperatorEntryRequest, PayoutIntent, ReconciliationBreak
from ledger.models.reconciliation import BreakStatus
from ledger.services.payouts import PAYOUT_STALE_AFTER
from ledger.states import PAYOUT_OPEN, PayoutStatus
from notifications.models import ChannelCircuit, CircuitState, Notification, NotificationStatus
from transactions.models import (
    BankDetailsChange,
    Dispute,
    DisputeStatus,
    EscrowTransaction,
    ManualDeposit,
    Payment,
    PaymentStatus,
    PlatformControl,
    SettlementStatement,
    SettlementStatus,
)


@dataclass(frozen=True)
class Queue:
    key: str
    title: str
    count: int
    url: str
    hint: str

    @property
    def tone(self) -> str:
        return "clear" if self.count == 0 else "work"


@dataclass(frozen=True)
class Status:
    key: str
    title: str
    state: str
    alarm: bool
    url: str
    hint: str


def _list(model_admin: str, query: str = "") -> str:
    url = reverse(f"admin:{model_admin}_changelist")
    return f"{url}?{query}" if query else url


def settlements_due() -> int:
    due = Q(status=SettlementStatus.AWAITING_APPROVAL) | Q(
        status=SettlementStatus.TIME_LOCKED, unlock_at__lte=timezone.now()
    )
    return SettlementStatement.objects.filter(due).count()


def stuck_payouts() -> int:
    stale = timezone.now() - PAYOUT_STALE_AFTER
    return PayoutIntent.objects.filter(status__in=PAYOUT_OPEN, updated_at__lt=stale).count()


def work_queues() -> list[Queue]:
    """The queues operators clear, in the order money is at stake."""
    q = Queue
    return [
        q("approvals", "Settlement approvals due", settlements_due(),
          _list("transactions_settlementstatement", "queue=due"),
          "Large settlements waiting for operators' signatures, or approved with the time lock over."),
        q("disputes", "Disputes open", open_disputes(),
          _list("transactions_dispute", "status__exact=open"), "Funds frozen until an operator resolves them."),
        q("manual_deposits", "Manual deposits to confirm",
          ManualDeposit.objects.filter(status="pending").count(),
          _list("transactions_manualdeposit", "status__exact=pending"),
          "Wires entered by hand: a second operator confirms each against the bank statement."),
        q("bank_details", "Bank-detail changes to confirm",
          BankDetailsChange.objects.filter(status="pending").count(),
          _list("transactions_bankdetailschange", "status__exact=pending"), "Four eyes on payout details."),
        q("payments_failed", "Escrow payouts failed", Payment.objects.filter(status=PaymentStatus.FAILED).count(),
          _list("transactions_payment", "status__exact=failed"), "Retry once the payee's details are right."),
        q("payouts_stuck", "Rail payouts stuck", stuck_payouts(), _list("ledger_payoutintent", "queue=stuck"),
          "Sent or requested but unanswered past the stale time: re-dispatch (same rail key)."),
        q("payouts_unknown", "Rail payouts failed or unknown",
          PayoutIntent.objects.filter(status__in=[PayoutStatus.FAILED, PayoutStatus.UNKNOWN]).count(),
          _list("ledger_payoutintent", "queue=failed"), "The rail refused or did not say."),
        q("breaks", "Reconciliation breaks open", ReconciliationBreak.objects.filter(status=BreakStatus.OPEN).count(),
          _list("ledger_reconciliationbreak", "status__exact=open"), "Differences with an insurer or rail statement."),
        q("write_offs", "Write-offs to approve",
          ReconciliationBreak.objects.filter(status=BreakStatus.PENDING).count(),
          _list("ledger_reconciliationbreak", "status__exact=pending"), "A second person approves each write-off."),
        q("operator_entries", "Ledger entries to approve",
          OperatorEntryRequest.objects.filter(status="pending").count(),
          _list("ledger_operatorentryrequest", "status__exact=pending"), "Money recorded by hand above the limit."),
        q("parked", "Endorsements parked (short of funds)",
          EndorsementRequest.objects.filter(state=RequestState.ON_HOLD_FUNDS).count(),
          _list("endorsements_parkedrequest"), "Waiting for the employer's top-up; wake them once it arrived."),
        q("held_batches", "Files held by the velocity breaker", Batch.objects.filter(status=Batch.Status.HELD).count(),
          _list("endorsements_heldbatch"), "Check with the employer, then release or reject."),
        q("dead_endorsements", "Dead-lettered endorsements",
          EndorsementRequest.objects.filter(state=RequestState.DEAD_LETTER).count(),
          _list("endorsements_deadletterrequest"), "Retry in the next window or cancel."),
        q("dead_dispatches", "Dead-lettered insurer deliveries",
          Dispatch.objects.filter(status=Dispatch.Status.DEAD_LETTER).count(),
          _list("endorsements_dispatch", "status__exact=dead_letter"), "Deliveries the gateway gave up on."),
        q("dead_inbound", "Unreadable insurer files",
          InboundFile.objects.filter(status=InboundFile.Status.DEAD_LETTER).count(),
          _list("endorsements_inboundfile", "status__exact=dead_letter"), "Files from insurers we could not read."),
        q("dead_notifications", "Notifications failed",
          Notification.objects.filter(status=NotificationStatus.FAILED).exclude(channel="webhook").count(),
          _list("notifications_notification", "status__exact=failed"), "E-mail and SMS that ran out of attempts."),
        q("dead_webhooks", "Webhook deliveries failed",
          Notification.objects.filter(status=NotificationStatus.FAILED, channel="webhook").count(),
          _list("notifications_notification", "status__exact=failed&channel__exact=webhook"),
          "Partner endpoints that kept refusing."),
    ]  # fmt: skip


def _rail_breaker() -> Status:
    from ledger.rails import rail_get

    url = _list("ledger_railpayment")
    if settings.PAYMENT_RAIL != "stripe":
        return Status("rail", "Payment rail", f"{settings.PAYMENT_RAIL} (sandbox)", False, url, "No real money moves.")
    breaker = getattr(rail_get("stripe"), "breaker", None)
    if breaker is None:
        return Status("rail", "Stripe circuit breaker", "unknown", False, url, "")
    return Status("rail", "Stripe circuit breaker", breaker.describe(), bool(breaker.is_open), url,
                  "This process's view; calls by outcome on /metrics.")  # fmt: skip


def switches() -> list[Status]:
    """Breakers and the pause switch: the states that stop money or messages platform-wide."""
    control = PlatformControl.objects.filter(pk=1).first()
    paused_all = bool(control and control.payouts_paused)
    paused_one = EscrowTransaction.objects.filter(paused=True).count()
    open_circuits = list(ChannelCircuit.objects.exclude(state=CircuitState.CLOSED).values_list("channel", flat=True))
    control_url = reverse("admin:transactions_platformcontrol_change", args=[1])
    return [
        Status("pause", "Payout pause switch", "ALL PAYOUTS PAUSED" if paused_all else "Payouts running", paused_all,
               control_url, (control.reason if paused_all and control else "The emergency switch for every payout.")),
        Status("paused_transactions", "Transactions paused", str(paused_one), paused_one > 0,
               _list("transactions_escrowtransaction", "paused__exact=1"), "Paused one by one by an operator."),
        Status("circuits", "Channel circuit breakers",
               ("open: " + ", ".join(open_circuits)) if open_circuits else "all closed", bool(open_circuits),
               _list("notifications_channelcircuit"), "E-mail, SMS and webhook delivery breakers."),
        _rail_breaker(),
    ]  # fmt: skip


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """UNFOLD["DASHBOARD_CALLBACK"]: the admin index's context gets the queues and switches."""
    # Queues with work first (on a phone the list is long), each group in the order of work_queues().
    queues = sorted(work_queues(), key=lambda q: q.count == 0)
    context.update(
        {
            "queues": queues,
            "queues_open": sum(1 for q in queues if q.count),
            "switches": switches(),
            "now": timezone.now(),
        }
    )
    return context


def open_disputes() -> int:
    return Dispute.objects.filter(status=DisputeStatus.OPEN).count()


def parked_requests() -> int:
    return EndorsementRequest.objects.filter(state=RequestState.ON_HOLD_FUNDS).count()


def open_breaks() -> int:
    return ReconciliationBreak.objects.filter(status=BreakStatus.OPEN).count()
