"""Reads, scoped to what the caller may see (404, not 403, for anything else)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from escrow_project.common.errors import DomainError, NotFoundError, PermissionDeniedError
from identity.models import Membership, Organization, OrganizationKind, Role
from identity.selectors import organization_ids_for_user, user_is_operator
from notifications.models import Notification, NotificationPreference, WebhookEndpoint

# Who may register, change, rotate, test or disable an organization's webhook endpoints, besides
# operators: the partner's staff roles whose job is the integration (docs/decisions/0303). Never
# buyers, sellers, real-estate agents or auditors, and nobody in an individual's organization: an
# endpoint receives every event of the organization, personal data included.
WEBHOOK_MANAGER_ROLES = frozenset({Role.INSURER, Role.EMPLOYER_HR, Role.VERIFIER, Role.ESCROW_OFFICER})


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


def webhook_manager_organization_ids(user: Any) -> set[int]:
    """Organizations whose webhook endpoints `user` manages (not counting operator powers)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    return set(
        Membership.objects.filter(user=user, role__in=WEBHOOK_MANAGER_ROLES)
        .exclude(organization__kind=OrganizationKind.INDIVIDUAL)
        .values_list("organization_id", flat=True)
    )


def webhook_organization_get_for_manager(*, user: Any, public_id: Any | None) -> Organization:
    """The organization to register an endpoint for: 404 if not one of the caller's, 403 if it is
    but the caller's role there may not manage webhooks (they know the organization exists)."""
    if user_is_operator(user):
        visible = Organization.objects.all()
        managed = visible
    else:
        visible = Organization.objects.filter(pk__in=organization_ids_for_user(user))
        managed = visible.filter(pk__in=webhook_manager_organization_ids(user))
    if public_id is not None:
        organization = visible.filter(public_id=public_id).first()
        if organization is None:
            raise NotFoundError("No such organization.")
        if not managed.filter(pk=organization.pk).exists():
            raise _manager_required()
        return organization
    candidates = list(managed.order_by("pk")[:2])
    if not candidates:
        raise _manager_required()
    if len(candidates) != 1:
        raise DomainError(
            "Say which organization the endpoint is for.",
            code="organization_required",
            errors=[{"field": "organization", "code": "required", "message": "Required."}],
        )
    return candidates[0]


def _manager_required() -> PermissionDeniedError:
    roles = ", ".join(sorted(WEBHOOK_MANAGER_ROLES))
    return PermissionDeniedError(
        f"Managing webhook endpoints needs one of these roles in the organization: {roles}.",
        code="webhook_manager_role_required",
    )


def webhook_endpoint_list_for_manager(*, user: Any) -> QuerySet[WebhookEndpoint]:
    """Operators see every endpoint; a partner's integration staff see their organizations'.

    Other members see none (404 on each), as if the endpoints did not exist: they may not manage
    them, and an endpoint's URL and delivery log are the integration's business.
    """
    endpoints = WebhookEndpoint.objects.select_related("organization")
    if user_is_operator(user):
        return endpoints.order_by("pk")
    return endpoints.filter(organization_id__in=webhook_manager_organization_ids(user)).order_by("pk")


def webhook_endpoint_get_for_manager(*, user: Any, public_id: Any) -> WebhookEndpoint:
    endpoint = webhook_endpoint_list_for_manager(user=user).filter(public_id=public_id).first()
    if endpoint is None:
        raise NotFoundError("No such webhook endpoint.")
    return endpoint


def webhook_delivery_list(*, endpoint: WebhookEndpoint, status: str | None = None) -> QuerySet[Notification]:
    rows = Notification.objects.filter(webhook_endpoint=endpoint)
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-created_at", "-id")


def webhook_delivery_get_for_manager(*, user: Any, public_id: Any) -> Notification:
    endpoints = webhook_endpoint_list_for_manager(user=user)
    row = Notification.objects.filter(webhook_endpoint__in=endpoints, public_id=public_id).first()
    if row is None:
        raise NotFoundError("No such webhook delivery.")
    return row


# How the preferences page names the channels a person receives.
PERSON_CHANNEL_LABELS = {"email": "E-mail", "sms": "Text message", "live": "On screen"}
# Kinds only operators receive (escalations to the on-call rota).
_OPERATOR_KINDS = frozenset({"reconciliation_breaks_found"})


def preference_matrix_for_user(*, user: Any) -> list[dict[str, Any]]:
    """Each kind the user can receive, by each channel it comes by: on or off as it resolves now, and
    for an essential kind why it cannot be turned off. What the preferences page shows and saves."""
    from notifications.kinds import KINDS
    from notifications.services.preferences import preferences_of_user

    operator = user_is_operator(user)
    resolve = preferences_of_user(user_id=user.pk)
    rows = []
    for spec in KINDS.values():
        if not spec.person_channels or (spec.name in _OPERATOR_KINDS and not operator):
            continue
        cells = []
        for channel in spec.person_channels:
            choice = resolve(spec.name, channel)
            cells.append(
                {
                    "name": f"{spec.name}:{channel}",
                    "channel": channel,
                    "label": PERSON_CHANNEL_LABELS[channel],
                    "on": choice.enabled,
                    "locked": bool(spec.essential),
                }
            )
        rows.append({"kind": spec.name, "description": spec.description, "essential": spec.essential, "cells": cells})
    return rows
