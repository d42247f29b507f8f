"""Every channel behind one small interface: `send(notification) -> DeliveryResult`.

A backend raises `TransientDeliveryError` for what a retry may fix (timeouts, 5xx, a provider
outage; these also count towards the channel's circuit breaker) and `PermanentDeliveryError` for
what it will not (a refused address, a 4xx from a partner).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from notifications.models import Notification


@dataclass(frozen=True)
class DeliveryResult:
    provider_message_id: str = ""
    status_code: int | None = None


class DeliveryError(Exception):
    """`str(error)` may be shown to the partner (deliveries API); `detail` is for operators only
    (stored redacted on the attempt, shown in the admin): a partner must not learn through us what
    an address answered or whether a port is open."""

    def __init__(self, message: str, *, status_code: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail


class TransientDeliveryError(DeliveryError):
    """Worth retrying; counts towards the circuit breaker."""


class PermanentDeliveryError(DeliveryError):
    """Retrying will not help; the row fails at once."""


class ChannelBackend(Protocol):
    def send(self, notification: Notification) -> DeliveryResult: ...


def backend_for(channel: str) -> ChannelBackend:
    """The backend instance that delivers on `channel`."""
    from notifications.channels.email import EmailBackend
    from notifications.channels.live import LiveBackend
    from notifications.channels.sms import sms_backend
    from notifications.channels.webhook import WebhookBackend

    if channel == "email":
        return EmailBackend()
    if channel == "sms":
        return sms_backend()
    if channel == "webhook":
        return WebhookBackend()
    if channel == "live":
        return LiveBackend()
    raise ValueError(f"no backend for channel {channel!r}")
