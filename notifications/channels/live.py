"""Live: events pushed to WebSocket clients through the Channels layer."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from redis.exceptions import RedisError

from notifications.channels import DeliveryResult, PermanentDeliveryError, TransientDeliveryError
from notifications.models import Notification
from notifications.rendering import notification_link, render_notification


def user_group(user_id: int) -> str:
    return f"notifications.user.{user_id}"


def subject_group(subject_type: str, subject_id: str) -> str:
    return f"notifications.subject.{subject_type}.{subject_id}"


def group_push(group: str, event: dict[str, Any]) -> None:
    """Send `event` to every consumer in `group` (none listening is not an error)."""
    layer = get_channel_layer()
    if layer is None:
        raise TransientDeliveryError("no channel layer is configured (CHANNEL_LAYERS)")
    try:
        async_to_sync(layer.group_send)(group, {"type": "live.event", "event": event})
    except (OSError, RedisError) as exc:  # redis-py's ConnectionError is not an OSError
        raise TransientDeliveryError(f"channel layer unreachable: {exc}") from exc


class LiveBackend:
    def send(self, notification: Notification) -> DeliveryResult:
        if notification.recipient_user_id is None:
            raise PermanentDeliveryError("the recipient user no longer exists")
        rendered = render_notification(notification)
        group_push(
            user_group(notification.recipient_user_id),
            {
                "type": "notification",
                "id": str(notification.public_id),
                "kind": notification.kind,
                "subject": rendered.subject,
                "text": rendered.text,
                "url": notification_link(notification),
                "subject_type": notification.subject_type,
                "subject_id": notification.subject_id,
                "created_at": notification.created_at.isoformat(),
            },
        )
        return DeliveryResult(provider_message_id=f"live-{notification.public_id}")
