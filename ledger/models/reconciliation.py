"""Reconciliation runs, their classified lines, and the breaks operators work (docs/decisions/0103).

A run is one comparison of our books with one counterparty's statement (an insurer's monthly
statement or 834 audit file, a rail's balance transactions, the escrow three-way for a day). It is
identified by (kind, counterparty, statement_key): importing the same statement again returns the
same run and writes nothing. Every line of both sides ends in exactly one `ReconciliationLine`;
each line that is not a match opens one `ReconciliationBreak`.

The rows name what they compare in the counterparty's words (references, member keys, sources),
never by foreign keys up the ladder: the ledger points at no other app.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from escrow_project.common.money import DECIMAL_PLACES, MAX_DIGITS
from ledger.states import BreakStateMachine, BreakStatus


def _money(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, **kwargs)  # type: ignore[arg-type]


class RunKind(models.TextChoices):
    INSURER_STATEMENT = "insurer_statement", "Insurer monthly statement"
    INSURER_834_AUDIT = "insurer_834_audit", "Insurer 834 full-file audit (030)"
    RAIL_STATEMENT = "rail_statement", "Payment rail balance transactions"
    ESCROW_THREE_WAY = "escrow_three_way", "Escrow three-way (rail, books, open wallets)"


class Business(models.TextChoices):
    ENDORSEMENTS = "endorsements", "Group-insurance endorsements"
    ESCROW = "escrow", "Real-estate escrow"


class ReconciliationRun(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=32, choices=RunKind.choices)
    business = models.CharField(max_length=16, choices=Business.choices)
    # In the counterparty's words: "organization:<pk>" for an insurer, the rail's name for a rail.
    counterparty = models.CharField(max_length=128)
    counterparty_name = models.CharField(max_length=200, blank=True, default="")
    # What makes a statement the same statement: the file's SHA-256, or the rail and day.
    statement_key = models.CharField(max_length=128)
    statement_name = models.CharField(max_length=255, blank=True, default="")
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    tolerance = _money(default=0)
    started_by = models.CharField(max_length=100, blank=True, default="")
    line_count = models.PositiveIntegerField(default=0)
    break_count = models.PositiveIntegerField(default=0)
    # {outcome: count}; a line with two outcomes (amount and date) counts under each.
    summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "counterparty", "statement_key"], name="ledger_recon_run_once_per_statement"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.counterparty_name or self.counterparty} {self.statement_name}".strip()


class ReconciliationLine(models.Model):
    """One result of the engine: our line, theirs, or both, with the classes that apply."""

    run = models.ForeignKey(ReconciliationRun, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveIntegerField()
    # The first class (the one to filter on); `outcomes` lists all, comma-framed (",amount_delta,date_delta,")
    # so a filter for one class is a portable `contains` on SQLite and PostgreSQL alike.
    outcome = models.CharField(max_length=32)
    outcomes = models.CharField(max_length=160)
    is_break = models.BooleanField()
    reference = models.CharField(max_length=255, blank=True, default="")
    key = models.CharField(max_length=255, blank=True, default="", help_text="natural key: member | action")
    currency = models.CharField(max_length=3)
    our_amount = _money(null=True, blank=True)
    their_amount = _money(null=True, blank=True)
    difference = _money(help_text="theirs minus ours, signed")
    our_date = models.DateField(null=True, blank=True)
    their_date = models.DateField(null=True, blank=True)
    date_delta_days = models.IntegerField(null=True, blank=True)
    our_status = models.CharField(max_length=32, blank=True, default="")
    their_status = models.CharField(max_length=32, blank=True, default="")
    our_source = models.CharField(max_length=255, blank=True, default="", help_text="e.g. the tracking id")
    their_source = models.CharField(max_length=255, blank=True, default="", help_text="e.g. the statement row")

    class Meta:
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "position"], name="ledger_recon_line_position")]
        indexes = [models.Index(fields=["run", "outcome"], name="ledger_recon_line_outcome")]

    def __str__(self) -> str:
        return f"{self.outcomes.strip(',')} {self.reference or self.key}"

    @property
    def outcome_list(self) -> list[str]:
        return [o for o in self.outcomes.split(",") if o]


class ReasonCode(models.TextChoices):
    CORRECTED_INTERNALLY = "corrected_internally", "Corrected internally"
    RAISED_WITH_COUNTERPARTY = "raised_with_counterparty", "Raised with the insurer / rail"
    ACCEPTED_DIFFERENCE = "accepted_difference", "Accepted difference"
    WRITE_OFF = "write_off", "Written off (second person approved)"


class ReconciliationBreak(BreakStateMachine):
    Status = BreakStatus

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    line = models.OneToOneField(ReconciliationLine, on_delete=models.PROTECT, related_name="break_row")
    run = models.ForeignKey(ReconciliationRun, on_delete=models.PROTECT, related_name="breaks")
    opened_at = models.DateTimeField()
    assignee = models.CharField(max_length=100, blank=True, default="")
    reason_code = models.CharField(max_length=32, choices=ReasonCode.choices, blank=True, default="")
    note = models.TextField(blank=True, default="")
    # A correction that moves money: what to post, kept while a write-off waits for approval.
    correction = models.JSONField(default=dict, blank=True)
    correction_entry = models.ForeignKey(
        "ledger.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_by = models.CharField(max_length=100, blank=True, default="")
    decided_by = models.CharField(max_length=100, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["opened_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(decided_by="") | ~Q(decided_by=models.F("requested_by")),
                name="ledger_recon_break_four_eyes",
            ),
            models.CheckConstraint(
                condition=~Q(status="resolved") | ~Q(reason_code=""), name="ledger_recon_break_resolved_has_reason"
            ),
        ]
        indexes = [models.Index(fields=["status", "opened_at"], name="ledger_recon_break_open")]

    def __str__(self) -> str:
        return f"break {self.public_id} ({self.status})"


class BreakComment(models.Model):
    """Who said what on a break, in order: assignments, notes, resolutions."""

    break_row = models.ForeignKey(ReconciliationBreak, on_delete=models.PROTECT, related_name="comments")
    author = models.CharField(max_length=100)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.author}: {self.body[:40]}"
