from __future__ import annotations

from typing import Any

from rest_framework import serializers

from notifications.kinds import ALL_CHANNELS, KINDS
from notifications.models import Notification, NotificationAttempt, NotificationPreference, WebhookEndpoint
from notifications.rendering import render_message


def _known_kind(value: str) -> str:
    if value and value not in KINDS:
        raise serializers.ValidationError(f"Unknown kind; known kinds: {', '.join(sorted(KINDS))}.", code="unknown")
    return value


class KindField(serializers.CharField):
    """A kind name checked against the registry: a plain string in the schema, not an enum (the list is
    long, lives in notifications/kinds.py, and an enum would collide with Organization.kind)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        return _known_kind(super().to_internal_value(data))


def _kind_field(**kwargs: Any) -> KindField:
    return KindField(**kwargs)


class NotificationSerializer(serializers.ModelSerializer[Notification]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    subject = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "channel",
            "status",
            "subject",
            "subject_type",
            "subject_id",
            "created_at",
            "sent_at",
            "read_at",
        ]
        read_only_fields = fields

    def get_subject(self, row: Notification) -> str:
        return render_message(row.kind, row.context).subject


class PreferenceSerializer(serializers.ModelSerializer[NotificationPreference]):
    kind = _kind_field(required=False, default="", allow_blank=True, help_text="Empty: every kind.")
    channel = serializers.ChoiceField(choices=list(ALL_CHANNELS))
    enabled = serializers.BooleanField(default=True)
    digest = serializers.BooleanField(default=False)

    class Meta:
        model = NotificationPreference
        fields = ["kind", "channel", "enabled", "digest"]


class ContactSerializer(serializers.Serializer[Any]):
    phone = serializers.CharField(max_length=20, allow_blank=True)


class WebhookEndpointSerializer(serializers.ModelSerializer[WebhookEndpoint]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    organization = serializers.UUIDField(source="organization.public_id", read_only=True)
    secrets = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "organization", "url", "description", "kinds", "is_active", "created_at", "secrets"]
        read_only_fields = fields

    def get_secrets(self, endpoint: WebhookEndpoint) -> list[dict[str, Any]]:
        # Only when each secret was made and when it stops signing: never the secret itself.
        return [{"created_at": s.created_at, "expires_at": s.expires_at} for s in endpoint.secrets.all()]


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown once. Store it to verify our signatures.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointCreateSerializer(serializers.Serializer[Any]):
    organization = serializers.UUIDField(required=False, help_text="Needed when you belong to several.")
    url = serializers.URLField(max_length=500)
    description = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    kinds = serializers.ListField(child=_kind_field(), required=False, default=list, help_text="Empty: every kind.")


class WebhookEndpointUpdateSerializer(serializers.Serializer[Any]):
    url = serializers.URLField(max_length=500, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    kinds = serializers.ListField(child=_kind_field(), required=False)


class RotateSerializer(serializers.Serializer[Any]):
    grace_hours = serializers.IntegerField(min_value=0, max_value=168, required=False)


class RotatedSecretSerializer(serializers.Serializer[Any]):
    secret = serializers.CharField()


class AttemptSerializer(serializers.ModelSerializer[NotificationAttempt]):
    class Meta:
        model = NotificationAttempt
        fields = ["number", "started_at", "finished_at", "outcome", "status_code", "error", "duration_ms"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer[Notification]):
    id = serializers.UUIDField(source="public_id", read_only=True)
    webhook_id = serializers.SerializerMethodField()
    endpoint = serializers.UUIDField(source="webhook_endpoint.public_id", read_only=True)
    attempts_log = AttemptSerializer(source="attempt_log", many=True, read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "webhook_id",
            "endpoint",
            "kind",
            "status",
            "attempts",
            "last_error",
            "created_at",
            "sent_at",
            "next_attempt_at",
            "attempts_log",
        ]
        read_only_fields = fields

    def get_webhook_id(self, row: Notification) -> str:
        return f"msg_{row.public_id.hex}"
