"""Partners' webhook endpoints: register, rotate secrets, disable, send a test event."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from escrow_project.common import egress
from escrow_project.common.errors import DomainError, NotFoundError
from identity.models import Organization
from notifications.kinds import KINDS, WEBHOOK
from notifications.models import Notification, NotificationStatus, WebhookEndpoint, WebhookSecret
from notifications.signing import secret_generate

MAX_ENDPOINTS_PER_ORGANIZATION = 10


def _bad(detail: str, code: str, field: str) -> DomainError:
    return DomainError(detail, code=code, errors=[{"field": field, "code": code, "message": detail}])


def _internal_host(hostname: str, port: int) -> bool:
    """localhost by name, or a host that resolves (now) to any non-public address.

    A refusal here is early feedback; the guard that counts runs at every send
    (escrow_project.common.egress), because a name may resolve elsewhere later. A name that does not
    resolve yet is accepted: the partner may register before publishing DNS.
    """
    name = hostname.lower().rstrip(".")
    if name in {"localhost", "localhost.localdomain"} or name.endswith(".localhost"):
        return True
    try:
        egress.checked_address(hostname, port, allow_private=False)
    except egress.EgressRefused:
        return True
    except egress.EgressUnresolvable:
        return False
    return False


def webhook_url_validate(url: str) -> str:
    """https only (plain http only where NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE), no credentials in it."""
    parts = urlsplit(url.strip())
    allowed = {"https", "http"} if settings.NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE else {"https"}
    if parts.scheme not in allowed:
        raise _bad("The webhook URL must use https.", "webhook_url_insecure", "url")
    if not parts.hostname:
        raise _bad("The webhook URL needs a host.", "webhook_url_invalid", "url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise _bad("The webhook URL has an invalid port.", "webhook_url_invalid", "url") from None
    if not settings.NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE and _internal_host(parts.hostname, port):
        raise _bad("The webhook URL must point to a public host.", "webhook_url_internal", "url")
    if parts.username or parts.password:
        raise _bad("Put no credentials in the webhook URL; verify our signature instead.", "webhook_url_invalid", "url")
    if len(url) > 500:
        raise _bad("The webhook URL is longer than 500 characters.", "webhook_url_invalid", "url")
    return url.strip()


def _kinds_validate(kinds: list[str] | None) -> list[str]:
    kinds = list(dict.fromkeys(kinds or []))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise _bad(f"Unknown kind(s): {', '.join(unknown)}.", "notification_kind_unknown", "kinds")
    return kinds


@transaction.atomic
def webhook_endpoint_register(
    *, organization_id: int, url: str, description: str = "", kinds: list[str] | None = None
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint and return it with its first signing secret (shown only now)."""
    # Validated before the lock: checking the URL resolves its host name (network I/O).
    url = webhook_url_validate(url)
    kinds = _kinds_validate(kinds)
    organization = Organization.objects.select_for_update().filter(pk=organization_id).first()
    if organization is None:
        raise NotFoundError("No such organization.")
    if (
        WebhookEndpoint.objects.filter(organization=organization, is_active=True).count()
        >= MAX_ENDPOINTS_PER_ORGANIZATION
    ):
        raise DomainError(
            f"An organization may have at most {MAX_ENDPOINTS_PER_ORGANIZATION} active endpoints.",
            code="webhook_endpoint_limit",
            status=409,
        )
    endpoint = WebhookEndpoint.objects.create(
        organization=organization, url=url, description=description[:200], kinds=kinds
    )
    secret = secret_generate()
    WebhookSecret.objects.create(endpoint=endpoint, secret=secret)
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(
    *, endpoint_id: int, url: str | None = None, description: str | None = None, kinds: list[str] | None = None
) -> WebhookEndpoint:
    """Change an endpoint's URL, description or subscribed kinds."""
    # Validated before the lock: checking the URL resolves its host name (network I/O).
    url = webhook_url_validate(url) if url is not None else None
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    if url is not None:
        endpoint.url = url
    if description is not None:
        endpoint.description = description[:200]
    if kinds is not None:
        endpoint.kinds = _kinds_validate(kinds)
    endpoint.save()
    return endpoint


@transaction.atomic
def webhook_endpoint_disable(*, endpoint_id: int) -> WebhookEndpoint:
    """Stop sending to an endpoint; rows already queued for it fail with that reason."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    endpoint.is_active = False
    endpoint.save(update_fields=["is_active"])
    return endpoint


@transaction.atomic
def webhook_secret_rotate(*, endpoint_id: int, grace_hours: int | None = None) -> str:
    """A new secret signs from now on; the old ones keep signing too until the grace period ends."""
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFoundError("No such webhook endpoint.")
    hours = settings.NOTIFICATIONS_WEBHOOK_ROTATION_GRACE_HOURS if grace_hours is None else grace_hours
    if not 0 <= hours <= 7 * 24:
        raise _bad("grace_hours is between 0 and 168.", "webhook_grace_invalid", "grace_hours")
    now = timezone.now()
    expires = now + timedelta(hours=hours)
    # Only shorten: a secret already due to expire sooner keeps its earlier end.
    WebhookSecret.objects.filter(endpoint=endpoint, expires_at__isnull=True).update(expires_at=expires)
    WebhookSecret.objects.filter(endpoint=endpoint, expires_at__gt=expires).update(expires_at=expires)
    secret = secret_generate()
    WebhookSecret.objects.create(endpoint=endpoint, secret=secret)
    return secret


@transaction.atomic
def webhook_endpoint_test(*, endpoint_id: int) -> Notification:
    """Queue a signed test event through the outbox; it is sent after commit, by a worker.

    Never sent here: callers run inside transactions (the API's Idempotency-Key handling), and a
    partner's slow endpoint must not hold a transaction, a row lock or the circuit breaker's lock.
    """
    from notifications.services.scheduling import delivery_schedule_on_commit

    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id, is_active=True).first()
    if endpoint is None:
        raise NotFoundError("No such active webhook endpoint.")
    row = Notification.objects.create(
        kind="webhook_test",
        channel=WEBHOOK,
        status=NotificationStatus.PENDING,
        recipient_organization_id=endpoint.organization_id,
        webhook_endpoint=endpoint,
        target=f"endpoint:{endpoint.pk}",
        # cast: the encrypted JSON field is typed as text by the stubs, but holds a dict.
        context=cast(Any, {"message": "This is a test event. Verify its signature and answer 2xx."}),
        next_attempt_at=timezone.now(),
        max_attempts=settings.NOTIFICATIONS_WEBHOOK_MAX_ATTEMPTS,
    )
    delivery_schedule_on_commit(row.pk)
    return row
