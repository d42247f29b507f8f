"""Demo notifications for the embedded default, so the outbox and /api/v1/notifications/ show
something on first run. Idempotent through dedupe keys."""

from __future__ import annotations

from identity.models import User
from notifications.services import notification_enqueue
from notifications.types import Recipient


def seed() -> list[str]:
    buyer = User.objects.filter(username="buyer").first()
    if buyer is None:
        return []
    notification_enqueue(
        kind="transaction_initiated",
        recipient=Recipient.user(buyer.pk),
        context={"reference": "ESC-DEMO-0001", "amount": "25000.00", "currency": "USD"},
        dedupe_key="demo:notifications:welcome",
    )
    return [
        "Notifications: a demo message for 'buyer' (console e-mail, /api/v1/notifications/);",
        "  WebSockets: /ws/notifications/ and /ws/subjects/<type>/<id>/ (session cookie).",
    ]
