"""The public services of the notifications app (the only writers of its tables)."""

from notifications.services.circuit import (
    circuit_acquire,
    circuit_record_failure,
    circuit_record_success,
    circuit_reset,
)
from notifications.services.contacts import contact_point_set
from notifications.services.delivery import (
    notification_deliver,
    notification_mark_read,
    notification_retry,
    outbox_sweep,
)
from notifications.services.digest import digest_send_due
from notifications.services.enqueue import live_event_publish, notification_enqueue, send_escalation_alert
from notifications.services.fanout import (
    notification_fanout_enqueue,
    notification_fanout_expand,
    notification_fanouts_sweep,
)
from notifications.services.preferences import preference_resolve, preference_set, preference_unsubscribe
from notifications.services.webhooks import (
    webhook_endpoint_disable,
    webhook_endpoint_register,
    webhook_endpoint_test,
    webhook_endpoint_update,
    webhook_secret_rotate,
    webhook_url_validate,
)

__all__ = [
    "circuit_acquire",
    "circuit_record_failure",
    "circuit_record_success",
    "circuit_reset",
    "contact_point_set",
    "digest_send_due",
    "live_event_publish",
    "notification_deliver",
    "notification_enqueue",
    "notification_fanout_enqueue",
    "notification_fanout_expand",
    "notification_fanouts_sweep",
    "notification_mark_read",
    "notification_retry",
    "outbox_sweep",
    "preference_resolve",
    "preference_set",
    "preference_unsubscribe",
    "send_escalation_alert",
    "webhook_endpoint_disable",
    "webhook_endpoint_register",
    "webhook_endpoint_test",
    "webhook_endpoint_update",
    "webhook_secret_rotate",
    "webhook_url_validate",
]
