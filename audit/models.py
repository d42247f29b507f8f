"""Append-only audit log: events (hash-chained per subject), Merkle tiles, tree heads, anchors."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from audit.states import AnchorStateMachine
from audit.states import AnchorStatus as AnchorStatus  # re-exported: callers import it from here

HASH_LEN = 64  # hex SHA-256


class SubjectHead(models.Model):
    """The tip of one subject's hash chain; locked by every append so the chain never forks."""

    subject_type = models.CharField(max_length=64)
    subject_id = models.CharField(max_length=128)
    length = models.PositiveBigIntegerField(default=0)
    head_hash = models.CharField(max_length=HASH_LEN, blank=True, default="")
    # The head before the latest append: the one-statement append reads the event's prev_hash
    # back from here (RETURNING gives only the new row). A database default, so code deployed
    # before this column (which does not name it) can still insert heads during a rollout.
    prev_head_hash = models.CharField(max_length=HASH_LEN, blank=True, default="", db_default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subject_type", "subject_id"], name="audit_subject_head_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.subject_type}:{self.subject_id} ({self.length} events)"


class AuditEvent(models.Model):
    """One recorded fact. The database refuses UPDATE and DELETE of these rows."""

    kind = models.CharField(max_length=100)
    subject_type = models.CharField(max_length=64)
    subject_id = models.CharField(max_length=128)
    seq = models.PositiveBigIntegerField(help_text="Position in the subject's chain, from 1.")
    prev_hash = models.CharField(max_length=HASH_LEN)
    actor = models.CharField(max_length=200)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    request_id = models.CharField(max_length=128, blank=True, default="")
    payload = models.JSONField(default=dict)
    salt = models.CharField(max_length=32)
    event_hash = models.CharField(max_length=HASH_LEN)

    class Meta:
        ordering = ["id"]
        # Few indexes on purpose: every one is paid on each insert. Kind and time filters run
        # within one subject, whose rows the (subject, seq) index finds. The hash is unique by a
        # constraint rather than `unique=True`, which on PostgreSQL also builds a
        # varchar_pattern_ops index for prefix searches nobody makes.
        constraints = [
            models.UniqueConstraint(fields=["subject_type", "subject_id", "seq"], name="audit_event_subject_seq"),
            models.UniqueConstraint(fields=["event_hash"], name="audit_event_hash_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.subject_type}:{self.subject_id} #{self.seq}"

    @property
    def leaf_index(self) -> int | None:
        leaf = getattr(self, "leaf", None)  # the reverse one-to-one raises when absent
        return leaf.leaf_index if leaf is not None else None


class PendingEvent(models.Model):
    """The sealer's queue: one row per event not yet in the Merkle tree, deleted when sealed."""

    event = models.OneToOneField(AuditEvent, primary_key=True, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"pending {self.event_id}"


class Leaf(models.Model):
    """The event at each position of the Merkle tree. Insert-only, like the events.

    A separate narrow table rather than a column on the event, so that the event rows are never
    updated at all, and so that sealing 100,000 events is one cheap INSERT ... SELECT.
    """

    leaf_index = models.BigIntegerField(primary_key=True)
    event = models.OneToOneField(AuditEvent, on_delete=models.PROTECT, related_name="leaf")

    def __str__(self) -> str:
        return f"leaf {self.leaf_index}"


class TreeState(models.Model):
    """Singleton row: the number of leaves in the log. Locked by the sealer, so sealing is serial."""

    size = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"log of {self.size} leaves"


class Tile(models.Model):
    """Up to 256 consecutive node hashes at height 8*level (the tlog tile layout).

    Level 0 holds leaf hashes; level L holds the roots of the full tiles of level L-1. Any node of
    the tree is at most 127 hash operations away from one stored tile, so a proof costs a few
    queries and a few hundred hashes whatever the size of the log.
    """

    level = models.PositiveSmallIntegerField()
    index = models.PositiveBigIntegerField()
    hashes = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["level", "index"], name="audit_tile_unique")]

    def __str__(self) -> str:
        return f"tile {self.level}/{self.index} ({len(self.hashes) // 32} hashes)"


class TreeHead(models.Model):
    """A signed tree head (size, root, time, Ed25519 signature)."""

    tree_size = models.PositiveBigIntegerField(unique=True)
    root_hash = models.CharField(max_length=HASH_LEN)
    timestamp_ms = models.BigIntegerField()
    log_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)
    public_key = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-tree_size"]

    def __str__(self) -> str:
        return f"tree head {self.tree_size} {self.root_hash[:12]}"


class Anchor(AnchorStateMachine):
    """One tree head recorded on chain. One row per tree head: the intent row prevents double sends."""

    tree_head = models.OneToOneField(TreeHead, on_delete=models.PROTECT, related_name="anchor")
    chain_id = models.BigIntegerField(null=True, blank=True)
    contract_address = models.CharField(max_length=42, blank=True, default="")
    sender = models.CharField(max_length=42, blank=True, default="")
    nonce = models.BigIntegerField(null=True, blank=True)
    tx_hash = models.CharField(max_length=66, blank=True, default="")
    # The signed transaction, stored before it is sent: a retry after a crash rebroadcasts these
    # very bytes (same nonce, same hash) instead of signing a second anchor.
    raw_tx = models.TextField(blank=True, default="")
    confirmations_required = models.PositiveIntegerField(default=1)
    block_number = models.BigIntegerField(null=True, blank=True)
    block_hash = models.CharField(max_length=66, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status"], name="audit_anchor_status")]

    def __str__(self) -> str:
        return f"anchor of {self.tree_head_id} ({self.status})"
