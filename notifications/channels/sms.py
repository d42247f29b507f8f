"""SMS: a logging backend by default; Twilio when configured and its SDK is installed."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import structlog
from django.conf import settings
from django.utils.module_loading import import_string

from notifications.channels import DeliveryResult, PermanentDeliveryError, TransientDeliveryError
from notifications.models import Notification
from notifications.rendering import notification_link, render_notification

logger = structlog.get_logger(__name__)

E164 = re.compile(r"^\+[1-9]\d{7,14}$")
SMS_MAX_CHARS = 480  # three concatenated segments; the subject line is what matters on a phone


def sms_text(notification: Notification) -> str:
    """The subject line, then the link to the page it is about (absolute, as the platform is served)."""
    rendered = render_notification(notification)
    link = notification_link(notification)
    if link and len(rendered.subject) + 1 + len(link) <= SMS_MAX_CHARS:
        return f"{rendered.subject} {link}"
    return rendered.subject[:SMS_MAX_CHARS]


def masked(phone: str) -> str:
    return f"{phone[:3]}…{phone[-2:]}" if len(phone) > 5 else "…"


class LoggingSmsBackend:
    """Writes the message to the log instead of a carrier: the embedded default and tests."""

    def send(self, notification: Notification) -> DeliveryResult:
        if not E164.match(notification.address):
            raise PermanentDeliveryError("the phone number is not in E.164 form")
        text = sms_text(notification)
        message_id = "log-" + hashlib.sha256(str(notification.public_id).encode()).hexdigest()[:16]
        logger.info("sms_logged", to=masked(notification.address), chars=len(text), message_id=message_id)
        return DeliveryResult(provider_message_id=message_id)


class TwilioSmsBackend:
    """Twilio's Programmable Messaging through its SDK (install `twilio` to use it)."""

    def __init__(self) -> None:
        try:
            from twilio.rest import Client  # type: ignore[import-not-found, unused-ignore]
        except ImportError as exc:  # the SDK is optional: not in requirements.txt
            raise RuntimeError("NOTIFICATIONS_SMS_BACKEND is Twilio but the twilio package is not installed") from exc
        self.client: Any = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)

    def send(self, notification: Notification) -> DeliveryResult:
        from twilio.base.exceptions import TwilioRestException  # type: ignore[import-not-found, unused-ignore]

        if not E164.match(notification.address):
            raise PermanentDeliveryError("the phone number is not in E.164 form")
        try:
            message = self.client.messages.create(
                to=notification.address, from_=settings.TWILIO_FROM_NUMBER, body=sms_text(notification)
            )
        except TwilioRestException as exc:
            status = int(getattr(exc, "status", 0) or 0)
            if status == 429 or status >= 500:
                raise TransientDeliveryError(f"Twilio {status}: {exc.msg}", status_code=status) from exc
            raise PermanentDeliveryError(f"Twilio {status}: {exc.msg}", status_code=status) from exc
        except OSError as exc:
            raise TransientDeliveryError(f"Twilio unreachable: {exc}") from exc
        return DeliveryResult(provider_message_id=str(message.sid))


def sms_backend() -> Any:
    """The configured backend; by default Twilio when TWILIO_ACCOUNT_SID is set, else the log."""
    path = settings.NOTIFICATIONS_SMS_BACKEND
    if not path:
        path = (
            "notifications.channels.sms.TwilioSmsBackend"
            if settings.TWILIO_ACCOUNT_SID
            else "notifications.channels.sms.LoggingSmsBackend"
        )
    return import_string(path)()
