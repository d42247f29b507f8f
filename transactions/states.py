"""Lifecycle of an escrow transaction, top to bottom in one file (diagram: docs/states/escrow_transaction.dot).

    draft -> awaiting_earnest_money -> funded -> verifying -> clear_to_close -> settling -> settled
                                                   ^   |
                                                   |   v
                                              needs_decision   (a report was rejected or a task failed)
    cancelled <- draft | awaiting_earnest_money | funded | verifying | needs_decision | clear_to_close
    disputed  <- funded | verifying | needs_decision | clear_to_close;  disputed -> dispute_resolved
                                                                        disputed -> (previous state) when dismissed

A transition changes only this row; the service locks, transitions, moves money, audits, notifies.
Guards carry their refusal in the docstring (escrow_project.common.fsm).

The money inside a transaction has its own machines below (diagrams in docs/states/):

Milestone:  planned -> held -> earned -> released;  held | earned -> voided
            (a task reassigned while held moves the hold to the new agent: still held, no transition)
Payment:    blocked -> requested -> succeeded | failed;  failed -> blocked (retried)
            (a blocked payment that stays blocked only changes its reason: no transition)
Settlement: draft -> awaiting_approval -> time_locked -> executed;  draft -> executed (below the
            approval threshold); executed is final: an executed statement is never recomputed
Dispute:    open -> resolved | dismissed, once

Every one of these rows is changed under its row lock (select_for_update, after the transaction's
own lock), so a plain save after the transition is enough: no compare-and-set UPDATE is needed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import models
from django.utils import timezone
from django_fsm import RETURN_VALUE, FSMField, transition

from escrow_project.common.fsm import ProtectedStateModel


class EscrowStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    AWAITING_EARNEST_MONEY = "awaiting_earnest_money", "Awaiting earnest money"
    FUNDED = "funded", "Funded"
    VERIFYING = "verifying", "Verifying"
    NEEDS_DECISION = "needs_decision", "Needs a decision by the parties"
    CLEAR_TO_CLOSE = "clear_to_close", "Clear to close"
    SETTLING = "settling", "Settling"
    SETTLED = "settled", "Settled"
    CANCELLED = "cancelled", "Cancelled"
    DISPUTED = "disputed", "Disputed (funds frozen)"
    DISPUTE_RESOLVED = "dispute_resolved", "Closed by dispute resolution"


CANCELLABLE = [
    EscrowStatus.DRAFT,
    EscrowStatus.AWAITING_EARNEST_MONEY,
    EscrowStatus.FUNDED,
    EscrowStatus.VERIFYING,
    EscrowStatus.NEEDS_DECISION,
    EscrowStatus.CLEAR_TO_CLOSE,
]
DISPUTABLE = [
    EscrowStatus.FUNDED,
    EscrowStatus.VERIFYING,
    EscrowStatus.NEEDS_DECISION,
    EscrowStatus.CLEAR_TO_CLOSE,
]
FINAL = [EscrowStatus.SETTLED, EscrowStatus.CANCELLED, EscrowStatus.DISPUTE_RESOLVED]


def _has_parties(txn: Any) -> bool:
    """A transaction needs a buyer, a seller and an escrow officer before it opens."""
    return bool(txn.buyer_id and txn.seller_id and txn.escrow_officer_id)


def _not_paused(txn: Any) -> bool:
    """Payouts are paused for this transaction; an operator must lift the pause first."""
    return not txn.paused


class EscrowTransitions:
    """Mixed into EscrowTransaction; `status` is its FSMField."""

    status_before_dispute: str
    funded_at: Any
    cleared_at: Any
    settled_at: Any
    cancelled_at: Any

    @transition(field="status", source=EscrowStatus.DRAFT, target=EscrowStatus.AWAITING_EARNEST_MONEY,
                conditions=[_has_parties])  # fmt: skip
    def open(self) -> None:
        """Terms agreed: ask the buyer for the earnest money."""

    @transition(field="status", source=EscrowStatus.AWAITING_EARNEST_MONEY, target=EscrowStatus.FUNDED)
    def fund(self) -> None:
        """The earnest money arrived in the escrow wallet."""
        self.funded_at = timezone.now()

    @transition(field="status", source=EscrowStatus.FUNDED, target=EscrowStatus.VERIFYING)
    def begin_verification(self) -> None:
        """Milestones are held; the verification workflow starts."""

    @transition(field="status", source=EscrowStatus.VERIFYING, target=EscrowStatus.NEEDS_DECISION)
    def need_decision(self) -> None:
        """A verification was rejected or failed: the parties renegotiate, waive or cancel."""

    @transition(field="status", source=EscrowStatus.NEEDS_DECISION, target=EscrowStatus.VERIFYING)
    def resume_verification(self) -> None:
        """The parties decided to go on (waived, renegotiated or reassigned)."""

    @transition(field="status", source=EscrowStatus.VERIFYING, target=EscrowStatus.CLEAR_TO_CLOSE)
    def clear(self) -> None:
        """Every verification passed."""
        self.cleared_at = timezone.now()

    @transition(field="status", source=EscrowStatus.CLEAR_TO_CLOSE, target=EscrowStatus.SETTLING,
                conditions=[_not_paused])  # fmt: skip
    def start_settlement(self) -> None:
        """The settlement statement is funded and approved: disburse."""

    @transition(field="status", source=EscrowStatus.SETTLING, target=EscrowStatus.SETTLED)
    def complete_settlement(self) -> None:
        """Every payee received its share."""
        self.settled_at = timezone.now()

    @transition(field="status", source=CANCELLABLE, target=EscrowStatus.CANCELLED)
    def cancel(self) -> None:
        """The deal is off: what remains goes back to the buyer."""
        self.cancelled_at = timezone.now()

    @transition(field="status", source=DISPUTABLE, target=EscrowStatus.DISPUTED)
    def raise_dispute(self) -> None:
        """A party disputes the deal: funds freeze."""
        self.status_before_dispute = str(getattr(self, "status", ""))

    @transition(field="status", source=EscrowStatus.DISPUTED, target=EscrowStatus.DISPUTE_RESOLVED)
    def resolve_dispute(self) -> None:
        """The escrow officer resolved the dispute by release, refund or split."""
        self.settled_at = timezone.now()

    @transition(
        field="status",
        source=EscrowStatus.DISPUTED,
        target=RETURN_VALUE(*DISPUTABLE),
        custom={"diagram": "back to previous"},
    )
    def dismiss_dispute(self) -> str:
        """The dispute is withdrawn: the transaction resumes where it was."""
        previous = self.status_before_dispute
        self.status_before_dispute = ""
        return previous


class MilestoneStatus(models.TextChoices):
    PLANNED = "planned", "Planned (not funded yet)"
    HELD = "held", "Held in the escrow wallet"
    EARNED = "earned", "Earned (waiting: paused, disputed or cooling off)"
    RELEASED = "released", "Released to the agent"
    VOIDED = "voided", "Voided (returned to the wallet)"


class MilestoneStateMachine(ProtectedStateModel):
    """Mixed into Milestone: the status field and its transitions (diagram: docs/states/milestone.dot)."""

    status = FSMField(max_length=16, choices=MilestoneStatus.choices, default=MilestoneStatus.PLANNED, protected=True)
    # Fields of Milestone the transitions set (declared there with the rest of the milestone).
    earned_at: Any
    released_at: Any

    class Meta:
        abstract = True

    @transition(field=status, source=MilestoneStatus.PLANNED, target=MilestoneStatus.HELD)
    def hold(self) -> None:
        """The wallet is funded: the fee is reserved for its agent (a zero fee holds nothing)."""

    @transition(field=status, source=MilestoneStatus.HELD, target=MilestoneStatus.EARNED)
    def earn(self) -> None:
        """The verification passed; the fee is paid once nothing freezes the money."""
        self.earned_at = timezone.now()

    @transition(field=status, source=MilestoneStatus.EARNED, target=MilestoneStatus.RELEASED)
    def release(self) -> None:
        """The hold is posted to the agent and a payment goes out: once, never again."""
        self.released_at = timezone.now()

    @transition(field=status, source=[MilestoneStatus.HELD, MilestoneStatus.EARNED], target=MilestoneStatus.VOIDED)
    def void(self) -> None:
        """The deal wound down before the fee was released: it goes back to the wallet."""


class PaymentStatus(models.TextChoices):
    BLOCKED = "blocked", "Blocked (paused, disputed or cooling off)"
    REQUESTED = "requested", "Payout requested"
    SUCCEEDED = "succeeded", "Paid out"
    FAILED = "failed", "Payout failed"


class PaymentStateMachine(ProtectedStateModel):
    """Mixed into Payment: the status field and its transitions (diagram: docs/states/payment.dot)."""

    status = FSMField(max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.BLOCKED, protected=True)
    # Fields of Payment the transitions set (declared there with the rest of the payment).
    blocked_reason: str
    failure_reason: str

    class Meta:
        abstract = True

    @transition(field=status, source=PaymentStatus.BLOCKED, target=PaymentStatus.REQUESTED)
    def request(self) -> None:
        """Nothing forbids the payout now: the ledger has the payout intent."""
        self.blocked_reason = ""
        self.failure_reason = ""

    @transition(field=status, source=PaymentStatus.REQUESTED, target=PaymentStatus.SUCCEEDED)
    def succeed(self) -> None:
        """The rail paid the payee."""
        self.failure_reason = ""

    @transition(field=status, source=PaymentStatus.REQUESTED, target=PaymentStatus.FAILED)
    def fail(self, reason: str) -> None:
        """The rail refused or returned it; the money is back on the payee's account."""
        self.failure_reason = reason[:300]

    @transition(field=status, source=PaymentStatus.FAILED, target=PaymentStatus.BLOCKED)
    def retry(self) -> None:
        """Someone sends a failed payout again: it waits like a new one until nothing forbids it."""


class SettlementStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approvals"
    TIME_LOCKED = "time_locked", "Approved, waiting out the time lock"
    EXECUTED = "executed", "Executed"


class SettlementStateMachine(ProtectedStateModel):
    """Mixed into SettlementStatement: the status field and its transitions (docs/states/settlement_statement.dot)."""

    status = FSMField(max_length=20, choices=SettlementStatus.choices, default=SettlementStatus.DRAFT, protected=True)
    # Fields of SettlementStatement the transitions set (declared there with the rest of the statement).
    approved_at: Any
    unlock_at: Any
    executed_at: Any
    executed_by: Any

    class Meta:
        abstract = True

    @transition(field=status, source=SettlementStatus.DRAFT, target=SettlementStatus.AWAITING_APPROVAL)
    def ask_approval(self) -> None:
        """The purchase price is above the approval threshold: operators must sign."""

    @transition(field=status, source=SettlementStatus.AWAITING_APPROVAL, target=SettlementStatus.TIME_LOCKED)
    def approve(self, *, lock_seconds: int) -> None:
        """The last required signature: the time lock starts."""
        self.approved_at = timezone.now()
        self.unlock_at = self.approved_at + timedelta(seconds=lock_seconds)

    # AWAITING_APPROVAL is a source too: the service refuses it while signatures are missing, and a
    # statement whose threshold no longer applies (approvals_required 0) executes as a draft would.
    @transition(
        field=status,
        source=[SettlementStatus.DRAFT, SettlementStatus.AWAITING_APPROVAL, SettlementStatus.TIME_LOCKED],
        target=SettlementStatus.EXECUTED,
    )
    def execute(self, *, by: Any) -> None:
        """Every payee received its share; the statement is final."""
        self.executed_at = timezone.now()
        self.executed_by = by


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open (funds frozen)"
    RESOLVED = "resolved", "Resolved"
    DISMISSED = "dismissed", "Dismissed"


class DisputeStateMachine(ProtectedStateModel):
    """Mixed into Dispute: the status field and its transitions (diagram: docs/states/dispute.dot)."""

    status = FSMField(max_length=16, choices=DisputeStatus.choices, default=DisputeStatus.OPEN, protected=True)
    # Fields of Dispute the transitions set (declared there with the rest of the dispute).
    resolution: str
    seller_share_pct: Any
    resolution_note: str
    resolved_by: Any
    resolved_at: Any

    class Meta:
        abstract = True

    @transition(field=status, source=DisputeStatus.OPEN, target=DisputeStatus.RESOLVED)
    def resolve(self, *, resolution: str, seller_share_pct: Any, note: str, by: Any) -> None:
        """The escrow officer released, refunded or split the frozen funds."""
        self.resolution = resolution
        self.seller_share_pct = seller_share_pct
        self._close(note, by)

    @transition(field=status, source=DisputeStatus.OPEN, target=DisputeStatus.DISMISSED)
    def dismiss(self, *, note: str, by: Any) -> None:
        """The dispute had no merit or was withdrawn: the transaction resumes."""
        self._close(note, by)

    def _close(self, note: str, by: Any) -> None:
        self.resolution_note = note
        self.resolved_by = by
        self.resolved_at = timezone.now()


# Requests a second person decides (escrow_project.common.four_eyes): `decide` is the one decision.
class ManualDepositStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a second person's confirmation"
    CONFIRMED = "confirmed", "Confirmed and recorded"
    REJECTED = "rejected", "Rejected"


class ManualDepositStateMachine(ProtectedStateModel):
    """Mixed into ManualDeposit: pending -> confirmed | rejected, once (docs/states/manual_deposit.dot)."""

    status = FSMField(
        max_length=16, choices=ManualDepositStatus.choices, default=ManualDepositStatus.PENDING, protected=True
    )

    class Meta:
        abstract = True

    @transition(
        field=status,
        source=ManualDepositStatus.PENDING,
        target=RETURN_VALUE(ManualDepositStatus.CONFIRMED, ManualDepositStatus.REJECTED),
        custom={"diagram": "by a second person"},
    )
    def decide(self, status: str) -> str:
        """A second person confirmed the wire (it becomes a deposit) or rejected it."""
        return status


class BankDetailsChangeStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a second person's confirmation"
    CONFIRMED = "confirmed", "Confirmed (in force after the cooling-off)"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Replaced by a newer proposal"


# A newer proposal supersedes the pending one by a filtered UPDATE (services/controls.py:
# status=PENDING -> SUPERSEDED, without loading it), so that step has no method here.
class BankDetailsChangeStateMachine(ProtectedStateModel):
    """Mixed into BankDetailsChange: pending -> confirmed | rejected (| superseded by a newer proposal)."""

    status = FSMField(
        max_length=16, choices=BankDetailsChangeStatus.choices, default=BankDetailsChangeStatus.PENDING, protected=True
    )

    class Meta:
        abstract = True

    @transition(
        field=status,
        source=BankDetailsChangeStatus.PENDING,
        target=RETURN_VALUE(BankDetailsChangeStatus.CONFIRMED, BankDetailsChangeStatus.REJECTED),
        custom={"diagram": "by a second person"},
    )
    def decide(self, status: str) -> str:
        """A second person confirmed the new details (the cooling-off starts) or rejected them."""
        return status
