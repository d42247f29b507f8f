from __future__ import annotations

from typing import Any

from rest_framework import serializers

from audit.models import AuditEvent
from audit.selectors import event_as_record


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    class Meta:
        model = AuditEvent
        fields = [
            "event_hash",
            "kind",
            "subject_type",
            "subject_id",
            "seq",
            "prev_hash",
            "actor",
            "occurred_at",
            "recorded_at",
            "request_id",
            "payload",
            "salt",
        ]
        read_only_fields = fields

    def to_representation(self, instance: AuditEvent) -> dict[str, Any]:
        data = super().to_representation(instance)
        record = event_as_record(instance)
        data["occurred_at"] = record["occurred_at"]  # the exact text that was hashed
        data["leaf_index"] = record["leaf_index"]
        return dict(data)


class EventFilterSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField(required=False, max_length=100)
    since = serializers.DateTimeField(required=False, help_text="occurred_at >= since (ISO 8601)")
    until = serializers.DateTimeField(required=False, help_text="occurred_at < until (ISO 8601)")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": "must be after since"})
        return attrs
