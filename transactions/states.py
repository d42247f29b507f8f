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
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django_fsm import RETURN_VALUE, transition


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
