"""One message to many recipients: one row in the caller's transaction, expanded by a worker.

Writing every recipient's outbox rows inside a business request costs a few queries per member,
preference and webhook endpoint of every party (80 of the 140 queries of opening an escrow). The
fan-out row is the outbox for that work: it commits or rolls back with the business change, a task
expands it after commit, and the sweeper hands a row whose task was lost to a worker again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from escrow_project.common.enqueue import enqueue_on_commit
from escrow_project.common.errors import DomainError
from identity.models import Membership, Organization, User
from notifications.kinds import LIVE, WEBHOOK, kind_get
from notifications.models import ContactPoint, Notification, NotificationFanout, WebhookEndpoint
from notifications.rendering import normalise_context, render_message
from notifications.services.delivery import notifications_deliver_batch
from notifications.services.enqueue import Lookups, _bad, _plan, _write_row, _written, subject_validate
from notifications.services.preferences import Choice, preferences_of_many
from notifications.services.scheduling import delivery_schedule_on_commit
from notifications.types import Recipient

logger = structlog.get_logger(__name__)

# A fan-out whose task has not run this long after commit was lost (broker down, worker killed).
FANOUT_SWEEP_GRACE = timedelta(seconds=30)


def _recipient_key(recipient: Recipient) -> str:
    return f"{recipient.type}:{recipient.user_id or recipient.organization_id}"


def _stored(recipient: Recipient) -> dict[str, Any]:
    if not isinstance(recipient, Recipient) or recipient.type not in ("user", "organization"):
        # Addresses are personal data and change meaning over time: they go through notification_enqueue.
        raise _bad("A fan-out reaches users and organizations only.", "recipient_invalid", "recipients")
    if recipient.type == "user" and recipient.user_id is None:
        raise _bad("A user recipient needs a user id.", "recipient_invalid", "recipients")
    if recipient.type == "organization" and recipient.organization_id is None:
        raise _bad("An organization recipient needs an organization id.", "recipient_invalid", "recipients")
    return {"type": recipient.type, "user_id": recipient.user_id, "organization_id": recipient.organization_id}


def notification_fanout_enqueue(
    *,
    kind: str,
    recipients: list[Recipient],
    context: dict[str, Any],
    dedupe_prefix: str = "",
    subject_type: str = "",
    subject_id: str = "",
) -> NotificationFanout:
    """Tell many recipients, with one row in the caller's transaction; a worker writes their outbox
    rows (preferences, members, webhook endpoints) after commit. Same checks as notification_enqueue:
    an unknown kind or a missing template variable fails here, in the caller's request."""
    kind_get(kind)
    stored_context = normalise_context(context)
    render_message(kind, stored_context)
    if subject_type or subject_id:
        subject_validate(subject_type, subject_id)
    fanout = NotificationFanout.objects.create(
        kind=kind,
        recipients=[_stored(r) for r in dict.fromkeys(recipients)],
        context=stored_context,
        subject_type=subject_type,
        subject_id=subject_id,
        dedupe_prefix=dedupe_prefix,
    )
    from notifications.tasks import expand_fanout

    enqueue_on_commit(expand_fanout, fanout.pk)
    return fanout


class FanoutLookups(Lookups):
    """Every read of a fan-out's expansion done up front, a few queries for all its recipients
    (users, members, phones, webhook endpoints, preferences, rows already written), instead of up
    to a dozen per recipient. The rules that read them are the ones notification_enqueue uses."""

    def __init__(self, *, kind: str, recipients: list[Recipient], dedupe_keys: list[str]) -> None:
        user_ids = {r.user_id for r in recipients if r.type == "user" and r.user_id is not None}
        org_ids = {r.organization_id for r in recipients if r.type == "organization" and r.organization_id is not None}
        self._orgs = set(Organization.objects.filter(pk__in=org_ids).values_list("pk", flat=True))
        self._members: dict[int, list[int]] = {}
        for org_id, user_id in Membership.objects.filter(organization_id__in=self._orgs).values_list(
            "organization_id", "user_id"
        ):
            self._members.setdefault(org_id, []).append(user_id)
        every_user = user_ids.union(*self._members.values())
        self._users = {u.pk: u for u in User.objects.filter(pk__in=every_user)}
        self._phones = {c.user_id: c.phone for c in ContactPoint.objects.filter(user_id__in=every_user)}
        self._endpoints: dict[int, list[WebhookEndpoint]] = {}
        if WEBHOOK in kind_get(kind).default_channels:
            endpoints = WebhookEndpoint.objects.filter(organization_id__in=self._orgs, is_active=True).order_by("pk")
            for endpoint in endpoints:
                self._endpoints.setdefault(endpoint.organization_id, []).append(endpoint)
        self._existing: dict[str, list[Notification]] = {}
        if dedupe_keys:
            for row in Notification.objects.filter(dedupe_key__in=dedupe_keys).order_by("pk"):
                self._existing.setdefault(row.dedupe_key or "", []).append(row)
        self._preference = preferences_of_many(
            kind=kind, user_ids={u.pk for u in self._users.values() if u.is_active}, organization_ids=self._orgs
        )

    def user_exists(self, user_id: int) -> bool:
        return user_id in self._users

    def organization_exists(self, organization_id: int) -> bool:
        return organization_id in self._orgs

    def users_of(self, recipient: Recipient) -> list[User]:
        if recipient.type == "user":
            ids = [recipient.required_user_id()]
        else:
            ids = sorted(set(self._members.get(recipient.required_organization_id(), [])))
        return [self._users[i] for i in ids if i in self._users and self._users[i].is_active]

    def phones(self, users: list[User]) -> dict[int, str]:
        return {u.pk: self._phones[u.pk] for u in users if u.pk in self._phones}

    def endpoints(self, organization_id: int) -> list[WebhookEndpoint]:
        return self._endpoints.get(organization_id, [])

    def existing(self, dedupe_key: str) -> list[Notification]:
        return self._existing.get(dedupe_key, [])

    def preference(self, *, kind: str, channel: str, user_id: int | None, organization_id: int | None) -> Choice:
        return self._preference(channel, user_id, organization_id)


def _write_rows(planned: list[tuple[dict[str, Any], str | None]]) -> list[Notification]:
    """One INSERT for all the rows of an expansion. The rows already written under their dedupe keys
    were read up front and the fan-out row is locked, so a conflict means another writer used the
    same key meanwhile: then row by row, as notification_enqueue does, each keeping what is there."""
    try:
        with transaction.atomic():
            return Notification.objects.bulk_create(
                [Notification(dedupe_key=dedupe_key, **fields) for fields, dedupe_key in planned]
            )
    except IntegrityError:
        return [_write_row(fields=fields, dedupe_key=dedupe_key) for fields, dedupe_key in planned]


@transaction.atomic
def notification_fanout_expand(*, fanout_id: int) -> int:
    """Write the outbox rows of one fan-out, exactly once (the row lock and `expanded_at` make a
    repeated or concurrent task a no-op). Returns the number of rows written."""
    fanout = NotificationFanout.objects.select_for_update(skip_locked=True).filter(pk=fanout_id).first()
    if fanout is None or fanout.expanded_at is not None:
        return 0
    recipients = [
        Recipient(type=stored["type"], user_id=stored["user_id"], organization_id=stored["organization_id"])
        for stored in fanout.recipients
    ]

    def dedupe_key(recipient: Recipient) -> str | None:
        return f"{fanout.dedupe_prefix}:{_recipient_key(recipient)}" if fanout.dedupe_prefix else None

    written = 0
    planned: list[tuple[dict[str, Any], str | None]] = []
    try:
        # The context is the same for every recipient: a missing variable fails them all alike.
        kind_get(fanout.kind)
        render_message(fanout.kind, fanout.context)
    except DomainError as exc:
        logger.warning("notification_fanout_recipients_skipped", kind=fanout.kind, count=len(recipients),
                       reason=exc.code)  # fmt: skip
        recipients = []
    lookups = FanoutLookups(
        kind=fanout.kind, recipients=recipients, dedupe_keys=[k for k in map(dedupe_key, recipients) if k]
    )
    # One message per event, channel and person, however many of the recipients they belong to.
    reached: set[str] = set()
    for recipient in recipients:
        try:
            # Validation fails before anything of a recipient is decided (one deleted since the
            # business change), so skipping it loses nothing of the others and needs no savepoint.
            rows = _plan(
                kind=fanout.kind,
                recipient=recipient,
                stored_context=fanout.context,
                channels=None,
                dedupe_key=dedupe_key(recipient),
                subject_type=fanout.subject_type,
                subject_id=fanout.subject_id,
                bypass_preferences=False,
                reached=reached,
                lookups=lookups,
            )
        except DomainError as exc:
            logger.warning("notification_fanout_recipient_skipped", kind=fanout.kind, recipient=repr(recipient),
                           reason=exc.code)  # fmt: skip
            continue
        written += len(rows.existing)
        planned += [(fields, dedupe_key(recipient)) for fields in rows.fields]
    live: list[int] = []

    def schedule(row: Notification) -> None:
        if row.channel == LIVE:
            live.append(row.pk)
        else:
            delivery_schedule_on_commit(row.pk)

    for row in _write_rows(planned) if planned else []:
        _written(row, schedule)
        written += 1
    logger.info("notification_fanout_expanded", kind=fanout.kind, rows=written, recipients=len(recipients))
    fanout.expanded_at = timezone.now()
    fanout.save(update_fields=["expanded_at"])
    if live:
        # A live push is a local publish on the channel layer, not a partner's server: this task sends
        # them itself after commit, in one claim and one record for all of them, instead of queueing
        # one task per row (five to ten per escrow event). A row it does not get to stays pending and
        # the outbox sweeper hands it to a worker.
        transaction.on_commit(lambda: notifications_deliver_batch(notification_ids=live), robust=True)
    return written


def notification_fanouts_sweep(*, limit: int = 500) -> int:
    """Hand fan-outs whose task was lost (broker down at commit, worker killed) to a worker again."""
    from notifications.tasks import expand_fanout

    due = NotificationFanout.objects.filter(
        expanded_at__isnull=True, created_at__lte=timezone.now() - FANOUT_SWEEP_GRACE
    ).values_list("pk", flat=True)
    ids = list(due.order_by("pk")[:limit])
    for fanout_id in ids:
        enqueue_on_commit(expand_fanout, fanout_id)
    if ids:
        logger.info("notification_fanouts_swept", count=len(ids))
    return len(ids)
