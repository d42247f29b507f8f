"""Writing outbox rows inside the caller's transaction."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from escrow_project.common.crypto.blind_index import blind_index
from escrow_project.common.errors import DomainError, NotFoundError
from identity.models import Membership, Organization, Role, User
from notifications import metrics
from notifications.channels.live import group_push, subject_group
from notifications.channels.sms import E164
from notifications.kinds import ALL_CHANNELS, EMAIL, LIVE, SMS, WEBHOOK, kind_get
from notifications.models import ContactPoint, Notification, NotificationStatus, WebhookEndpoint
from notifications.rendering import normalise_context, render_message
from notifications.services.preferences import Choice, preference_resolve
from notifications.services.scheduling import delivery_schedule_on_commit
from notifications.types import Recipient

logger = structlog.get_logger(__name__)

_SUBJECT_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_SUBJECT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class _Target:
    target: str
    user_id: int | None = None
    organization_id: int | None = None
    endpoint_id: int | None = None
    address: str = ""
    skip_reason: str = ""


def _bad(detail: str, code: str, field: str) -> DomainError:
    return DomainError(detail, code=code, errors=[{"field": field, "code": code, "message": detail}])


def _address_target(value: str, purpose: str, user_id: int | None = None) -> str:
    if user_id is not None:
        return f"user:{user_id}"
    return f"address:{blind_index(value, purpose=f'notifications.{purpose}')[:40]}"


def subject_validate(subject_type: str, subject_id: str) -> None:
    if not _SUBJECT_TYPE.match(subject_type):
        raise _bad("subject_type is lowercase letters, digits and _ (max 40).", "subject_type_invalid", "subject_type")
    if not _SUBJECT_ID.match(subject_id):
        raise _bad("subject_id is letters, digits, - and _ (max 64).", "subject_id_invalid", "subject_id")


class Lookups:
    """The reads behind an enqueue, one query each. A fan-out (FanoutLookups) reads them for all
    its recipients at once; the rules that use them live here, once."""

    def user_exists(self, user_id: int) -> bool:
        return User.objects.filter(pk=user_id).exists()

    def organization_exists(self, organization_id: int) -> bool:
        return Organization.objects.filter(pk=organization_id).exists()

    def users_of(self, recipient: Recipient) -> list[User]:
        if recipient.type == "user":
            return list(User.objects.filter(pk=recipient.required_user_id(), is_active=True))
        if recipient.type == "organization":
            user_ids = Membership.objects.filter(organization_id=recipient.required_organization_id()).values("user_id")
            return list(User.objects.filter(pk__in=user_ids, is_active=True).order_by("pk"))
        return []

    def phones(self, users: list[User]) -> dict[int, str]:
        return {c.user_id: c.phone for c in ContactPoint.objects.filter(user__in=users)}

    def endpoints(self, organization_id: int) -> list[WebhookEndpoint]:
        return list(WebhookEndpoint.objects.filter(organization_id=organization_id, is_active=True).order_by("pk"))

    def existing(self, dedupe_key: str) -> list[Notification]:
        return list(Notification.objects.filter(dedupe_key=dedupe_key).order_by("pk"))

    def preference(self, *, kind: str, channel: str, user_id: int | None, organization_id: int | None) -> Choice:
        return preference_resolve(kind=kind, channel=channel, user_id=user_id, organization_id=organization_id)


def _validate_recipient(recipient: Recipient, lookups: Lookups) -> None:
    if not isinstance(recipient, Recipient):
        raise _bad("recipient must be a notifications.types.Recipient.", "recipient_invalid", "recipient")
    if recipient.type == "address":
        if not recipient.email and not recipient.phone:
            raise _bad("An address recipient needs an e-mail or a phone number.", "recipient_invalid", "recipient")
        if recipient.email:
            try:
                validate_email(recipient.email)
            except ValidationError:
                raise _bad("The e-mail address is not valid.", "email_invalid", "recipient.email") from None
        if recipient.phone and not E164.match(recipient.phone):
            raise _bad(
                "The phone number must be in E.164 form (+ and 8 to 15 digits).", "phone_invalid", "recipient.phone"
            )
    elif recipient.type == "user":
        if recipient.user_id is None:
            raise _bad("A user recipient needs a user id.", "recipient_invalid", "recipient")
        if not lookups.user_exists(recipient.required_user_id()):
            raise NotFoundError(f"No user {recipient.user_id} to notify.", code="recipient_not_found")
    elif recipient.type == "organization":
        if recipient.organization_id is None:
            raise _bad("An organization recipient needs an organization id.", "recipient_invalid", "recipient")
        if not lookups.organization_exists(recipient.required_organization_id()):
            raise NotFoundError(f"No organization {recipient.organization_id} to notify.", code="recipient_not_found")
    else:
        raise _bad(f"Unknown recipient type {recipient.type!r}.", "recipient_invalid", "recipient")


def _applicable(recipient: Recipient, channel: str) -> bool:
    if recipient.type == "address":
        return (channel == EMAIL and bool(recipient.email)) or (channel == SMS and bool(recipient.phone))
    if channel == WEBHOOK:
        return recipient.type == "organization"
    return True


def _targets(recipient: Recipient, channel: str, kind: str, lookups: Lookups) -> list[_Target]:
    if recipient.type == "address":
        value = recipient.email if channel == EMAIL else recipient.phone
        return [_Target(target=_address_target(value, channel), address=value)]
    if channel == WEBHOOK:
        return [
            _Target(target=f"endpoint:{e.pk}", organization_id=e.organization_id, endpoint_id=e.pk)
            for e in lookups.endpoints(recipient.required_organization_id())
            if not e.kinds or kind in e.kinds
        ]
    users = lookups.users_of(recipient)
    phones: dict[int, str] = {}
    if channel == SMS:
        phones = lookups.phones(users)
    targets = []
    for user in users:
        target = _Target(target=f"user:{user.pk}", user_id=user.pk, organization_id=recipient.organization_id)
        if channel == EMAIL:
            target.address = user.email
            target.skip_reason = "" if user.email else "the user has no e-mail address"
        elif channel == SMS:
            target.address = phones.get(user.pk, "")
            target.skip_reason = "" if target.address else "the user has no phone number"
        targets.append(target)
    return targets


def _person_key(channel: str, target: _Target) -> str:
    """Who a row reaches, for "one message per event per channel per person": the e-mail address
    (normalised) or phone number it goes to, else the user; a webhook endpoint is its own."""
    if target.endpoint_id is not None:
        return f"{channel}:endpoint:{target.endpoint_id}"
    if channel == EMAIL and target.address:
        return f"{channel}:{target.address.strip().casefold()}"
    if channel == SMS and target.address:
        return f"{channel}:{target.address.strip()}"
    return f"{channel}:{target.target}"


def _write_row(*, fields: dict[str, Any], dedupe_key: str | None) -> Notification:
    if dedupe_key is None:
        return Notification.objects.create(**fields)
    try:
        # A savepoint, so a concurrent duplicate does not poison the caller's transaction.
        with transaction.atomic():
            return Notification.objects.create(dedupe_key=dedupe_key, **fields)
    except IntegrityError:
        return Notification.objects.get(dedupe_key=dedupe_key, channel=fields["channel"], target=fields["target"])


def _chosen_channels(kind: str, recipient: Recipient, channels: Sequence[str] | None) -> list[str]:
    if channels is None:
        return [c for c in kind_get(kind).default_channels if _applicable(recipient, c)]
    unknown = [c for c in channels if c not in ALL_CHANNELS]
    if unknown:
        raise _bad(f"Unknown channel(s): {', '.join(unknown)}.", "notification_channel_unknown", "channels")
    not_applicable = [c for c in channels if not _applicable(recipient, c)]
    if not_applicable:
        raise _bad(
            f"Channel(s) {', '.join(not_applicable)} cannot reach a {recipient.type} recipient.",
            "notification_channel_not_applicable",
            "channels",
        )
    return list(dict.fromkeys(channels))


@dataclass
class PlannedRows:
    """What one recipient of an event gets: rows already written under its dedupe key, or the
    fields of the rows to write."""

    existing: list[Notification]
    fields: list[dict[str, Any]]
    duplicates: int = 0


def _plan(
    *,
    kind: str,
    recipient: Recipient,
    stored_context: dict[str, Any],
    channels: Sequence[str] | None,
    dedupe_key: str | None,
    subject_type: str,
    subject_id: str,
    bypass_preferences: bool,
    reached: set[str],
    lookups: Lookups,
) -> PlannedRows:
    """Validate one recipient and decide its rows (targets, preferences, one per person), unwritten.
    `reached` is shared by every recipient of one event: a person who holds several roles in it
    (a buyer who is also their organization's admin, two party links to one address) gets one row
    per channel, not one per role."""
    _validate_recipient(recipient, lookups)
    if subject_type or subject_id:
        subject_validate(subject_type, subject_id)
    if dedupe_key is not None and not (1 <= len(dedupe_key) <= 200):
        raise _bad("dedupe_key is 1 to 200 characters.", "dedupe_key_invalid", "dedupe_key")
    chosen = _chosen_channels(kind, recipient, channels)
    if dedupe_key is not None:
        existing = lookups.existing(dedupe_key)
        if existing:
            logger.info("notification_deduplicated", kind=kind, rows=len(existing))
            return PlannedRows(existing=existing, fields=[])
    planned = PlannedRows(existing=[], fields=[])
    now = timezone.now()
    for channel in chosen:
        for target in _targets(recipient, channel, kind, lookups):
            person = _person_key(channel, target)
            if person in reached:
                planned.duplicates += 1
                continue
            reached.add(person)
            status = NotificationStatus.PENDING
            reason = target.skip_reason
            digest = False
            if not reason and not bypass_preferences and target.endpoint_id is None and recipient.type != "address":
                choice = lookups.preference(
                    kind=kind, channel=channel, user_id=target.user_id, organization_id=target.organization_id
                )
                digest = choice.digest
                if not choice.enabled:
                    reason = "muted by the recipient's preferences"
            if not reason and target.endpoint_id is not None and not bypass_preferences:
                choice = lookups.preference(
                    kind=kind, channel=channel, user_id=None, organization_id=target.organization_id
                )
                if not choice.enabled:
                    reason = "muted by the organization's preferences"
            if reason:
                status = NotificationStatus.SKIPPED
            planned.fields.append(
                {
                    "kind": kind,
                    "channel": channel,
                    "status": status,
                    "recipient_user_id": target.user_id,
                    "recipient_organization_id": target.organization_id or recipient.organization_id,
                    "webhook_endpoint_id": target.endpoint_id,
                    "address": target.address,
                    "target": target.target,
                    "context": stored_context,
                    "subject_type": subject_type,
                    "subject_id": subject_id,
                    "bypass_preferences": bypass_preferences,
                    "digest": digest,
                    "last_error": reason,
                    "next_attempt_at": now,
                    "max_attempts": (
                        settings.NOTIFICATIONS_WEBHOOK_MAX_ATTEMPTS
                        if channel == WEBHOOK
                        else settings.NOTIFICATIONS_MAX_ATTEMPTS
                    ),
                }
            )
    return planned


def _written(row: Notification, schedule: Callable[[Notification], None] | None) -> None:
    """Count a new row and hand it to delivery (a digest row waits for its digest)."""
    if row.status == NotificationStatus.SKIPPED:
        metrics.SKIPPED.labels(row.channel, "preference" if "preferences" in row.last_error else "no_address").inc()
    elif not row.digest:
        metrics.ENQUEUED.labels(row.channel).inc()
        if schedule is not None:
            schedule(row)
        else:
            delivery_schedule_on_commit(row.pk)


def _enqueue(
    *,
    kind: str,
    recipient: Recipient,
    context: dict[str, Any],
    channels: Sequence[str] | None,
    dedupe_key: str | None,
    subject_type: str,
    subject_id: str,
    bypass_preferences: bool,
    reached: set[str] | None = None,
) -> list[Notification]:
    kind_get(kind)
    stored_context = normalise_context(context)
    render_message(kind, stored_context)  # a missing variable fails here, in the caller's request
    planned = _plan(
        kind=kind,
        recipient=recipient,
        stored_context=stored_context,
        channels=channels,
        dedupe_key=dedupe_key,
        subject_type=subject_type,
        subject_id=subject_id,
        bypass_preferences=bypass_preferences,
        reached=set() if reached is None else reached,
        lookups=Lookups(),
    )
    if planned.existing:
        return planned.existing
    rows = [_write_row(fields=fields, dedupe_key=dedupe_key) for fields in planned.fields]
    for row in rows:
        _written(row, None)
    logger.info(
        "notifications_enqueued",
        kind=kind,
        rows=len(rows),
        recipient_type=recipient.type,
        duplicates=planned.duplicates,
    )
    return rows


@transaction.atomic
def notification_enqueue(
    *,
    kind: str,
    recipient: Recipient,
    context: dict[str, Any],
    channels: Sequence[str] | None = None,
    dedupe_key: str | None = None,
    subject_type: str = "",
    subject_id: str = "",
) -> list[Notification]:
    """Write one outbox row per channel and target in the caller's transaction; deliver after commit."""
    return _enqueue(
        kind=kind,
        recipient=recipient,
        context=context,
        channels=channels,
        dedupe_key=dedupe_key,
        subject_type=subject_type,
        subject_id=subject_id,
        bypass_preferences=False,
    )


@transaction.atomic
def send_escalation_alert(
    *,
    kind: str,
    context: dict[str, Any],
    subject_type: str,
    subject_id: str,
    dedupe_key: str | None = None,
) -> list[Notification]:
    """Alert every operator by e-mail, SMS and live, whatever their preferences say."""
    subject_validate(subject_type, subject_id)
    operator_ids = list(
        Membership.objects.filter(role=Role.OPERATOR, user__is_active=True)
        .values_list("user_id", flat=True)
        .distinct()
        .order_by("user_id")
    )
    if not operator_ids:
        # Still validate, so a caller's mistake is not hidden by an empty rota.
        render_message(kind, normalise_context(context))
        logger.error("escalation_without_operators", kind=kind, subject_type=subject_type)
        return []
    rows: list[Notification] = []
    reached: set[str] = set()
    for user_id in operator_ids:
        rows += _enqueue(
            kind=kind,
            recipient=Recipient.user(user_id),
            context=context,
            channels=(EMAIL, SMS, LIVE),
            dedupe_key=f"{dedupe_key}:operator:{user_id}" if dedupe_key else None,
            subject_type=subject_type,
            subject_id=subject_id,
            bypass_preferences=True,
            reached=reached,
        )
    live_event_publish(subject_type=subject_type, subject_id=subject_id, event={"type": "escalation", "kind": kind})
    return rows


def live_event_publish(*, subject_type: str, subject_id: str, event: dict[str, Any]) -> None:
    """Push `event` to the WebSocket clients watching the subject, once the transaction commits."""
    subject_validate(subject_type, subject_id)
    payload = normalise_context(event)
    payload.setdefault("subject_type", subject_type)
    payload.setdefault("subject_id", subject_id)
    group = subject_group(subject_type, subject_id)

    def push() -> None:
        group_push(group, payload)

    # A rolled-back change must not appear on anyone's screen; robust: a dead layer never fails the caller.
    transaction.on_commit(push, robust=True)
