"""What a party page says: who must act next, what, how much and by when; the step tracker; the
timeline; the statement. Plain language for people: no state names, no ledger words.

Reads only (selectors and pure computation); the views render it and the decisions call services.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from audit import selectors as audit_selectors
from escrow_project.common.display import format_day, format_money, format_when
from escrow_project.common.errors import DomainError
from escrow_project.common.money import quantize
from identity.selectors import user_is_operator
from transactions.models import (
    DepositKind,
    EscrowTransaction,
    MilestoneStatus,
    Payment,
    PaymentStatus,
    SettlementStatement,
)
from transactions.services import parties
from transactions.services._common import SUBJECT_TYPE
from transactions.states import DISPUTABLE, EscrowStatus
from verifications import selectors as verification_selectors
from verifications.models import VerificationTask
from verifications.states import TaskStatus

ROLE_LABELS = {
    "buyer": "Buyer",
    "seller": "Seller",
    "buyer_agent": "Buyer's agent",
    "seller_agent": "Seller's agent",
    "lender": "Lender",
    "escrow_company": "Escrow company",
    "escrow_officer": "Escrow officer",
    "verifier": "Verifier",
    "operator": "Operator",
}

# The lifecycle as parties follow it; the statuses each step covers.
STEPS: list[tuple[str, tuple[str, ...]]] = [
    ("Terms agreed", (EscrowStatus.DRAFT,)),
    ("Earnest money", (EscrowStatus.AWAITING_EARNEST_MONEY, EscrowStatus.FUNDED)),
    ("Verifications", (EscrowStatus.VERIFYING, EscrowStatus.NEEDS_DECISION)),
    ("Clear to close", (EscrowStatus.CLEAR_TO_CLOSE,)),
    ("Closing", (EscrowStatus.SETTLING,)),
    ("Settled", (EscrowStatus.SETTLED,)),
]

STATUS_TEXT: dict[str, str] = {
    EscrowStatus.DRAFT: "Draft",
    EscrowStatus.AWAITING_EARNEST_MONEY: "Awaiting earnest money",
    EscrowStatus.FUNDED: "Earnest money received",
    EscrowStatus.VERIFYING: "Verifications under way",
    EscrowStatus.NEEDS_DECISION: "Needs a decision",
    EscrowStatus.CLEAR_TO_CLOSE: "Clear to close",
    EscrowStatus.SETTLING: "Closing: paying everyone out",
    EscrowStatus.SETTLED: "Settled",
    EscrowStatus.CANCELLED: "Cancelled",
    EscrowStatus.DISPUTED: "Disputed: payments on hold",
    EscrowStatus.DISPUTE_RESOLVED: "Closed by the dispute's resolution",
}

MILESTONE_TEXT: dict[str, str] = {
    MilestoneStatus.PLANNED: "Not set aside yet",
    MilestoneStatus.HELD: "Set aside until the report is accepted",
    MilestoneStatus.EARNED: "Earned; paid as soon as nothing holds payments",
    MilestoneStatus.RELEASED: "Paid",
    MilestoneStatus.VOIDED: "Not owed (returned)",
}

PAYMENT_TEXT: dict[str, str] = {
    PaymentStatus.BLOCKED: "On hold",
    PaymentStatus.REQUESTED: "On its way",
    PaymentStatus.SUCCEEDED: "Paid",
    PaymentStatus.FAILED: "Failed; the escrow officer retries it",
}

TASK_TEXT: dict[str, str] = {
    TaskStatus.PENDING: "Waiting for earlier checks",
    TaskStatus.ASSIGNED: "Assigned, not started",
    TaskStatus.IN_PROGRESS: "In progress",
    TaskStatus.SUBMITTED: "Report received, being checked",
    TaskStatus.VERIFIED: "Passed",
    TaskStatus.REJECTED: "Did not pass",
    TaskStatus.FAILED: "Could not be done",
    TaskStatus.OVERDUE: "Overdue",
}

# Audit event kinds as a sentence; {type} is the verification's name.
EVENT_TEXT = {
    "escrow.created": "Escrow drawn up",
    "escrow.updated": "Terms changed",
    "escrow.opened": "Escrow opened; earnest money requested",
    "escrow.deposit_received": "Money received",
    "escrow.payment_in_confirmed": "Payment confirmed by the payment provider",
    "escrow.funded": "",  # told by the deposit's own event, with its amount
    "escrow.verification_started": "Verifications started",
    "escrow.verification_verified": "{type} passed",
    "escrow.verification_rejected": "{type} did not pass",
    "escrow.verification_failed": "{type} could not be done",
    "escrow.verification_waived": "The buyer accepted the {type} findings",
    "escrow.verification_reassigned": "{type} given to another agent",
    "escrow.verification_overdue": "{type} is overdue",
    "escrow.renegotiated": "Price renegotiated",
    "escrow.clear_to_close": "Clear to close",
    "escrow.milestone_released": "{type} fee paid",
    "escrow.payout_requested": "A payment was sent",
    "escrow.payment_retried": "A payment was sent again",
    "escrow.settlement_approved": "Closing approved",
    "escrow.settled": "Settled: everyone was paid",
    "escrow.cancelled": "Escrow cancelled",
    "escrow.dispute_raised": "Dispute raised",
    "escrow.dispute_resolved": "Dispute resolved",
    "escrow.dispute_dismissed": "Dispute withdrawn",
    "escrow.paused": "Payments paused by the platform",
    "escrow.resumed": "Payments resumed",
    "verification.assigned": "{type} assigned",
    "verification.report_submitted": "{type} report received",
    # Told once, by the escrow's own event of the same decision.
    "verification.verified": "",
    "verification.rejected": "",
    "verification.failed": "",
    "verification.reassigned": "{type} reassigned",
    "verification.overdue": "{type} report is late",
}


@dataclass
class Decision:
    """A button on the page: one of the parties' decisions after a report did not pass."""

    decision: str
    target: str  # the verification type, or the dispute's public id
    label: str
    needs_price: bool = False


@dataclass
class Action:
    who: str
    what: str
    you: bool = False
    amount: str = ""
    by: str = ""
    pay_kind: str = ""
    reason: list[str] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)


def money(amount: Any, currency: str) -> str:
    return format_money(amount, currency)


def _name(org: Any) -> str:
    return str(getattr(org, "name", "") or "")


def _task_name(task: Any) -> str:
    return str(task.get_verification_type_display()).lower()


def _task_reasons(task: VerificationTask) -> list[str]:
    if task.status == TaskStatus.FAILED:
        return [task.failure_reason or "The agent could not do the work."]
    report = verification_selectors.task_latest_report(task=task)
    return [str(r) for r in (report.reasons if report else [])]


def _amount_due(txn: EscrowTransaction, kind: str) -> Decimal | None:
    from transactions.services.payments_in import amount_due

    try:
        return amount_due(txn, kind)
    except DomainError:
        return None


def _may_decide(roles: list[str], *, operator: bool) -> bool:
    return operator or parties.ESCROW_OFFICER in roles


def actions_for(txn: EscrowTransaction, roles: list[str], tasks: list[VerificationTask], user: Any) -> list[Action]:
    """Who must act next, and what: one entry per person or organization the deal waits for."""
    operator = "operator" in roles or user_is_operator(user)
    officer = f"The escrow officer ({txn.escrow_officer.get_full_name() or txn.escrow_officer.username})"
    status = txn.status
    cur = txn.currency
    closing = format_day(txn.closing_date)
    you_buy = "buyer" in roles
    you_officer = parties.ESCROW_OFFICER in roles
    if status == EscrowStatus.DRAFT:
        opening = [Decision("open", "", "Open the escrow")] if _may_decide(roles, operator=operator) else []
        return [Action(officer, "Open the escrow once the terms are final.", you=you_officer, decisions=opening)]
    if status == EscrowStatus.AWAITING_EARNEST_MONEY:
        return [
            Action(
                f"The buyer ({_name(txn.buyer)})",
                "Pay the earnest money. The verifications start as soon as it arrives.",
                you=you_buy,
                amount=money(txn.earnest_money, cur),
                by=f"as soon as you can; closing is {closing}",
                pay_kind=DepositKind.EARNEST if you_buy else "",
            )
        ]
    if status in (EscrowStatus.FUNDED, EscrowStatus.VERIFYING):
        found = []
        for task in tasks:
            if task.status in (TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS, TaskStatus.OVERDUE, TaskStatus.SUBMITTED):
                late = " (late)" if task.status == TaskStatus.OVERDUE else ""
                found.append(
                    Action(
                        f"{_name(task.agent)} ({ROLE_LABELS['verifier'].lower()})",
                        f"Deliver the {_task_name(task)} report{late}.",
                        you=parties.VERIFIER in roles and task.agent_id in _orgs(user),
                        by=format_when(task.deadline) if task.deadline else "",
                    )
                )
        found += _loan_action(txn, roles)
        return found or [Action("Nobody", "The next verification starts when the earlier ones pass.")]
    if status == EscrowStatus.NEEDS_DECISION:
        found = []
        for task in tasks:
            if task.status not in (TaskStatus.REJECTED, TaskStatus.FAILED):
                continue
            decisions = []
            kind = task.verification_type
            if task.status == TaskStatus.REJECTED and (you_buy or _may_decide(roles, operator=operator)):
                decisions.append(Decision("waive", kind, f"Accept the {_task_name(task)} findings and go on"))
            if _may_decide(roles, operator=operator):
                decisions.append(Decision("reassign", kind, f"Ask another agent for a new {_task_name(task)}"))
                decisions.append(Decision("renegotiate", kind, "Record a new agreed price", needs_price=True))
                decisions.append(Decision("cancel", kind, "Cancel the escrow"))
            found.append(
                Action(
                    f"The buyer ({_name(txn.buyer)}) with the escrow officer",
                    f"Decide what to do: the {_task_name(task)} did not pass. The buyer may accept the findings; "
                    "the escrow officer records a new price, asks another agent, or cancels.",
                    you=you_buy or you_officer,
                    reason=_task_reasons(task),
                    decisions=decisions,
                    by=f"before closing on {closing}",
                )
            )
        return found
    if status == EscrowStatus.CLEAR_TO_CLOSE:
        found = _loan_action(txn, roles)
        due = _amount_due(txn, DepositKind.CLOSING_FUNDS)
        if due:
            found.append(
                Action(
                    f"The buyer ({_name(txn.buyer)})",
                    f"Bring {money(due, cur)} to closing: the cash to close on the settlement statement.",
                    you=you_buy,
                    amount=money(due, cur),
                    by=closing,
                    pay_kind=DepositKind.CLOSING_FUNDS if you_buy else "",
                )
            )
        if not found:
            may = _may_decide(roles, operator=operator)
            closing_now = [Decision("settle", "", "Close: pay everyone")] if may else []
            found.append(
                Action(
                    officer,
                    "Close: pay everyone as the settlement statement says.",
                    you=you_officer,
                    by=closing,
                    decisions=closing_now,
                )
            )
        return found
    if status == EscrowStatus.SETTLING:
        return [Action("Nobody", "The money is on its way to everyone on the settlement statement.")]
    if status == EscrowStatus.DISPUTED:
        dispute = txn.disputes.filter(status="open").first()
        resolving = []
        if dispute is not None and _may_decide(roles, operator=operator):
            resolving = [
                Decision("release", str(dispute.public_id), "Release the money to the seller"),
                Decision("refund", str(dispute.public_id), "Refund the buyer"),
                Decision("dismiss", str(dispute.public_id), "Dismiss the dispute: the deal goes on"),
            ]
        return [
            Action(
                officer,
                "Resolve the dispute: release the money to the seller, refund the buyer, or split it. "
                "Payments are on hold until then.",
                you=you_officer,
                reason=[dispute.reason] if dispute else [],
                decisions=resolving,
            )
        ]
    return []


def _orgs(user: Any) -> set[int]:
    from identity.selectors import organization_ids_for_user

    return organization_ids_for_user(user)


def _loan_action(txn: EscrowTransaction, roles: list[str]) -> list[Action]:
    due = _amount_due(txn, DepositKind.LOAN) if txn.loan_amount > 0 else None
    if not due:
        return []
    you_lend = "lender" in roles
    return [
        Action(
            f"The lender ({_name(txn.lender)})",
            "Send the loan funds.",
            you=you_lend,
            amount=money(due, txn.currency),
            by=format_day(txn.closing_date),
            pay_kind=DepositKind.LOAN if you_lend else "",
        )
    ]


def tracker(txn: EscrowTransaction) -> list[dict[str, Any]]:
    """The lifecycle as steps: done, current or to come (a dispute or cancellation stops it)."""
    status = txn.status
    if status == EscrowStatus.DISPUTED:
        status = txn.status_before_dispute or EscrowStatus.VERIFYING
    current = next((i for i, (_, covers) in enumerate(STEPS) if status in covers), None)
    if status in (EscrowStatus.CANCELLED, EscrowStatus.DISPUTE_RESOLVED):
        current = None
    steps = []
    for index, (label, _) in enumerate(STEPS):
        if current is None:
            state = "stopped"
        elif index < current or (index == current and status == EscrowStatus.SETTLED):
            state = "done"
        elif index == current:
            state = "current"
        else:
            state = "todo"
        steps.append({"label": label, "state": state})
    return steps


def timeline(user: Any, txn: EscrowTransaction) -> list[dict[str, str]]:
    """What happened, from the transaction's audit trail, newest first, in plain words."""
    try:
        events = list(audit_selectors.events_for_subject(user, SUBJECT_TYPE, str(txn.public_id)))
    except DomainError:
        return []  # a verifier: the trail is for the parties
    rows = []
    for event in reversed(events[-200:]):
        text = EVENT_TEXT.get(event.kind)
        if text == "":
            continue
        text = text or event.kind.split(".", 1)[-1].replace("_", " ").capitalize()
        payload = event.payload if isinstance(event.payload, dict) else {}
        kind = str(payload.get("verification") or payload.get("type") or payload.get("milestone") or "")
        text = text.replace("{type}", _type_label(kind)).strip()
        if event.kind == "escrow.deposit_received" and payload.get("kind") in DepositKind.values:
            text = str(DepositKind(payload["kind"]).label).split(" (")[0] + " received"
        if payload.get("amount") and event.kind in _WITH_AMOUNT:
            text = f"{text}: {money(payload['amount'], str(payload.get('currency') or txn.currency))}"
        rows.append({"text": text[:1].upper() + text[1:], "when": format_when(event.occurred_at)})
    return rows


# Events whose amount a party wants to read in the timeline.
_WITH_AMOUNT = {"escrow.deposit_received", "escrow.milestone_released", "escrow.payout_requested"}


def _type_label(kind: str) -> str:
    from verifications.states import VerificationType

    return str(dict(VerificationType.choices).get(kind, "The verification"))


_PERCENT = re.compile(r"\((\d+\.\d+)%\)")  # "(2.5000%)" in a statement label reads "(2.5%)"


def your_part(txn: EscrowTransaction, roles: list[str]) -> str:
    """One line on what the deal means for the viewer's own money."""
    cur = txn.currency
    role = roles[0] if roles else ""
    if role in ("buyer_agent", "seller_agent"):
        pct = txn.buyer_agent_commission_pct if role == "buyer_agent" else txn.seller_agent_commission_pct
        if pct > 0:
            amount = quantize(txn.purchase_price * pct / 100, cur)
            return f"Your commission: {money(amount, cur)} ({pct.normalize():f}% of the price), paid at closing."
        return ""
    if role == "lender" and txn.loan_amount > 0:
        return f"Your loan: {money(txn.loan_amount, cur)}, sent before closing."
    statement = SettlementStatement.objects.filter(transaction=txn).values_list("statement", flat=True).first()
    if role == "seller":
        if statement:
            return f"You receive {money(statement.get('cash_to_seller', '0'), cur)} at closing, as the statement says."
        return f"The price is {money(txn.purchase_price, cur)}; your proceeds are on the statement at clear to close."
    if role == "buyer":
        if statement:
            return f"Cash from you at closing: {money(statement.get('cash_from_buyer', '0'), cur)} in all."
        return (
            f"Earnest money {money(txn.earnest_money, cur)}; the cash to close is on the statement at clear to close."
        )
    return ""


def statement_view(txn: EscrowTransaction) -> dict[str, Any] | None:
    """The settlement statement with formatted money, or None before clear to close."""
    settlement = SettlementStatement.objects.filter(transaction=txn).first()
    if settlement is None or not settlement.statement:
        return None
    data = settlement.statement
    cur = txn.currency
    rows = []
    for side, column in (("buyer", "debit"), ("buyer", "credit"), ("seller", "debit"), ("seller", "credit")):
        for line in data.get(f"{side}_{column}s", []):
            label = _PERCENT.sub(lambda m: f"({Decimal(m.group(1)).normalize():f}%)", str(line["label"]))
            rows.append({"label": label, "column": f"{side}_{column}", "amount": money(line["amount"], cur)})
    difference = Decimal(str(data.get("difference", "0")))
    due = _amount_due(txn, DepositKind.CLOSING_FUNDS) if txn.status == EscrowStatus.CLEAR_TO_CLOSE else None
    if due:
        balance = f"The buyer brings {money(due, cur)} to closing; then money in equals money out."
    elif difference == 0:
        balance = "Money in equals money out, to the cent."
    else:
        short = money(abs(difference), cur)
        balance = f"{short} is still to come in before closing." if difference < 0 else f"{short} more came in."
    return {
        "settlement": settlement,
        "rows": rows,
        "cash_from_buyer": money(data.get("cash_from_buyer", "0"), cur),
        "cash_to_seller": money(data.get("cash_to_seller", "0"), cur),
        "funds_in": money(data.get("funds_in", "0"), cur),
        "total_disbursed": money(data.get("total_disbursed", "0"), cur),
        "bring": money(due, cur) if due else "",
        "balance": balance,
        "status_text": {
            "draft": "Draft: final at closing",
            "awaiting_approval": "Waiting for the platform's approval",
            "time_locked": "Approved; closes after a short safety wait",
            "executed": "Final: money paid out",
        }.get(settlement.status, settlement.get_status_display()),
    }


def payments_view(txn: EscrowTransaction) -> list[dict[str, str]]:
    rows = []
    for p in Payment.objects.filter(transaction=txn).select_related("payee"):
        status = PAYMENT_TEXT.get(p.status, p.get_status_display())
        if p.status == PaymentStatus.BLOCKED and p.blocked_reason:
            status = f"{status}: {p.blocked_reason}"
        rows.append(
            {"label": p.label, "payee": _name(p.payee), "amount": money(p.amount, p.currency), "status": status}
        )
    return rows


def milestones_view(txn: EscrowTransaction) -> list[dict[str, str]]:
    return [
        {
            "label": f"{m.get_verification_type_display()} fee",
            "payee": _name(m.payee) or "—",
            "amount": money(m.amount, txn.currency),
            "status": MILESTONE_TEXT.get(m.status, m.get_status_display()),
        }
        for m in txn.milestones.select_related("payee")
    ]


def tasks_view(tasks: list[VerificationTask], *, only_orgs: set[int] | None = None) -> list[dict[str, Any]]:
    rows = []
    for task in tasks:
        if only_orgs is not None and task.agent_id not in only_orgs:
            continue
        report = verification_selectors.task_latest_report(task=task)
        rows.append(
            {
                "task": task,
                "name": task.get_verification_type_display(),
                "agent": _name(task.agent) or "—",
                "status": TASK_TEXT.get(task.status, task.get_status_display())
                + (" (accepted by the buyer)" if task.waived else ""),
                "deadline": format_when(task.deadline) if task.deadline else "—",
                "open": task.status in (TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS, TaskStatus.OVERDUE),
                "reasons": _task_reasons(task) if task.status in (TaskStatus.REJECTED, TaskStatus.FAILED) else [],
                "report": report,
                "report_when": format_when(report.created_at) if report else "",
                "report_items": _report_items(report.payload) if report else [],
            }
        )
    return rows


def _report_items(payload: Any) -> list[tuple[str, str]]:
    """A report's top-level fields as label/value pairs a person can read."""
    if not isinstance(payload, dict):
        return []
    items = []
    for name, value in list(payload.items())[:20]:
        if isinstance(value, list):
            text = "; ".join(
                ", ".join(f"{v}" for v in item.values()) if isinstance(item, dict) else str(item) for item in value
            )
        elif isinstance(value, dict):
            text = ", ".join(f"{k}: {v}" for k, v in value.items())
        else:
            text = str(value)
        items.append((name.replace("_", " ").capitalize(), text or "—"))
    return items


def people(txn: EscrowTransaction) -> list[tuple[str, str]]:
    officer = txn.escrow_officer.get_full_name() or txn.escrow_officer.username
    found = [(ROLE_LABELS[name], _name(getattr(txn, name))) for name in parties.PARTY_FIELDS if getattr(txn, name)]
    return [*found, (ROLE_LABELS["escrow_officer"], officer)]


def may_dispute(txn: EscrowTransaction, roles: list[str]) -> bool:
    party = any(r not in (parties.VERIFIER, "operator") for r in roles)
    return party and txn.status in DISPUTABLE


__all__ = ["ROLE_LABELS", "STATUS_TEXT", "Action", "Decision", "actions_for", "statement_view", "timeline", "tracker"]
