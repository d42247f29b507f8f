"""Lifecycles of holds (two-phase transfers) and payout intents.

Hold:    pending -> posted | voided | expired        (exactly one resolution, never undone)
         A hold is resolved by one compare-and-set statement (`WHERE status = 'pending'`, in
         ledger.services.holds and the batch writer), not by loading the row, so it has no
         django-fsm machine: the statement is the transition (docs/decisions/0904).
Payout:  requested -> sent -> succeeded | failed | unknown
         requested -> succeeded | failed | unknown   (a rail that answers synchronously)
         unknown   -> sent (re-dispatch with the same rail key) | succeeded | failed
         sent      -> sent (a stale `sent`, left by a dead worker or a `pending` answer, is re-sent
                            by the sweeper with the same rail key)

Rail payment (money in, completed by the payer at the rail):
         requires_payment_method | requires_action | processing | authorized | failed
             -> whatever the rail reports (a payer may retry a failed card on the same payment)
         succeeded and canceled are final: a late or replayed event after them changes nothing

Operator entry (money recorded by hand, four eyes): pending -> approved | rejected, once
Reconciliation break: open -> resolved;  open -> pending (a write-off asked) -> resolved (approved)
                      | open (rejected: worked again)

These transitions only change their own row; the services in `ledger.services`
post the entries.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django_fsm import RETURN_VALUE, FSMField, transition

from escrow_project.common.fsm import ProtectedStateModel


class HoldStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    POSTED = "posted", "Posted"
    VOIDED = "voided", "Voided"
    EXPIRED = "expired", "Expired"


class PayoutStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    SENT = "sent", "Sent to the rail"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Outcome unknown"


PAYOUT_OPEN = (PayoutStatus.REQUESTED, PayoutStatus.SENT, PayoutStatus.UNKNOWN)
PAYOUT_FINAL = (PayoutStatus.SUCCEEDED, PayoutStatus.FAILED)


class PayoutStateMachine(ProtectedStateModel):
    """Mixed into PayoutIntent: the status field and its transitions (diagram: docs/states/payout_intent.dot)."""

    status = FSMField(max_length=16, choices=PayoutStatus.choices, default=PayoutStatus.REQUESTED, protected=True)
    # Fields of PayoutIntent the transitions set (declared there with the rest of the intent).
    dispatch_count: int
    provider_reference: str
    failure_reason: str

    class Meta:
        abstract = True

    @transition(
        field=status, source=[PayoutStatus.REQUESTED, PayoutStatus.UNKNOWN, PayoutStatus.SENT], target=PayoutStatus.SENT
    )
    def claim(self) -> None:
        """A dispatch run takes it to the rail; the service re-sends a `sent` one only once it is stale."""
        self.dispatch_count += 1

    @transition(field=status, source=[PayoutStatus.REQUESTED, PayoutStatus.UNKNOWN], target=PayoutStatus.SENT)
    def mark_sent(self, *, provider_reference: str, failure_reason: str) -> None:
        """The rail reported it has the payout and will answer later."""
        self._outcome(provider_reference, failure_reason)

    @transition(field=status, source=list(PAYOUT_OPEN), target=PayoutStatus.SUCCEEDED)
    def succeed(self, *, provider_reference: str, failure_reason: str) -> None:
        """The rail paid the beneficiary."""
        self._outcome(provider_reference, failure_reason)

    @transition(field=status, source=list(PAYOUT_OPEN), target=PayoutStatus.FAILED)
    def fail(self, *, provider_reference: str, failure_reason: str) -> None:
        """The rail refused or returned it; the service gives the money back with a reversing entry."""
        self._outcome(provider_reference, failure_reason)

    @transition(field=status, source=[PayoutStatus.REQUESTED, PayoutStatus.SENT], target=PayoutStatus.UNKNOWN)
    def mark_unknown(self, *, provider_reference: str, failure_reason: str) -> None:
        """The call to the rail ended without an answer: the sweeper re-sends with the same rail key."""
        self._outcome(provider_reference, failure_reason)

    def _outcome(self, provider_reference: str, failure_reason: str) -> None:
        self.provider_reference = provider_reference or self.provider_reference
        self.failure_reason = failure_reason[:500]


# The transition that records each outcome a rail (or an operator) reports.
PAYOUT_RECORDERS: dict[str, str] = {
    PayoutStatus.SENT: "mark_sent",
    PayoutStatus.SUCCEEDED: "succeed",
    PayoutStatus.FAILED: "fail",
    PayoutStatus.UNKNOWN: "mark_unknown",
}


class RailPaymentStatus(models.TextChoices):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method", "Waiting for the payer"
    REQUIRES_ACTION = "requires_action", "The payer must authenticate"
    PROCESSING = "processing", "Processing at the rail"
    AUTHORIZED = "authorized", "Authorized, to capture"
    SUCCEEDED = "succeeded", "Succeeded (credited)"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


RAIL_PAYMENT_FINAL = (RailPaymentStatus.SUCCEEDED, RailPaymentStatus.CANCELED)


class RailPaymentStateMachine(ProtectedStateModel):
    """Mixed into RailPayment: the status field and its one transition (docs/states/rail_payment.dot).

    The rail owns this lifecycle; we mirror what it reports, so there is one transition, `record`,
    whose target is the reported state. What the machine adds is the source check: nothing moves a
    payment out of a final state, which is what keeps a success credited once.
    """

    status = FSMField(
        max_length=32,
        choices=RailPaymentStatus.choices,
        default=RailPaymentStatus.REQUIRES_PAYMENT_METHOD,
        protected=True,
    )
    # Fields of RailPayment the transition sets (declared there with the rest of the payment).
    failure_reason: str
    succeeded_at: Any

    class Meta:
        abstract = True

    @transition(
        field=status,
        source=[s for s in RailPaymentStatus if s not in RAIL_PAYMENT_FINAL],
        target=RETURN_VALUE(*RailPaymentStatus),
        custom={"diagram": "as the rail reports"},
    )
    def record(self, status: str, failure_reason: str) -> str:
        """The rail reported this state (a webhook, or our own retrieve)."""
        self.failure_reason = failure_reason[:500]
        if status == RailPaymentStatus.SUCCEEDED:
            self.succeeded_at = timezone.now()
        return status


# Requests a second person decides (escrow_project.common.four_eyes): `decide` is the one decision.
class OperatorEntryStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a second operator"
    APPROVED = "approved", "Approved and posted"
    REJECTED = "rejected", "Rejected"


class OperatorEntryStateMachine(ProtectedStateModel):
    """Mixed into OperatorEntryRequest: pending -> approved | rejected (docs/states/operator_entry_request.dot)."""

    status = FSMField(
        max_length=16, choices=OperatorEntryStatus.choices, default=OperatorEntryStatus.PENDING, protected=True
    )

    class Meta:
        abstract = True

    @transition(
        field=status,
        source=OperatorEntryStatus.PENDING,
        target=RETURN_VALUE(OperatorEntryStatus.APPROVED, OperatorEntryStatus.REJECTED),
        custom={"diagram": "by a second operator"},
    )
    def decide(self, status: str) -> str:
        """A second operator approved the entry (it is posted) or rejected it (nothing moves)."""
        return status


class BreakStatus(models.TextChoices):
    OPEN = "open", "Open"
    # A write-off waits for a second person; the four-eyes kernel calls a waiting request "pending".
    PENDING = "pending", "Write-off waiting for a second person"
    RESOLVED = "resolved", "Resolved"


class BreakStateMachine(ProtectedStateModel):
    """Mixed into ReconciliationBreak: the status field and its transitions (docs/states/reconciliation_break.dot)."""

    status = FSMField(max_length=16, choices=BreakStatus.choices, default=BreakStatus.OPEN, protected=True)
    # Fields of ReconciliationBreak the transitions set (declared there with the rest of the break).
    requested_by: str
    decided_by: str
    decided_at: Any
    reason_code: str
    correction: Any
    reason: str

    class Meta:
        abstract = True

    @transition(field=status, source=BreakStatus.OPEN, target=BreakStatus.RESOLVED)
    def resolve(self, *, by: str) -> None:
        """Explained (and corrected, when it moved money) by the person working it."""
        self.decided_by, self.decided_at = by, timezone.now()

    @transition(field=status, source=BreakStatus.OPEN, target=BreakStatus.PENDING)
    def ask_write_off(self, *, by: str) -> None:
        """A write-off is asked for: it waits for a second person."""
        self.requested_by = by

    @transition(field=status, source=BreakStatus.PENDING, target=RETURN_VALUE(BreakStatus.RESOLVED))
    def decide(self, status: str) -> str:
        """A second person approved the write-off (the four-eyes decision; a refusal is `reject_write_off`)."""
        return status

    @transition(field=status, source=BreakStatus.PENDING, target=BreakStatus.OPEN)
    def reject_write_off(self, reason: str) -> None:
        """The second person refused the write-off: nothing was posted and the break is worked again."""
        self.reason_code, self.correction, self.requested_by = "", {}, ""
        self.reason = reason[:300]
