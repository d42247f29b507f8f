"""Group policies, their members and coverages, endorsement requests, batches, insurer traffic."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from endorsements.premium import ProrationMethod
from endorsements.states import (
    LIVE_STATES,
    BatchStateMachine,
    BatchStatus,
    DispatchStateMachine,
    DispatchStatus,
    MemberStateMachine,
    MemberStatus,
    RequestStateMachine,
)
from escrow_project.common.crypto.fields import EncryptedDateField, EncryptedJSONField, EncryptedTextField
from escrow_project.common.money import DECIMAL_PLACES, MAX_DIGITS
from identity.models import Organization


class Relationship(models.TextChoices):
    EMPLOYEE = "employee", "Employee"
    SPOUSE = "spouse", "Spouse or partner"
    CHILD = "child", "Child"
    PARENT = "parent", "Parent"


class EndorsementKind(models.TextChoices):
    ADDITION = "addition", "Addition"
    DELETION = "deletion", "Deletion"
    MODIFICATION = "modification", "Modification"


class Direction(models.TextChoices):
    DEBIT = "debit", "Debit (employer pays)"
    CREDIT = "credit", "Credit (refund to employer)"


class InsurerProfile(models.Model):
    """How we talk to one insurer and how it prices: one row per insurer organization."""

    class Protocol(models.TextChoices):
        REST = "rest", "REST"
        SOAP = "soap", "SOAP"
        SFTP = "sftp", "SFTP"

    insurer = models.OneToOneField(Organization, on_delete=models.PROTECT, related_name="insurer_profile")
    proration_method = models.CharField(
        max_length=8, choices=[(m.value, m.value) for m in ProrationMethod], default=ProrationMethod.DAYS.value
    )
    protocol = models.CharField(max_length=8, choices=Protocol.choices, default=Protocol.REST)
    base_url = models.URLField(blank=True, default="")
    # Outbound credential and inbound callback secrets are secrets: stored encrypted.
    api_key = EncryptedTextField(blank=True, default="")
    backdate_window_days = models.PositiveIntegerField(default=60)
    future_limit_days = models.PositiveIntegerField(default=90)
    window_seconds = models.PositiveIntegerField(default=60)
    max_attempts = models.PositiveIntegerField(default=5)
    last_window_at = models.DateTimeField(null=True, blank=True)
    # SOAP: `base_url` is the service's WSDL address. SFTP: the drop box below, key auth only.
    sftp_host = models.CharField(max_length=255, blank=True, default="")
    sftp_port = models.PositiveIntegerField(default=22)
    sftp_username = models.CharField(max_length=64, blank=True, default="")
    sftp_private_key = EncryptedTextField(blank=True, default="")
    # The insurer's host public key (OpenSSH format): without it we would send to any server.
    sftp_host_key = models.TextField(blank=True, default="")
    sftp_inbound_dir = models.CharField(max_length=255, blank=True, default="inbound")
    sftp_outbound_dir = models.CharField(max_length=255, blank=True, default="outbound")
    # X12 envelope identities (ISA06/GS02 ours, ISA08/GS03 the insurer's) and the last control
    # number used: ISA13/GS06 must never repeat between us and this insurer.
    x12_sender_id = models.CharField(max_length=15, blank=True, default="")
    x12_receiver_id = models.CharField(max_length=15, blank=True, default="")
    x12_last_control_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"Insurer profile of {self.insurer}"

    def clean(self) -> None:
        from endorsements.gateway.config import profile_problems

        problems = profile_problems(self)
        if problems:
            from django.core.exceptions import ValidationError

            raise ValidationError(problems)


class InsurerCallbackSecret(models.Model):
    """A secret the insurer signs callbacks with; several may be active during a rotation."""

    insurer = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="callback_secrets")
    key_id = models.CharField(max_length=40)
    secret = EncryptedTextField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["insurer", "key_id"], name="endorsement_secret_unique_key")]

    def __str__(self) -> str:
        return f"{self.insurer} secret {self.key_id}"


class GroupPolicy(models.Model):
    """An employer's group policy with one insurer for one term, priced in one currency."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    employer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="group_policies")
    insurer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="insured_policies")
    policy_number = models.CharField(max_length=64)
    term_start = models.DateField()
    term_end = models.DateField()
    currency = models.CharField(max_length=3)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "group policies"
        constraints = [
            models.UniqueConstraint(fields=["insurer", "policy_number"], name="endorsement_policy_unique_number"),
            models.CheckConstraint(condition=Q(term_end__gte=models.F("term_start")), name="endorsement_policy_term"),
        ]

    def __str__(self) -> str:
        return f"{self.policy_number} ({self.employer})"


class RateCard(models.Model):
    """Annual premium for one plan and relationship on one policy."""

    policy = models.ForeignKey(GroupPolicy, on_delete=models.CASCADE, related_name="rates")
    plan = models.CharField(max_length=40)
    relationship = models.CharField(max_length=16, choices=Relationship.choices)
    annual_premium = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "plan", "relationship"], name="endorsement_rate_unique"),
            models.CheckConstraint(condition=Q(annual_premium__gte=0), name="endorsement_rate_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.policy.policy_number} {self.plan}/{self.relationship}: {self.annual_premium}"


class Member(MemberStateMachine):
    """An employee or dependant on a policy. Identity data is encrypted; lookups use blind indexes."""

    Status = MemberStatus

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    policy = models.ForeignKey(GroupPolicy, on_delete=models.PROTECT, related_name="members")
    member_id = EncryptedTextField()
    member_index = models.CharField(max_length=64)
    # Not called `name`: every encrypted field name is masked in all logs, and "name" is everywhere.
    person_name = EncryptedTextField()
    date_of_birth = EncryptedDateField()
    relationship = models.CharField(max_length=16, choices=Relationship.choices)
    employee = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="dependants")
    plan = models.CharField(max_length=40)
    claim_in_term = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "member_index"], name="endorsement_member_unique_id"),
        ]

    def __str__(self) -> str:
        return f"Member {self.public_id} ({self.relationship}, {self.status})"


class Coverage(models.Model):
    """Who is covered under which plan from when to when (one row per continuous plan period).

    Premiums and refunds follow these periods, not `Member.plan` (the latest plan): a plan change
    dated ahead is its own period from its date. A period that a later deletion or change replaced
    before it began is kept, voided (`voided_at`), and counts for nothing.
    """

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="coverages")
    policy = models.ForeignKey(GroupPolicy, on_delete=models.PROTECT, related_name="coverages")
    plan = models.CharField(max_length=40)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member"], condition=Q(end_date__isnull=True), name="endorsement_one_open_coverage"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.plan} {self.start_date}..{self.end_date or ''}"


class EndorsementAccount(models.Model):
    """The employer's Endorsement Account for one currency; a ledger account does the bookkeeping.

    This row is also the lock that serialises every lock/park/wake decision for the account.
    """

    employer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="endorsement_accounts")
    currency = models.CharField(max_length=3)
    ledger_account_id = models.CharField(max_length=64, blank=True, default="")
    low_balance_threshold = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["employer", "currency"], name="endorsement_account_unique"),
        ]

    def __str__(self) -> str:
        return f"EA {self.employer} {self.currency}"


class EmployerSafeguards(models.Model):
    """Per-employer thresholds of the velocity circuit breaker and the cash-flow forecast.

    An employer without a row gets the defaults below (`safeguards_for`).
    """

    employer = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="endorsement_safeguards")
    velocity_enabled = models.BooleanField(default=True)
    # A file trips the breaker when, with it, the last hour's or day's additions (or deletions) pass
    # this many times the employer's busiest hour or day of the lookback period...
    velocity_multiplier = models.PositiveSmallIntegerField(default=3)
    velocity_lookback_days = models.PositiveSmallIntegerField(default=90)
    # ... and are more than this many rows (a small employer's normal month never trips).
    velocity_min_rows = models.PositiveIntegerField(default=100)
    # A single file removing more than this share of the covered members trips it too.
    deletion_share_percent = models.PositiveSmallIntegerField(default=20)
    deletion_share_min_rows = models.PositiveIntegerField(default=5)
    # Forecast: the balance to keep above what is pending, as a share of the annual premium...
    floor_percent = models.PositiveSmallIntegerField(default=10)
    # ... plus this many days of the employer's usual spending in a recommended top-up.
    topup_cover_days = models.PositiveSmallIntegerField(default=30)
    # HR is warned when the account will run dry within this many days.
    low_balance_days = models.PositiveSmallIntegerField(default=14)

    class Meta:
        verbose_name_plural = "employer safeguards"
        constraints = [
            models.CheckConstraint(condition=Q(velocity_multiplier__gte=1), name="endorsement_safeguard_multiplier"),
            models.CheckConstraint(
                condition=Q(deletion_share_percent__lte=100, floor_percent__lte=100), name="endorsement_safeguard_pct"
            ),
        ]

    def __str__(self) -> str:
        return f"Safeguards of {self.employer}"


class InsurerAccount(models.Model):
    """The insurer's premium account per currency: debits are posted to it, refunds come from it."""

    insurer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="endorsement_insurer_accounts")
    currency = models.CharField(max_length=3)
    ledger_account_id = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["insurer", "currency"], name="endorsement_insurer_account_unique"),
        ]

    def __str__(self) -> str:
        return f"Premium account {self.insurer} {self.currency}"


class Batch(BatchStateMachine):
    """An uploaded file of endorsements, processed in the background in chunks."""

    Status = BatchStatus

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSON = "json", "JSON"
        X12 = "x12", "X12 834"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    employer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="endorsement_batches")
    submitted_by = models.ForeignKey("identity.User", on_delete=models.SET_NULL, null=True, blank=True)
    file_format = models.CharField(max_length=8, choices=Format.choices)
    file_name = models.CharField(max_length=255, blank=True, default="")
    file_path = models.CharField(max_length=500)
    file_sha256 = models.CharField(max_length=64)
    # The SHA-256 again, set on uploads since whole-file dedupe (NULL on older rows, which may hold
    # the same file twice): the unique constraint below is on it, so it applies to existing data.
    file_key = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    file_size = models.PositiveBigIntegerField(default=0)
    # The resume cursor: the number of the last row committed (a CSV's spreadsheet line, a JSON
    # element's position), not a count. Counts of rows are the three below; the total is counted at upload.
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_accepted = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    rows_duplicate = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    # Things the uploader should know that are not errors ("the file has no rows").
    warnings = models.JSONField(default=list, blank=True)
    # The velocity circuit breaker: why the file waits for review, the figures it decided on, and
    # the review. A released file is not checked again.
    hold_reason = models.TextField(blank=True, default="")
    velocity = models.JSONField(default=dict, blank=True)
    velocity_cleared = models.BooleanField(default=False)
    reviewed_by = models.ForeignKey("identity.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "batches"
        ordering = ["-created_at"]
        constraints = [
            # The same file is one batch: a second upload answers with the first (unless it failed).
            models.UniqueConstraint(
                fields=["employer", "file_key"],
                condition=Q(file_key__isnull=False) & ~Q(status="failed"),
                name="endorsement_batch_unique_file",
            ),
        ]

    def __str__(self) -> str:
        return f"Batch {self.public_id} ({self.status})"

    @property
    def rows_processed(self) -> int:
        return self.rows_accepted + self.rows_rejected + self.rows_duplicate

    @property
    def percent_done(self) -> int:
        if self.status == self.Status.COMPLETED:
            return 100
        if not self.rows_total:
            return 0
        return min(100, self.rows_processed * 100 // self.rows_total)


class EndorsementRequest(RequestStateMachine):
    """One addition, deletion or modification, from intake to the insurer's answer."""

    # Unique by constraint (Meta): `unique=True` would add a LIKE index on PostgreSQL. Employer and
    # insurer need no index of their own: the queue and dispatch indexes start with them. Each
    # index costs every insert and state change of a request (five per request on its way).
    tracking_id = models.CharField(max_length=32)
    policy = models.ForeignKey(GroupPolicy, on_delete=models.PROTECT, related_name="requests")
    employer = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="endorsement_requests", db_index=False
    )
    insurer = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="received_endorsements", db_index=False
    )
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="requests")
    kind = models.CharField(max_length=16, choices=EndorsementKind.choices)
    plan = models.CharField(max_length=40, blank=True, default="")
    new_plan = models.CharField(max_length=40, blank=True, default="")
    effective_date = models.DateField()
    direction = models.CharField(max_length=8, choices=Direction.choices)
    amount = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES)
    currency = models.CharField(max_length=3)
    content_hash = models.CharField(max_length=64)
    source = models.CharField(max_length=8, default="api")
    batch = models.ForeignKey(Batch, on_delete=models.SET_NULL, null=True, blank=True, related_name="requests")
    batch_row = models.PositiveIntegerField(null=True, blank=True)
    hold_id = models.CharField(max_length=64, blank=True, default="")
    dispatch = models.ForeignKey("Dispatch", on_delete=models.SET_NULL, null=True, blank=True, related_name="requests")
    insurer_reference = models.CharField(max_length=100, blank=True, default="")
    claim_reported = models.BooleanField(default=False)
    settled_amount = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tracking_id"], name="endorsement_request_tracking_id_unique"),
            # The same content may be live only once: the database, not a check-then-insert, decides.
            models.UniqueConstraint(
                fields=["content_hash"],
                condition=Q(state__in=[s.value for s in LIVE_STATES]),
                name="endorsement_request_unique_live_content",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="endorsement_request_amount_non_negative"),
        ]
        indexes = [
            models.Index(fields=["employer", "currency", "state", "effective_date"], name="endorsement_req_queue"),
            models.Index(fields=["insurer", "state"], name="endorsement_req_dispatch"),
        ]

    def __str__(self) -> str:
        return f"{self.tracking_id} {self.kind} ({self.state})"

    @property
    def is_debit(self) -> bool:
        return self.direction == Direction.DEBIT and self.amount > 0


class BatchRow(models.Model):
    """The outcome of one row of a batch: accepted (with its tracking id), rejected or duplicate."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        DUPLICATE = "duplicate", "Duplicate"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="rows")
    row_number = models.PositiveIntegerField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    tracking_id = models.CharField(max_length=32, blank=True, default="")
    original_tracking_id = models.CharField(max_length=32, blank=True, default="")
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["row_number"]
        constraints = [models.UniqueConstraint(fields=["batch", "row_number"], name="endorsement_batch_row_unique")]

    def __str__(self) -> str:
        return f"Row {self.row_number}: {self.outcome}"


class Dispatch(DispatchStateMachine):
    """One window's send of ready requests to one insurer: recorded before the HTTP call is made."""

    Status = DispatchStatus

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    insurer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="endorsement_dispatches")
    idempotency_key = models.CharField(max_length=80, unique=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # SFTP: the 834's interchange control number and file name, fixed at the first attempt so a
    # retry uploads the very same file (the insurer dedupes by name and BGN reference).
    control_number = models.PositiveIntegerField(null=True, blank=True)
    file_name = models.CharField(max_length=120, blank=True, default="")
    # The insurer's 999: "A" accepted, "E" accepted with errors, "R" rejected, "P" partially.
    ack_status = models.CharField(max_length=1, blank=True, default="")

    class Meta:
        verbose_name_plural = "dispatches"
        constraints = [
            models.UniqueConstraint(
                fields=["insurer", "control_number"], name="endorsement_dispatch_unique_control_number"
            ),
        ]

    def __str__(self) -> str:
        return f"Dispatch {self.public_id} ({self.status})"


class GatewayExchange(models.Model):
    """Every request to and response from an insurer, kept for audit and support."""

    insurer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="gateway_exchanges")
    dispatch = models.ForeignKey(Dispatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="exchanges")
    direction = models.CharField(max_length=8, default="outbound")
    operation = models.CharField(max_length=40)
    idempotency_key = models.CharField(max_length=80, blank=True, default="")
    url = models.CharField(max_length=500, blank=True, default="")
    # Bodies carry member identities: encrypted at rest like the members themselves.
    request_body = EncryptedTextField(blank=True, default="")
    response_status = models.IntegerField(null=True, blank=True)
    response_body = EncryptedTextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.direction} {self.operation} {self.response_status}"


class InsurerEvent(models.Model):
    """A callback event from an insurer; the unique event id makes replays harmless."""

    insurer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="endorsement_events")
    event_id = models.CharField(max_length=100)
    event_type = models.CharField(max_length=40)
    request = models.ForeignKey(
        EndorsementRequest, on_delete=models.SET_NULL, null=True, blank=True, related_name="insurer_events"
    )
    outcome = models.CharField(max_length=40)
    event_document = EncryptedJSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["insurer", "event_id"], name="endorsement_event_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}: {self.outcome}"


class InboundFile(models.Model):
    """A file the insurer left in its SFTP outbox (999 or result): recorded once, applied once."""

    class Kind(models.TextChoices):
        ACK_999 = "999", "999 acknowledgement"
        RESULT = "result", "Result file"
        # statement_<first day>_<last day>.csv: the monthly statement, reconciled on arrival (0103).
        STATEMENT = "stmt", "Monthly statement"

    class Status(models.TextChoices):
        APPLIED = "applied", "Applied"
        DEAD_LETTER = "dead_letter", "Dead letter (unreadable)"

    insurer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="endorsement_inbound_files")
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    sha256 = models.CharField(max_length=64)
    # Kept whole, also (above all) when it could not be read: an operator needs the original.
    content = EncryptedTextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    dispatch = models.ForeignKey(
        Dispatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_files"
    )
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["insurer", "name"], name="endorsement_inbound_file_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.name} ({self.status})"


class CensusImport(models.Model):
    """An employer's already-covered members loaded onto a policy: the opening position.

    Members and coverages are created with their real start dates and no premium is charged (no
    request, no ledger entry); endorsements afterwards price against that history.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed (file unreadable)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    policy = models.ForeignKey(GroupPolicy, on_delete=models.PROTECT, related_name="census_imports")
    submitted_by = models.ForeignKey("identity.User", on_delete=models.SET_NULL, null=True, blank=True)
    file_name = models.CharField(max_length=255, blank=True, default="")
    file_path = models.CharField(max_length=500)
    file_sha256 = models.CharField(max_length=64)
    file_size = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows_done = models.PositiveIntegerField(default=0)
    rows_created = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    # The first rejected rows with their reasons (capped: a bad 10,000-row file stays small here).
    row_errors = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Census {self.public_id} ({self.status})"


class ParkedRequest(EndorsementRequest):
    """Requests waiting for funds, for the operator console."""

    class Meta:
        proxy = True
        verbose_name = "parked request (insufficient funds)"


class HeldBatch(Batch):
    """Files the velocity circuit breaker held, for the operator's review."""

    class Meta:
        proxy = True
        verbose_name = "held batch (velocity review)"
        verbose_name_plural = "held batches (velocity review)"


class DeadLetterRequest(EndorsementRequest):
    """Requests whose delivery failed for good, for the operator console."""

    class Meta:
        proxy = True
        verbose_name = "dead-letter request"
