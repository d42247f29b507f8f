"""The lifecycle of an on-chain anchor of a tree head, top to bottom.

    pending -> sent -> confirmed
    pending | sent -> failed     (the node refused the transaction, or it reverted)

The intent row is written pending before anything is signed, so a crash between signing and sending
resumes the same transaction. Transitions change only their own row; audit.services.anchoring
talks to the chain and counts the metrics.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition

from escrow_project.common.fsm import ProtectedStateModel


class AnchorStatus(models.TextChoices):
    PENDING = "pending", "Pending (intent recorded, not sent)"
    SENT = "sent", "Sent (waiting for confirmations)"
    CONFIRMED = "confirmed", "Confirmed"
    FAILED = "failed", "Failed"


class AnchorStateMachine(ProtectedStateModel):
    """Mixed into Anchor: the status field and its transitions."""

    status = FSMField(max_length=16, choices=AnchorStatus.choices, default=AnchorStatus.PENDING, protected=True)
    # Fields of Anchor the transitions set (declared there with the rest of the record).
    attempts: int
    last_error: str
    sent_at: Any
    confirmed_at: Any
    block_number: int | None
    block_hash: str

    class Meta:
        abstract = True

    @transition(field=status, source=AnchorStatus.PENDING, target=AnchorStatus.SENT)
    def mark_sent(self) -> None:
        """The node accepted the signed transaction into its pool."""
        self.sent_at = timezone.now()
        self.attempts += 1

    @transition(field=status, source=AnchorStatus.SENT, target=AnchorStatus.CONFIRMED)
    def confirm(self, *, block_number: int, block_hash: str) -> None:
        """The transaction has the required confirmations."""
        self.block_number = block_number
        self.block_hash = block_hash
        self.confirmed_at = timezone.now()
        self.last_error = ""

    @transition(field=status, source=[AnchorStatus.PENDING, AnchorStatus.SENT], target=AnchorStatus.FAILED)
    def fail(self, reason: str) -> None:
        """Failed for good (a revert or a refused transaction), for operators to see."""
        self.last_error = reason[:2000]
