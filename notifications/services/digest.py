"""Batch delivery: e-mail rows held for a digest go out as one message per recipient."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import structlog
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from notifications import metrics
from notifications.kinds import EMAIL
from notifications.models import Notification, NotificationStatus
from notifications.rendering import render_digest, render_message
from notifications.services.circuit import circuit_acquire, circuit_record_failure, circuit_record_success

logger = structlog.get_logger(__name__)


@transaction.atomic
def _claim_batch(user_id: int) -> list[Notification]:
    now = timezone.now()
    rows = list(
        Notification.objects.select_for_update(skip_locked=True)
        .filter(recipient_user_id=user_id, channel=EMAIL, digest=True, status=NotificationStatus.PENDING)
        .order_by("pk")
    )
    for row in rows:
        row.status = NotificationStatus.SENDING
        row.attempts += 1
        row.claimed_until = now + timedelta(seconds=settings.NOTIFICATIONS_DELIVERY_LEASE_SECONDS)
        row.save(update_fields=["status", "attempts", "claimed_until", "updated_at"])
    return rows


@transaction.atomic
def _finish_batch(rows: list[Notification], *, message_id: str, error: str) -> None:
    now = timezone.now()
    for row in rows:
        row.claimed_until = None
        if not error:
            row.status, row.sent_at, row.provider_message_id, row.last_error = (
                NotificationStatus.SENT,
                now,
                message_id,
                "",
            )
        else:
            row.last_error = error
            # Still a digest row: the next run tries again, until the attempts run out.
            row.status = NotificationStatus.FAILED if row.attempts >= row.max_attempts else NotificationStatus.PENDING
        row.save()


def digest_send_due() -> int:
    """Send one digest e-mail per user holding digest rows; returns how many digests went out."""
    user_ids = sorted(
        set(
            Notification.objects.filter(channel=EMAIL, digest=True, status=NotificationStatus.PENDING)
            .exclude(recipient_user_id=None)
            .values_list("recipient_user_id", flat=True)
        )
    )
    sent = 0
    for user_id in user_ids:
        if not circuit_acquire(channel=EMAIL).allowed:
            break  # the breaker is open: leave the rows pending for the next run
        rows = _claim_batch(user_id)
        if not rows:
            continue
        by_address: dict[str, list[Notification]] = defaultdict(list)
        for row in rows:
            by_address[row.address].append(row)
        for address, batch in by_address.items():
            items = []
            for row in batch:
                rendered = render_message(
                    row.kind, row.context, subject_type=row.subject_type, subject_id=row.subject_id
                )
                items.append({"subject": rendered.subject, "text": rendered.text})
            digest = render_digest(items)
            message_id = f"<digest-{batch[0].public_id}@escrow-platform>"
            email = EmailMultiAlternatives(
                subject=digest.subject,
                body=digest.text,
                from_email=settings.NOTIFICATIONS_FROM_EMAIL,
                to=[address],
                headers={"Message-ID": message_id},
            )
            email.attach_alternative(digest.html, "text/html")
            try:
                email.send(fail_silently=False)
            except OSError as exc:  # smtplib.SMTPException is an OSError
                circuit_record_failure(channel=EMAIL, error=str(exc))
                _finish_batch(batch, message_id="", error=f"mail server error: {exc}")
                continue
            circuit_record_success(channel=EMAIL)
            _finish_batch(batch, message_id=message_id, error="")
            metrics.SENT.labels(EMAIL).inc(len(batch))
            sent += 1
    logger.info("digests_sent", count=sent)
    return sent
