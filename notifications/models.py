"""The outbox (one row per message per channel), its attempts, webhook endpoints, preferences and
the per-channel circuit breakers."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from escrow_project.common.crypto.fields import EncryptedJSONField, EncryptedTextField
from identity.models import Organization


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"
    WEBHOOK = "webhook", "Webhook"
    LIVE = "live", "Live (WebSocket)"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class Notification(models.Model):
    """One message to one target on one channel: the outbox row and its delivery record."""

    # Stable across retries: it is the webhook-id, the e-mail Message-ID and the idempotency key.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=64, db_index=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    status = models.CharField(max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    recipient_organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    webhook_endpoint = models.ForeignKey(
        "WebhookEndpoint", null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    # The e-mail address or phone number, captured at enqueue time (personal data: encrypted).
    address = EncryptedTextField(blank=True, default="")
    # Who, without personal data: user:<id>, endpoint:<id>, address:<blind index prefix>.
    target = models.CharField(max_length=100)
    context = EncryptedJSONField(default=dict)
    subject_type = models.CharField(max_length=40, blank=True, default="")
    subject_id = models.CharField(max_length=64, blank=True, default="")
    # NULL, not "": rows without a key must stay out of the partial unique constraint.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    bypass_preferences = models.BooleanField(default=False)
    digest = models.BooleanField(default=False, help_text="Held for the next digest instead of sent alone.")
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    last_error = models.TextField(blank=True, default="")
    provider_message_id = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True, help_text="Lease of the worker sending it.")
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key", "channel", "target"],
                condition=Q(dedupe_key__isnull=False),
                name="notification_dedupe_unique",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in NotificationStatus]), name="notification_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=[c.value for c in Channel]), name="notification_channel_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="notification_due_idx"),
            models.Index(fields=["recipient_user", "-created_at"], name="notification_user_idx"),
            models.Index(fields=["webhook_endpoint", "-created_at"], name="notification_endpoint_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} via {self.channel} to {self.target} ({self.status})"


class NotificationAttempt(models.Model):
    """One try at delivering a notification; an attempt with no finish time was cut short."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, blank=True, default="")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="", help_text="Shown to the partner: no answer bodies.")
    operator_detail = models.TextField(
        blank=True,
        default="",
        help_text="For operators only (admin), redacted: what the peer answered, why a connection failed.",
    )
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["notification_id", "number", "id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.notification_id}: {self.outcome or 'in flight'}"


class WebhookEndpoint(models.Model):
    """A partner's URL that receives signed events for its organization."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True, default="")
    # Empty means every kind.
    kinds = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization_id", "id"]

    def __str__(self) -> str:
        return f"{self.organization} → {self.url}"


class WebhookSecret(models.Model):
    """A signing secret; several are active while a rotation's grace period runs."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="secrets")
    secret = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: valid until rotated.")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"secret {self.pk} of endpoint {self.endpoint_id}"


class NotificationPreference(models.Model):
    """Whether a user or an organization wants a kind (empty: every kind) on a channel."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notification_preferences",
    )
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=64, blank=True, default="", help_text="Empty: every kind.")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    enabled = models.BooleanField(default=True)
    digest = models.BooleanField(default=False, help_text="Collect into a periodic digest (e-mail only).")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, organization__isnull=True)
                | Q(user__isnull=True, organization__isnull=False),
                name="notification_preference_one_owner",
            ),
            models.UniqueConstraint(
                fields=["user", "kind", "channel"],
                condition=Q(user__isnull=False),
                name="notification_pref_user_unique",
            ),
            models.UniqueConstraint(
                fields=["organization", "kind", "channel"],
                condition=Q(organization__isnull=False),
                name="notification_pref_org_unique",
            ),
        ]

    def __str__(self) -> str:
        owner = f"user {self.user_id}" if self.user_id else f"organization {self.organization_id}"
        return f"{owner}: {self.kind or 'all kinds'} via {self.channel} {'on' if self.enabled else 'off'}"


class ContactPoint(models.Model):
    """A user's phone number for SMS (personal data: encrypted)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_point")
    phone = EncryptedTextField(blank=True, default="")

    def __str__(self) -> str:
        return f"contact point of user {self.user_id}"


class CircuitState(models.TextChoices):
    CLOSED = "closed", "Closed"
    OPEN = "open", "Open"
    HALF_OPEN = "half_open", "Half-open"


class ChannelCircuit(models.Model):
    """The circuit breaker of one channel or webhook endpoint, shared by every worker through this row."""

    # A channel ("email", "sms"), or "webhook:<endpoint id>": each partner's endpoint has its own
    # breaker, so one partner's dead endpoint never pauses the others' webhooks.
    channel = models.CharField(max_length=64, primary_key=True)
    state = models.CharField(max_length=16, choices=CircuitState.choices, default=CircuitState.CLOSED)
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    probe_until = models.DateTimeField(null=True, blank=True, help_text="A half-open trial is in flight until then.")
    last_error = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.channel}: {self.state}"


class NotificationFanout(models.Model):
    """One message to many recipients, written in the caller's transaction and expanded by a worker
    into per-target outbox rows, so a business request does not pay for every party's preferences,
    memberships and webhook endpoints."""

    kind = models.CharField(max_length=64)
    # [{"type": "organization", "organization_id": 1}, {"type": "user", "user_id": 2}]: no addresses.
    recipients = models.JSONField(default=list)
    context = EncryptedJSONField(default=dict)
    subject_type = models.CharField(max_length=40, blank=True, default="")
    subject_id = models.CharField(max_length=64, blank=True, default="")
    # Each recipient's outbox rows get "<dedupe_prefix>:<recipient>" as their dedupe key.
    dedupe_prefix = models.CharField(max_length=160, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    expanded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["created_at"], condition=Q(expanded_at__isnull=True), name="notification_fanout_due_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {len(self.recipients)} recipient(s) ({'expanded' if self.expanded_at else 'waiting'})"
