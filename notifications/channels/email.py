"""E-mail through Django's configured backend (console locally; SMTP or django-anymail in production)."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from notifications.channels import DeliveryResult, PermanentDeliveryError, TransientDeliveryError
from notifications.links import unsubscribe_url
from notifications.models import Notification
from notifications.rendering import render_notification
from notifications.unsubscribe import unsubscribe_token


def message_id_for(notification: Notification) -> str:
    # Stable across retries, so a mail system that sees a resend can recognise the duplicate.
    return f"<notification-{notification.public_id}@escrow-platform>"


def unsubscribe_headers(notification: Notification) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe, for a user's e-mail of a kind that may be turned off: the
    mail client POSTs "List-Unsubscribe=One-Click" to the URL (the footer link asks first)."""
    if notification.recipient_user_id is None:
        return {}
    token = unsubscribe_token(user_id=notification.recipient_user_id, kind=notification.kind)
    if not token:
        return {}
    return {"List-Unsubscribe": f"<{unsubscribe_url(token)}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


class EmailBackend:
    def send(self, notification: Notification) -> DeliveryResult:
        rendered = render_notification(notification)
        message_id = message_id_for(notification)
        headers = {"Message-ID": message_id, "X-Notification-Id": str(notification.public_id)}
        headers.update(unsubscribe_headers(notification))
        email = EmailMultiAlternatives(
            subject=rendered.subject,
            body=rendered.text,
            from_email=settings.NOTIFICATIONS_FROM_EMAIL,
            to=[notification.address],
            headers=headers,
        )
        email.attach_alternative(rendered.html, "text/html")
        try:
            email.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            # Codes only: the refused address and the server's reply (which quotes it) are personal data.
            codes = sorted({str(code) for code, _ in exc.recipients.values()})
            raise PermanentDeliveryError(
                f"recipient refused by the mail server (SMTP {', '.join(codes)})", detail=str(exc.recipients)
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise TransientDeliveryError(
                f"mail server error: {exc.__class__.__name__} (SMTP {exc.smtp_code})", detail=str(exc)
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientDeliveryError(f"mail server error: {exc.__class__.__name__}", detail=str(exc)) from exc
        return DeliveryResult(provider_message_id=message_id)
