"""Reads, scoped to what the caller may see (404, not 403, for anything else)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from escrow_project.common.errors import NotFoundError
from identity.selectors import organization_ids_for_user, user_is_operator
from notifications.models import Notification, NotificationPreference, WebhookEndpoint


def notification_list_for_user(
    *, user: Any, channel: str | None = None, kind: str | None = None, status: str | None = None
) -> QuerySet[Notification]:
    """A party's own notifications, newest first."""
    rows = Notification.objects.filter(recipient_user=user)
    if channel:
        rows = rows.filter(channel=channel)
    if kind:
        rows = rows.filter(kind=kind)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-created_at", "-id")


def notification_get_for_user(*, user: Any, public_id: Any) -> Notification:
    row = Notification.objects.filter(recipient_user=user, public_id=public_id).first()
    if row is None:
        raise NotFoundError("No such notification.")
    return row


def preference_list_for_user(*, user: Any) -> QuerySet[NotificationPreference]:
    return NotificationPreference.objects.filter(user=user).order_by("channel", "kind")


def webhook_endpoint_list_for_user(*, user: Any) -> QuerySet[WebhookEndpoint]:
    """Operators see every endpoint; a partner sees its organizations' endpoints."""
    endpoints = WebhookEndpoint.objects.select_related("organization")
    if user_is_operator(user):
        return endpoints.order_by("pk")
    return endpoints.filter(organization_id__in=organization_ids_for_user(user)).order_by("pk")


def webhook_endpoint_get_for_user(*, user: Any, public_id: Any) -> WebhookEndpoint:
    endpoint = webhook_endpoint_list_for_user(user=user).filter(public_id=public_id).first()
    if endpoint is None:
        raise NotFoundError("No such webhook endpoint.")
    return endpoint


def webhook_delivery_list(*, endpoint: WebhookEndpoint, status: str | None = None) -> QuerySet[Notification]:
    rows = Notification.objects.filter(webhook_endpoint=endpoint)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-created_at", "-id")


def webhook_delivery_get_for_user(*, user: Any, public_id: Any) -> Notification:
    endpoints = webhook_endpoint_list_for_user(user=user)
    row = Notification.objects.filter(webhook_endpoint__in=endpoints, public_id=public_id).first()
    if row is None:
        raise NotFoundError("No such webhook delivery.")
    return row
