"""The endorsement request lifecycle, top to bottom.

RECEIVED -> VALIDATED -> FUND_LOCKED -> SENT -> CONFIRMED -> ACTIVE
VALIDATED -> ON_HOLD_FUNDS -> FUND_LOCKED (a top-up or a confirmed credit wakes it)
SENT -> REJECTED (insurer said no; the hold is voided)
FUND_LOCKED -> DEAD_LETTER (the insurer stayed unreachable) -> FUND_LOCKED (operator retries)
RECEIVED | VALIDATED | ON_HOLD_FUNDS | FUND_LOCKED | DEAD_LETTER -> CANCELLED (operator)
FUND_LOCKED -> FAILED (the insurer refused the content for good: HTTP 400/422; the hold is voided)
any open state -> FAILED (a terminal internal error an operator must look at)

Transitions change only fields of their own row and declare which (`custom=writes(...)`): the one
save path, endorsements.services.persist.requests_save, writes exactly those columns. The services
around them post to the ledger, write audit events and enqueue notifications.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django_fsm import RETURN_VALUE, FSMField, transition

from escrow_project.common.fsm import ProtectedStateModel, writes


class RequestState(models.TextChoices):
    RECEIVED = "received", "Received"
    VALIDATED = "validated", "Validated"
    ON_HOLD_FUNDS = "on_hold_funds", "On hold: insufficient funds"
    FUND_LOCKED = "fund_locked", "Funds locked"
    SENT = "sent", "Sent to insurer"
    CONFIRMED = "confirmed", "Confirmed by insurer"
    ACTIVE = "active", "Active"
    REJECTED = "rejected", "Rejected by insurer"
    FAILED = "failed", "Failed"
    DEAD_LETTER = "dead_letter", "Dead letter"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATES = (
    RequestState.RECEIVED,
    RequestState.VALIDATED,
    RequestState.ON_HOLD_FUNDS,
    RequestState.FUND_LOCKED,
    RequestState.SENT,
    RequestState.CONFIRMED,
    RequestState.DEAD_LETTER,
)
# Requests whose content still blocks a resubmission of the same content (duplicate detection).
LIVE_STATES = (*OPEN_STATES, RequestState.ACTIVE)
TERMINAL_STATES = (RequestState.ACTIVE, RequestState.REJECTED, RequestState.FAILED, RequestState.CANCELLED)

# How far along the happy path a state is: an insurer event that would move a request backwards
# (a late "confirmed" after "activated") is recognised as stale by comparing ranks.
PROGRESS_RANK = {
    RequestState.SENT: 1,
    RequestState.CONFIRMED: 2,
    RequestState.ACTIVE: 3,
    RequestState.REJECTED: 3,
}


class RequestStateMachine(models.Model):
    """Mixin holding the status field and its transitions."""

    # No index of its own: every query by state also names the employer or insurer (composite
    # indexes on the request table) and a state change then updates fewer indexes.
    state = FSMField(default=RequestState.RECEIVED, choices=RequestState.choices, protected=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    parked_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True, default="")

    class Meta:
        abstract = True

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        # A protected FSM field refuses assignment once loaded; reloading from the database is fine.
        self.__dict__.pop("state", None)
        super().refresh_from_db(*args, **kwargs)

    @transition(field=state, source=RequestState.RECEIVED, target=RequestState.VALIDATED, custom=writes())
    def validate(self) -> None:
        """Schema and business rules passed."""

    @transition(
        field=state,
        source=[RequestState.VALIDATED, RequestState.ON_HOLD_FUNDS],
        target=RequestState.FUND_LOCKED,
        custom=writes("parked_at"),
    )
    def lock_funds(self) -> None:
        """A hold covers the debit (or, for a credit, nothing needs locking)."""
        self.parked_at = None

    @transition(
        field=state, source=RequestState.VALIDATED, target=RequestState.ON_HOLD_FUNDS, custom=writes("parked_at")
    )
    def park(self) -> None:
        """The Endorsement Account cannot cover the debit yet."""
        self.parked_at = timezone.now()

    @transition(
        field=state, source=RequestState.FUND_LOCKED, target=RequestState.SENT, custom=writes("sent_at", "last_error")
    )
    def mark_sent(self) -> None:
        """The insurer acknowledged receipt."""
        self.sent_at = timezone.now()
        self.last_error = ""

    @transition(
        field=state, source=RequestState.FUND_LOCKED, target=RequestState.DEAD_LETTER, custom=writes("last_error")
    )
    def dead_letter(self, error: str) -> None:
        """Every delivery attempt failed; an operator decides."""
        self.last_error = error[:2000]

    @transition(
        field=state, source=RequestState.DEAD_LETTER, target=RequestState.FUND_LOCKED, custom=writes("attempts")
    )
    def requeue(self) -> None:
        """An operator sends it again with a fresh attempt budget."""
        self.attempts = 0

    @transition(field=state, source=RequestState.SENT, target=RequestState.CONFIRMED, custom=writes("confirmed_at"))
    def confirm(self) -> None:
        """The insurer accepted the endorsement."""
        self.confirmed_at = timezone.now()

    @transition(field=state, source=RequestState.CONFIRMED, target=RequestState.ACTIVE, custom=writes("activated_at"))
    def activate(self) -> None:
        """The coverage change is in force on both sides."""
        self.activated_at = timezone.now()

    @transition(field=state, source=RequestState.SENT, target=RequestState.REJECTED, custom=writes("rejection_reason"))
    def reject(self, reason: str) -> None:
        """The insurer refused the endorsement."""
        self.rejection_reason = reason[:2000]

    @transition(
        field=state,
        source=[
            RequestState.RECEIVED,
            RequestState.VALIDATED,
            RequestState.ON_HOLD_FUNDS,
            RequestState.FUND_LOCKED,
            RequestState.DEAD_LETTER,
        ],
        target=RequestState.CANCELLED,
        custom=writes("rejection_reason"),
    )
    def cancel(self, reason: str) -> None:
        """An operator withdraws a request the insurer has not seen."""
        self.rejection_reason = reason[:2000]

    @transition(field=state, source=list(OPEN_STATES), target=RequestState.FAILED, custom=writes("last_error"))
    def fail(self, error: str) -> None:
        """Terminal: the insurer refused the content as invalid, or an unrecoverable internal error."""
        self.last_error = error[:2000]


class DispatchStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    DEAD_LETTER = "dead_letter", "Dead letter"
    INVALID = "invalid", "Refused as invalid"


class DispatchStateMachine(ProtectedStateModel):
    """One window's delivery to an insurer: PENDING -> ACKNOWLEDGED | DEAD_LETTER | INVALID, once.

    A transient failure keeps it PENDING with a later `next_attempt_at`; that is not a transition.
    """

    status = FSMField(
        max_length=16, choices=DispatchStatus.choices, default=DispatchStatus.PENDING, db_index=True, protected=True
    )
    last_error = models.TextField(blank=True, default="")

    class Meta:
        abstract = True

    @transition(field=status, source=DispatchStatus.PENDING, target=DispatchStatus.ACKNOWLEDGED)
    def acknowledge(self) -> None:
        """The insurer received the delivery."""
        self.last_error = ""

    @transition(field=status, source=DispatchStatus.PENDING, target=DispatchStatus.DEAD_LETTER)
    def dead_letter(self) -> None:
        """Every attempt failed (or a failure was permanent); the requests wait for an operator."""

    @transition(field=status, source=DispatchStatus.PENDING, target=DispatchStatus.INVALID)
    def refuse(self, error: str) -> None:
        """The insurer refused the content for good (HTTP 400/422 or a 999 rejection)."""
        self.last_error = error[:2000]


class BatchStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed (file unreadable)"
    HELD = "held", "Held for review (far above the usual pattern)"
    REJECTED = "rejected", "Rejected after review"


class BatchStateMachine(ProtectedStateModel):
    """An uploaded file: QUEUED -> PROCESSING -> COMPLETED | FAILED; QUEUED -> HELD -> QUEUED | REJECTED.

    QUEUED -> PROCESSING is a compare-and-set UPDATE (services/batches.py: two runs of the same
    file must not both start it, and no row lock is held while it reads the file), so it has no
    method here.
    """

    status = FSMField(
        max_length=16, choices=BatchStatus.choices, default=BatchStatus.QUEUED, db_index=True, protected=True
    )
    # Fields of Batch the transitions set (declared there, next to the rest of the file's record).
    hold_reason: str
    velocity_cleared: bool
    reviewed_by: Any
    reviewed_at: Any
    review_note: str
    error: str
    finished_at: Any

    class Meta:
        abstract = True

    @transition(field=status, source=BatchStatus.QUEUED, target=BatchStatus.HELD)
    def hold(self, reason: str) -> None:
        """The file is far above the employer's usual pattern: an operator reviews it first."""
        self.hold_reason = reason

    @transition(field=status, source=BatchStatus.HELD, target=BatchStatus.QUEUED)
    def release(self, *, by: Any, note: str) -> None:
        """An operator checked the file with the employer: processed as it is, not checked again."""
        self.velocity_cleared = True
        self.reviewed_by = by
        self.reviewed_at = timezone.now()
        self.review_note = note[:2000]

    @transition(field=status, source=BatchStatus.HELD, target=BatchStatus.REJECTED)
    def reject(self, *, by: Any, note: str) -> None:
        """An operator refused the file: nothing in it is ever processed."""
        self.reviewed_by = by
        self.reviewed_at = timezone.now()
        self.finished_at = self.reviewed_at
        self.review_note = note[:2000]

    @transition(
        field=status,
        source=[BatchStatus.QUEUED, BatchStatus.PROCESSING],
        target=RETURN_VALUE(BatchStatus.COMPLETED, BatchStatus.FAILED),
        custom={"diagram": "failed when the file broke"},
    )
    def finish(self, error: str) -> str:
        """The last row is committed (COMPLETED), or the file broke (FAILED: rows before the break stay)."""
        self.error = error
        self.finished_at = timezone.now()
        return BatchStatus.FAILED if error else BatchStatus.COMPLETED


class MemberStatus(models.TextChoices):
    PENDING = "pending", "Addition pending"
    COVERED = "covered", "Covered"
    REMOVED = "removed", "Removed"
    NOT_COVERED = "not_covered", "Addition rejected or cancelled"


# An addition whose request failed, was rejected or cancelled leaves its member NOT_COVERED: the
# services do that for many rows at once, without loading them, by a filtered UPDATE
# (status=PENDING -> NOT_COVERED), so that step has no method here.
class MemberStateMachine(ProtectedStateModel):
    """PENDING -> COVERED -> REMOVED; PENDING -> NOT_COVERED; NOT_COVERED | REMOVED -> PENDING (added again)."""

    status = FSMField(max_length=16, choices=MemberStatus.choices, default=MemberStatus.PENDING, protected=True)

    class Meta:
        abstract = True

    @transition(field=status, source=MemberStatus.PENDING, target=MemberStatus.COVERED)
    def cover(self) -> None:
        """The insurer activated the addition."""

    @transition(field=status, source=MemberStatus.COVERED, target=MemberStatus.REMOVED)
    def remove(self) -> None:
        """The insurer activated the deletion."""

    @transition(field=status, source=[MemberStatus.NOT_COVERED, MemberStatus.REMOVED], target=MemberStatus.PENDING)
    def add_again(self) -> None:
        """A new addition for someone who was on the policy before, or whose addition fell through."""
