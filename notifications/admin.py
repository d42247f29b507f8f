"""The operator console for notifications: the outbox, endpoints, circuit breakers."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from escrow_project.common.admin import ReadOnlyAdmin
from escrow_project.common.errors import DomainError
from notifications import services
from notifications.channels.sms import masked
from notifications.models import (
    ChannelCircuit,
    ContactPoint,
    Notification,
    NotificationAttempt,
    NotificationPreference,
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


class AttemptInline(admin.TabularInline[NotificationAttempt, Notification]):
    model = NotificationAttempt
    extra = 0
    can_delete = False
    fields = tuple(_ATTEMPT_FIELDS)
    readonly_fields = _ATTEMPT_FIELDS

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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
    actions = ["retry"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Needed to open the detail page and run actions; every field is read-only anyway.
        return bool(request.user.is_staff)

    @admin.display(description="last error")
    def short_error(self, row: Notification) -> str:
        return row.last_error[:80]

    @admin.action(description="Send again (failed or sent rows)")
    def retry(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        done, refused = 0, []
        for row in queryset:
            try:
                services.notification_retry(notification_id=row.pk)
                done += 1
            except DomainError as exc:
                refused.append(f"#{row.pk}: {exc.detail}")
        if done:
            self.message_user(request, f"{done} notification(s) queued again.", messages.SUCCESS)
        for reason in refused[:10]:
            self.message_user(request, reason, messages.WARNING)


class SecretInline(admin.TabularInline[WebhookSecret, WebhookEndpoint]):
    model = WebhookSecret
    extra = 0
    can_delete = False
    fields = ["created_at", "expires_at"]  # never the secret itself
    readonly_fields = ["created_at", "expires_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ["url", "organization", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "organization__name", "=public_id"]
    readonly_fields = ["public_id", "organization", "url", "description", "kinds", "is_active", "created_at"]
    inlines = [SecretInline]
    actions = ["disable"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_staff)

    @admin.action(description="Disable the endpoint")
    def disable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            services.webhook_endpoint_disable(endpoint_id=endpoint.pk)
        self.message_user(request, f"{queryset.count()} endpoint(s) disabled.", messages.SUCCESS)


@admin.register(ChannelCircuit)
class ChannelCircuitAdmin(ReadOnlyAdmin):
    list_display = ["channel", "state", "consecutive_failures", "opened_at", "short_error", "updated_at"]
    list_filter = ["state"]
    readonly_fields = ["channel", "state", "consecutive_failures", "opened_at", "probe_until", "last_error"]
    actions = ["reset"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_staff)

    @admin.display(description="last error")
    def short_error(self, row: ChannelCircuit) -> str:
        return row.last_error[:80]

    @admin.action(description="Close the circuit breaker now")
    def reset(self, request: HttpRequest, queryset: QuerySet[ChannelCircuit]) -> None:
        for circuit in queryset:
            services.circuit_reset(channel=circuit.channel)
        self.message_user(request, "Circuit breaker(s) closed.", messages.SUCCESS)


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
