"""The endorsement request lifecycle, top to bottom.

RECEIVED -> VALIDATED -> FUND_LOCKED -> SENT -> CONFIRMED -> ACTIVE
VALIDATED -> ON_HOLD_FUNDS -> FUND_LOCKED (a top-up or a confirmed credit wakes it)
SENT -> REJECTED (insurer said no; the hold is voided)
FUND_LOCKED -> DEAD_LETTER (the insurer stayed unreachable) -> FUND_LOCKED (operator retries)
RECEIVED | VALIDATED | ON_HOLD_FUNDS | FUND_LOCKED | DEAD_LETTER -> CANCELLED (operator)
FUND_LOCKED -> FAILED (the insurer refused the content for good: HTTP 400/422; the hold is voided)
any open state -> FAILED (a terminal internal error an operator must look at)

Transitions change only fields of their own row; the services around them post to the ledger,
write audit events and enqueue notifications.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition


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

    @transition(field=state, source=RequestState.RECEIVED, target=RequestState.VALIDATED)
    def validate(self) -> None:
        """Schema and business rules passed."""

    @transition(
        field=state, source=[RequestState.VALIDATED, RequestState.ON_HOLD_FUNDS], target=RequestState.FUND_LOCKED
    )
    def lock_funds(self) -> None:
        """A hold covers the debit (or, for a credit, nothing needs locking)."""
        self.parked_at = None

    @transition(field=state, source=RequestState.VALIDATED, target=RequestState.ON_HOLD_FUNDS)
    def park(self) -> None:
        """The Endorsement Account cannot cover the debit yet."""
        self.parked_at = timezone.now()

    @transition(field=state, source=RequestState.FUND_LOCKED, target=RequestState.SENT)
    def mark_sent(self) -> None:
        """The insurer acknowledged receipt."""
        self.sent_at = timezone.now()
        self.last_error = ""

    @transition(field=state, source=RequestState.FUND_LOCKED, target=RequestState.DEAD_LETTER)
    def dead_letter(self, error: str) -> None:
        """Every delivery attempt failed; an operator decides."""
        self.last_error = error[:2000]

    @transition(field=state, source=RequestState.DEAD_LETTER, target=RequestState.FUND_LOCKED)
    def requeue(self) -> None:
        """An operator sends it again with a fresh attempt budget."""
        self.attempts = 0

    @transition(field=state, source=RequestState.SENT, target=RequestState.CONFIRMED)
    def confirm(self) -> None:
        """The insurer accepted the endorsement."""
        self.confirmed_at = timezone.now()

    @transition(field=state, source=RequestState.CONFIRMED, target=RequestState.ACTIVE)
    def activate(self) -> None:
        """The coverage change is in force on both sides."""
        self.activated_at = timezone.now()

    @transition(field=state, source=RequestState.SENT, target=RequestState.REJECTED)
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
    )
    def cancel(self, reason: str) -> None:
        """An operator withdraws a request the insurer has not seen."""
        self.rejection_reason = reason[:2000]

    @transition(field=state, source=list(OPEN_STATES), target=RequestState.FAILED)
    def fail(self, error: str) -> None:
        """Terminal: the insurer refused the content as invalid, or an unrecoverable internal error."""
        self.last_error = error[:2000]
