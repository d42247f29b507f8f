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
from django.db import transaction
from django.utils import timezone

from escrow_project.common.enqueue import enqueue_on_commit
from escrow_project.common.errors import DomainError
from notifications.kinds import LIVE, kind_get
from notifications.models import Notification, NotificationFanout
from notifications.rendering import normalise_context, render_message
from notifications.services.enqueue import _bad, _enqueue, subject_validate
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


@transaction.atomic
def notification_fanout_expand(*, fanout_id: int) -> int:
    """Write the outbox rows of one fan-out, exactly once (the row lock and `expanded_at` make a
    repeated or concurrent task a no-op). Returns the number of rows written."""
    fanout = NotificationFanout.objects.select_for_update(skip_locked=True).filter(pk=fanout_id).first()
    if fanout is None or fanout.expanded_at is not None:
        return 0
    written = 0
    live: list[int] = []
    # One message per event, channel and person, however many of the recipients they belong to.
    reached: set[str] = set()

    def schedule(row: Notification) -> None:
        if row.channel == LIVE:
            live.append(row.pk)
        else:
            delivery_schedule_on_commit(row.pk)

    for stored in fanout.recipients:
        recipient = Recipient(type=stored["type"], user_id=stored["user_id"], organization_id=stored["organization_id"])
        try:
            # A savepoint: one recipient deleted since the business change must not lose the others.
            with transaction.atomic():
                written += len(
                    _enqueue(
                        kind=fanout.kind,
                        recipient=recipient,
                        context=fanout.context,
                        channels=None,
                        dedupe_key=f"{fanout.dedupe_prefix}:{_recipient_key(recipient)}"
                        if fanout.dedupe_prefix
                        else None,
                        subject_type=fanout.subject_type,
                        subject_id=fanout.subject_id,
                        bypass_preferences=False,
                        schedule=schedule,
                        reached=reached,
                    )
                )
        except DomainError as exc:
            logger.warning("notification_fanout_recipient_skipped", kind=fanout.kind, recipient=repr(recipient),
                           reason=exc.code)  # fmt: skip
    fanout.expanded_at = timezone.now()
    fanout.save(update_fields=["expanded_at"])
    if live:
        # A live push is a local publish on the channel layer, not a partner's server: this task sends
        # them itself after commit instead of queueing one task per row (five to ten per escrow event).
        # A row it does not get to stays pending and the outbox sweeper hands it to a worker.
        transaction.on_commit(lambda: _deliver_now(live), robust=True)
    return written


def _deliver_now(notification_ids: list[int]) -> None:
    from notifications.services.delivery import notification_deliver

    for notification_id in notification_ids:
        notification_deliver(notification_id=notification_id)


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
