"""Ledger tables. Only `ledger.services` writes them; other apps read through `ledger.selectors`.

- `Account`: currency, normal side, a generic owner reference (owner_type + owner_id strings, so the
  ledger imports no other app), a purpose code, overdraft guard flags and four stored counters
  (posted/pending x debits/credits, as TigerBeetle). A balance read is this one row.
- `JournalEntry` + `JournalLine`: immutable, balanced per currency. Python checks the balance, a
  PostgreSQL trigger checks it again after each INSERT of lines, and triggers reject UPDATE and
  DELETE. Each line stores the account's posted counters right after it (running balance, as-of).
- `Hold`: a pending two-phase transfer (reserved in the pending counters) resolved once.
- `PayoutIntent`: the outbox of payouts to the outside world, dispatched after commit.
- `Batch`: an all-or-nothing linked batch of operations and its idempotency key.
- `InvariantRun`: the result of each invariant check (shown in the admin).

Every posting carries a caller-supplied idempotency key under a unique constraint, plus a
fingerprint of its content so a reused key with other content is refused. The hot tables declare
their unique keys as `UniqueConstraint`s rather than `unique=True`, which on PostgreSQL would add
a second, `varchar_pattern_ops` index per key for LIKE queries nobody runs: every hold is inserted
and updated once more per index (the endorsement benchmark writes hundreds of thousands).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q

from escrow_project.common.crypto.fields import EncryptedJSONField
from escrow_project.common.display import describe_money
from escrow_project.common.money import DECIMAL_PLACES, MAX_DIGITS
from ledger.states import (
    HoldStatus,
    OperatorEntryStateMachine,
    OperatorEntryStatus,
    PayoutStateMachine,
    RailPaymentStateMachine,
    RailPaymentStatus,
)


def _money(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, **kwargs)  # type: ignore[arg-type]


class Side(models.TextChoices):
    DEBIT = "debit", "Debit"
    CREDIT = "credit", "Credit"


class Account(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    currency = models.CharField(max_length=3)
    normal_side = models.CharField(max_length=6, choices=Side.choices)
    owner_type = models.CharField(max_length=64)
    owner_id = models.CharField(max_length=128)
    purpose = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True)
    debits_must_not_exceed_credits = models.BooleanField(default=False)
    credits_must_not_exceed_debits = models.BooleanField(default=False)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    posted_debits = _money(default=0)
    posted_credits = _money(default=0)
    pending_debits = _money(default=0)
    pending_credits = _money(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner_type", "owner_id", "purpose", "currency"], name="ledger_account_unique_owner_purpose"
            ),
            # The counter CHECKs (non-negative, guards) are added by ledger/db_guards.py on PostgreSQL
            # only: SQLite stores decimals as floats, where 0.1 + 0.2 > 0.3 would trip them.
            models.CheckConstraint(
                condition=Q(debits_must_not_exceed_credits=False) | Q(credits_must_not_exceed_debits=False),
                name="ledger_account_one_guard",
            ),
            models.CheckConstraint(condition=Q(normal_side__in=["debit", "credit"]), name="ledger_account_normal_side"),
        ]

    def __str__(self) -> str:
        return f"{self.owner_type}:{self.owner_id}/{self.purpose} ({self.currency})"


class Batch(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    idempotency_key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    # [["entry", id] | ["hold", id], ...] in operation order, so a replay returns the same result.
    results = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "batches"
        constraints = [models.UniqueConstraint(fields=["idempotency_key"], name="ledger_batch_key_unique")]

    def __str__(self) -> str:
        return f"batch {self.idempotency_key}"


class EntryKind(models.TextChoices):
    TRANSFER = "transfer", "Transfer"
    HOLD_POST = "hold_post", "Hold posted"
    REVERSAL = "reversal", "Reversal"
    DEPOSIT = "deposit", "Deposit"
    PAYOUT = "payout", "Payout requested"
    PAYOUT_SETTLEMENT = "payout_settlement", "Payout settled"
    ADJUSTMENT = "adjustment", "Adjustment"
    ENTRY = "entry", "Multi-line entry"


class JournalEntry(models.Model):
    # Not stored: True on the instance a service returns when the idempotency key had already done
    # this very operation (nothing moved this time), as `BatchResult.replayed` says for a batch.
    replayed = False

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    idempotency_key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    kind = models.CharField(max_length=32, choices=EntryKind.choices)
    description = models.CharField(max_length=500, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by")
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.PROTECT, related_name="entries")
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "journal entries"
        indexes = [models.Index(fields=["created_at"])]
        constraints = [models.UniqueConstraint(fields=["idempotency_key"], name="ledger_entry_key_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.idempotency_key}"


class JournalLine(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    # No single-column index: the (account, -id) and (account, created_at, id) indexes below cover it.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lines", db_index=False)
    side = models.CharField(max_length=6, choices=Side.choices)
    amount = _money()
    currency = models.CharField(max_length=3)
    # The account's posted counters right after this line: running balance and as-of in one row.
    posted_debits_after = _money()
    posted_credits_after = _money()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_line_amount_positive"),
            models.CheckConstraint(condition=Q(side__in=["debit", "credit"]), name="ledger_line_side"),
        ]
        indexes = [
            models.Index(fields=["account", "-id"], name="ledger_line_account_id"),
            models.Index(fields=["account", "created_at", "id"], name="ledger_line_account_time"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {describe_money(self.amount, self.currency)} on account {self.account_id}"


class Hold(models.Model):
    replayed = False  # not stored; see JournalEntry.replayed

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    idempotency_key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    debit_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="debit_holds")
    credit_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="credit_holds")
    amount = _money()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=HoldStatus.choices, default=HoldStatus.PENDING)
    expires_at = models.DateTimeField(null=True, blank=True)
    description = models.CharField(max_length=500, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.PROTECT, related_name="holds")
    created_at = models.DateTimeField()
    # Resolution (post, void or expiry): once only, under its own idempotency key.
    resolution_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 -- unique once set; NULL while pending
    resolved_at = models.DateTimeField(null=True, blank=True)
    posted_amount = _money(null=True, blank=True)
    post_entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="posted_hold"
    )
    void_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_hold_amount_positive"),
            models.CheckConstraint(
                condition=~Q(debit_account=F("credit_account")), name="ledger_hold_distinct_accounts"
            ),
            models.UniqueConstraint(fields=["idempotency_key"], name="ledger_hold_key_unique"),
            models.UniqueConstraint(fields=["resolution_key"], name="ledger_hold_resolution_key_unique"),
        ]
        indexes = [
            models.Index(fields=["expires_at"], condition=Q(status="pending"), name="ledger_hold_pending_expiry"),
        ]

    def __str__(self) -> str:
        return f"hold {self.amount} {self.currency} ({self.status})"


class PayoutIntent(PayoutStateMachine):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    idempotency_key = models.CharField(max_length=255, unique=True)
    fingerprint = models.CharField(max_length=64)
    # Sent to the rail; stays the same when an unknown outcome is re-dispatched, so the rail (Stripe's
    # Idempotency-Key) never pays twice. A retry after a failure is a new intent with a new key.
    rail_idempotency_key = models.CharField(max_length=255, unique=True)
    rail = models.CharField(max_length=32)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="payouts")
    amount = _money()
    currency = models.CharField(max_length=3)
    beneficiary = EncryptedJSONField()
    metadata = models.JSONField(default=dict, blank=True)
    attempt = models.PositiveIntegerField(default=1)
    retry_of = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="retried_by")
    request_entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="payout_requested")
    outcome_entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="payout_outcome"
    )
    provider_reference = models.CharField(max_length=255, blank=True)
    failure_reason = models.CharField(max_length=500, blank=True)
    dispatch_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_payout_amount_positive")]
        indexes = [models.Index(fields=["status", "updated_at"], name="ledger_payout_status")]

    def __str__(self) -> str:
        return f"payout {self.amount} {self.currency} via {self.rail} ({self.status})"


class InvariantRun(models.Model):
    checked_at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField()
    breaches = models.JSONField(default=list)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-checked_at"]

    def __str__(self) -> str:
        return f"invariants {'ok' if self.ok else 'BREACHED'} at {self.checked_at:%Y-%m-%d %H:%M:%S}"


class RailPayment(RailPaymentStateMachine):
    """Money in that a payer completes at a rail (Stripe: a PaymentIntent). Credited only when the
    rail says it succeeded; the owning app hears of it through `rail_payment_succeeded`."""

    Status = RailPaymentStatus

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    rail = models.CharField(max_length=32)
    reference = models.CharField(max_length=255, help_text="the rail's id (Stripe PaymentIntent id)")
    idempotency_key = models.CharField(max_length=255, unique=True)
    amount = models.DecimalField(max_digits=20, decimal_places=4)
    currency = models.CharField(max_length=3)
    # Who the money is for, in the owning app's words (a generic subject: the ledger never points up).
    subject_type = models.CharField(max_length=64)
    subject_id = models.CharField(max_length=64)
    purpose = models.CharField(max_length=32)
    amount_refunded = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    failure_reason = models.CharField(max_length=500, blank=True, default="")
    applied = models.BooleanField(default=False, help_text="the owning app recorded the money")
    apply_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["rail", "reference"], name="ledger_rail_payment_reference"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_rail_payment_positive"),
        ]
        indexes = [models.Index(fields=["subject_type", "subject_id"], name="ledger_rail_payment_subject")]

    def __str__(self) -> str:
        return f"payment in {self.amount} {self.currency} via {self.rail} ({self.status})"


class RailEvent(models.Model):
    """Every verified event a rail sent us, with what we made of it (operators read these)."""

    rail = models.CharField(max_length=32)
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    livemode = models.BooleanField(default=False)
    body = EncryptedJSONField(help_text="the event as received (encrypted: it may carry payer details)")
    verdict = models.CharField(max_length=32)
    detail = models.CharField(max_length=500, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["rail", "event_id"], name="ledger_rail_event_once")]

    def __str__(self) -> str:
        return f"{self.rail} {self.type} {self.event_id} [{self.verdict}]"


class OperatorEntryRequest(OperatorEntryStateMachine):
    """Money an operator records by hand (a wire seen on the bank statement, a correction) above the
    four-eyes threshold: nothing is posted until a second operator approves it."""

    Status = OperatorEntryStatus

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=16, choices=[("deposit", "Money received"), ("adjustment", "Correction")])
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(max_digits=20, decimal_places=4)
    currency = models.CharField(max_length=3)
    details = models.JSONField(default=dict, help_text="rail and reference, or direction and reason")
    idempotency_key = models.CharField(max_length=255, unique=True)
    requested_by = models.CharField(max_length=100)
    decided_by = models.CharField(max_length=100, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True, default="")
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(decided_by="") | ~Q(decided_by=models.F("requested_by")),
                name="ledger_operator_entry_four_eyes",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_operator_entry_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency} [{self.status}]"


from ledger.models.reconciliation import (  # noqa: E402 - a package of models; these live beside the books
    BreakComment,
    BreakStatus,
    Business,
    ReasonCode,
    ReconciliationBreak,
    ReconciliationLine,
    ReconciliationRun,
    RunKind,
)

__all__ = [
    "Account",
    "Batch",
    "BreakComment",
    "BreakStatus",
    "Business",
    "EntryKind",
    "Hold",
    "InvariantRun",
    "JournalEntry",
    "JournalLine",
    "OperatorEntryRequest",
    "OperatorEntryStatus",
    "PayoutIntent",
    "RailEvent",
    "RailPayment",
    "RailPaymentStatus",
    "ReasonCode",
    "ReconciliationBreak",
    "ReconciliationLine",
    "ReconciliationRun",
    "RunKind",
    "Side",
]
