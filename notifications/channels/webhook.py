"""Signed webhooks to a partner's endpoint (Standard Webhooks headers)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.utils import timezone

from escrow_project.common import egress
from notifications.channels import DeliveryResult, PermanentDeliveryError, TransientDeliveryError
from notifications.models import Notification, WebhookEndpoint, WebhookSecret
from notifications.rendering import message_context
from notifications.signing import signature_header

USER_AGENT = "escrow-platform-webhooks/1"
_TRANSIENT_STATUSES = {408, 425, 429}


def payload_for(notification: Notification) -> bytes:
    """The body; identical on every retry of the same notification."""
    document: dict[str, Any] = {
        "type": notification.kind,
        "timestamp": notification.created_at.isoformat(),
        # Links absolute, on the platform as served (notifications.links): a partner cannot use a path.
        "data": message_context(
            notification.context, subject_type=notification.subject_type, subject_id=notification.subject_id
        ),
    }
    if notification.subject_type:
        document["subject"] = {"type": notification.subject_type, "id": notification.subject_id}
    return json.dumps(document, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":")).encode()


def active_secrets(endpoint: WebhookEndpoint) -> list[str]:
    now = timezone.now()
    rows = WebhookSecret.objects.filter(endpoint=endpoint).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    return [row.secret for row in rows.order_by("-created_at", "-id")]


def post_signed(*, endpoint: WebhookEndpoint, msg_id: str, body: bytes) -> requests.Response:
    secrets = active_secrets(endpoint)
    if not secrets:
        raise PermanentDeliveryError("the endpoint has no active signing secret")
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets=secrets, msg_id=msg_id, timestamp=timestamp, body=body),
        # The same value under the name generic HTTP receivers dedupe on.
        "idempotency-key": msg_id,
    }
    timeout = (
        settings.NOTIFICATIONS_WEBHOOK_CONNECT_TIMEOUT_SECONDS,
        settings.NOTIFICATIONS_WEBHOOK_READ_TIMEOUT_SECONDS,
    )
    parts = urlsplit(endpoint.url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    # Local development may target a receiver on this machine; nowhere else may we reach our network.
    allow_private = settings.NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE
    try:
        address = egress.checked_address(host, port, allow_private=allow_private)
    except egress.EgressRefused as exc:
        raise PermanentDeliveryError("the endpoint's host is not a public address", detail=str(exc)) from exc
    except egress.EgressUnresolvable as exc:
        raise TransientDeliveryError("the endpoint's host name did not resolve", detail=str(exc)) from exc
    # The partner sees only the class of failure: the reason text (refused, reset, no route) would
    # tell a caller which internal ports are open. Operators get it on the attempt.
    try:
        with egress.pinned_session(pinned_address=address, allow_private=allow_private) as session:
            # Redirects are not followed: a signed event must reach the registered URL or fail.
            return session.post(endpoint.url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.Timeout as exc:
        raise TransientDeliveryError(f"timed out: {exc.__class__.__name__}", detail=str(exc)) from exc
    except requests.RequestException as exc:
        raise TransientDeliveryError(f"connection failed: {exc.__class__.__name__}", detail=str(exc)) from exc


class WebhookBackend:
    def send(self, notification: Notification) -> DeliveryResult:
        endpoint = notification.webhook_endpoint
        if endpoint is None or not endpoint.is_active:
            raise PermanentDeliveryError("the webhook endpoint was removed or disabled")
        msg_id = f"msg_{notification.public_id.hex}"
        response = post_signed(endpoint=endpoint, msg_id=msg_id, body=payload_for(notification))
        status = response.status_code
        if 200 <= status < 300:
            return DeliveryResult(provider_message_id=msg_id, status_code=status)
        # Never the body to the partner: the endpoint may be ours in disguise (SSRF read oracle).
        # Status and length are enough for them; operators get a redacted excerpt on the attempt.
        message = f"HTTP {status} ({len(response.content)} bytes)"
        detail = response.text[:200]
        if status >= 500 or status in _TRANSIENT_STATUSES:
            raise TransientDeliveryError(message, status_code=status, detail=detail)
        raise PermanentDeliveryError(message, status_code=status, detail=detail)
