"""The operator console for notifications: the outbox, endpoints, circuit breakers."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from escrow_project.common.admin import ReadOnlyAdmin, ReadOnlyInline, ReasonForm, object_action
from notifications import services
from notifications.channels.sms import masked
from notifications.models import (
    ChannelCircuit,
    CircuitState,
    ContactPoint,
    Notification,
    NotificationAttempt,
    NotificationPreference,
    NotificationStatus,
    WebhookEndpoint,
    WebhookSecret,
)

_ATTEMPT_FIELDS: list[str] = [
    "number",
    "started_at",
    "finished_at",
    "outcome",
    "status_code",
    "duration_ms",
    "error",
    "operator_detail",
]


class AttemptInline(ReadOnlyInline):
    model = NotificationAttempt
    fields = tuple(_ATTEMPT_FIELDS)
    readonly_fields = _ATTEMPT_FIELDS


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "kind",
        "channel",
        "status",
        "target",
        "attempts",
        "short_error",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status", "channel", "kind", "digest", "bypass_preferences", "created_at"]
    search_fields = ["=public_id", "kind", "target", "provider_message_id", "dedupe_key", "subject_id"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "public_id",
        "kind",
        "channel",
        "status",
        "recipient_user",
        "recipient_organization",
        "webhook_endpoint",
        "target",
        "subject_type",
        "subject_id",
        "dedupe_key",
        "bypass_preferences",
        "digest",
        "attempts",
        "max_attempts",
        "last_error",
        "provider_message_id",
        "created_at",
        "updated_at",
        "next_attempt_at",
        "claimed_until",
        "sent_at",
        "read_at",
    ]
    exclude = ["address", "context"]  # personal data stays out of the console
    inlines = [AttemptInline]
    object_actions = ["retry"]

    @admin.display(description="last error")
    def short_error(self, row: Notification) -> str:
        return row.last_error[:80]

    @object_action(
        label="Send again",
        describe=lambda n: (
            f"Send the {n.get_channel_display().lower()} message {n.kind} (#{n.pk}, now "
            f"{n.get_status_display().lower()}) again to the same recipient, with the same message id; its attempts "
            "start from zero."
        ),
        available=lambda n: n.status in (NotificationStatus.FAILED, NotificationStatus.SENT),
    )
    def retry(self, request: HttpRequest, row: Notification, form: ReasonForm) -> str:
        services.notification_retry(notification_id=row.pk)
        return f"Notification #{row.pk} queued again."


class SecretInline(ReadOnlyInline):
    model = WebhookSecret
    fields = ["created_at", "expires_at"]  # never the secret itself
    readonly_fields = ["created_at", "expires_at"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ["url", "organization", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "organization__name", "=public_id"]
    readonly_fields = ["public_id", "organization", "url", "description", "kinds", "is_active", "created_at"]
    inlines = [SecretInline]
    object_actions = ["disable"]

    @object_action(
        label="Disable the endpoint",
        describe=lambda e: (
            f"Stop sending webhooks to {e.url} ({e.organization}); messages already queued for it "
            "fail with that reason. The partner re-enables it through the API."
        ),
        available=lambda e: e.is_active,
        danger=True,
    )
    def disable(self, request: HttpRequest, endpoint: WebhookEndpoint, form: ReasonForm) -> str:
        services.webhook_endpoint_disable(endpoint_id=endpoint.pk)
        return f"{endpoint.url}: disabled."


@admin.register(ChannelCircuit)
class ChannelCircuitAdmin(ReadOnlyAdmin):
    list_display = ["channel", "state", "consecutive_failures", "opened_at", "short_error", "updated_at"]
    list_filter = ["state"]
    readonly_fields = ["channel", "state", "consecutive_failures", "opened_at", "probe_until", "last_error"]
    object_actions = ["reset"]

    @admin.display(description="last error")
    def short_error(self, row: ChannelCircuit) -> str:
        return row.last_error[:80]

    @object_action(
        label="Close the circuit breaker",
        describe=lambda c: (
            f"Close the {c.channel} breaker now ({c.get_state_display().lower()}, "
            f"{c.consecutive_failures} failures in a row): sending resumes at once instead of after the probe."
        ),
        available=lambda c: c.state != CircuitState.CLOSED,
    )
    def reset(self, request: HttpRequest, circuit: ChannelCircuit, form: ReasonForm) -> str:
        services.circuit_reset(channel=circuit.channel)
        return f"The {circuit.channel} circuit breaker is closed."


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(ReadOnlyAdmin):
    list_display = ["user", "organization", "kind", "channel", "enabled", "digest"]
    list_filter = ["channel", "enabled", "digest"]
    search_fields = ["user__username", "organization__name", "kind"]


@admin.register(ContactPoint)
class ContactPointAdmin(ReadOnlyAdmin):
    list_display = ["user", "masked_phone"]
    search_fields = ["user__username"]
    exclude = ["phone"]

    @admin.display(description="phone")
    def masked_phone(self, row: ContactPoint) -> str:
        return masked(row.phone) if row.phone else ""
