"""notification_fanout_enqueue: one row in the caller's transaction, every recipient's messages after commit."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from escrow_project.common.errors import DomainError
from identity.models import Role
from notifications.models import Notification, NotificationFanout
from notifications.services import (
    notification_fanout_enqueue,
    notification_fanout_expand,
    notification_fanouts_sweep,
    preference_set,
)
from notifications.types import Recipient
from tests.factories import OrganizationFactory, member

CTX = {"reference": "ESC-2026-0001", "amount": Decimal("2500.00"), "currency": "USD"}


@pytest.mark.django_db(transaction=True)
def test_after_commit_every_member_of_every_recipient_gets_the_message(eager_celery):
    household = OrganizationFactory.create()
    first = member(Role.BUYER, household, email="one@example.test")
    second = member(Role.BUYER, household, email="two@example.test")
    officer = member(Role.ESCROW_OFFICER, email="officer@example.test")

    notification_fanout_enqueue(
        kind="payment_released",
        recipients=[Recipient.organization(household.pk), Recipient.user(officer.pk)],
        context=CTX,
        subject_type="escrow_transaction",
        subject_id="abc",
    )

    emailed = Notification.objects.filter(kind="payment_released", channel="email", status="sent")
    assert set(emailed.values_list("recipient_user_id", flat=True)) == {first.pk, second.pk, officer.pk}
    assert sorted(m.to[0] for m in mail.outbox) == ["officer@example.test", "one@example.test", "two@example.test"]
    live = Notification.objects.filter(kind="payment_released", channel="live")
    assert set(live.values_list("recipient_user_id", "status")) == {(u.pk, "sent") for u in (first, second, officer)}
    assert NotificationFanout.objects.get().expanded_at is not None


@pytest.mark.django_db(transaction=True)
def test_the_expanding_worker_pushes_the_live_messages_itself(monkeypatch):
    from notifications import tasks

    buyer = member(Role.BUYER, email="buyer@example.test")
    queued: list[int] = []
    monkeypatch.setattr(tasks.deliver_notification, "apply_async", lambda args, **_: queued.append(args[0]))
    fanout = notification_fanout_enqueue(kind="payment_released", recipients=[Recipient.user(buyer.pk)], context=CTX)

    notification_fanout_expand(fanout_id=fanout.pk)

    email = Notification.objects.get(recipient_user=buyer, channel="email")
    assert queued == [email.pk]  # the e-mail goes to a delivery task; the live push went out at once
    assert Notification.objects.get(recipient_user=buyer, channel="live").status == "sent"


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_tells_nobody(eager_celery):
    buyer = member(Role.BUYER, email="buyer@example.test")

    def a_change_that_fails_after_telling() -> None:
        with transaction.atomic():
            notification_fanout_enqueue(kind="payment_released", recipients=[Recipient.user(buyer.pk)], context=CTX)
            raise RuntimeError("the business change failed")

    with pytest.raises(RuntimeError):
        a_change_that_fails_after_telling()

    assert NotificationFanout.objects.count() == 0
    assert Notification.objects.count() == 0
    assert mail.outbox == []


def test_a_missing_template_variable_fails_in_the_callers_request(db):
    buyer = member(Role.BUYER)

    with pytest.raises(DomainError):
        notification_fanout_enqueue(kind="payment_released", recipients=[Recipient.user(buyer.pk)], context={})

    assert NotificationFanout.objects.count() == 0


def test_expanding_twice_writes_the_messages_once(db):
    buyer = member(Role.BUYER, email="buyer@example.test")
    fanout = notification_fanout_enqueue(kind="payment_released", recipients=[Recipient.user(buyer.pk)], context=CTX)

    first = notification_fanout_expand(fanout_id=fanout.pk)
    again = notification_fanout_expand(fanout_id=fanout.pk)

    assert (first, again) == (2, 0)  # e-mail and live, once
    assert Notification.objects.filter(recipient_user=buyer).count() == 2


def test_the_recipients_preferences_still_apply(db):
    buyer = member(Role.BUYER, email="buyer@example.test")
    preference_set(user_id=buyer.pk, kind="transaction_initiated", channel="email", enabled=False)
    fanout = notification_fanout_enqueue(
        kind="transaction_initiated", recipients=[Recipient.user(buyer.pk)], context=CTX
    )

    notification_fanout_expand(fanout_id=fanout.pk)

    email = Notification.objects.get(recipient_user=buyer, channel="email")
    assert email.status == "skipped"
    assert email.last_error == "muted by the recipient's preferences"


def test_a_recipient_gone_before_expansion_does_not_lose_the_others(db):
    leaving = member(Role.BUYER)
    staying = member(Role.BUYER)
    fanout = notification_fanout_enqueue(
        kind="payment_released", recipients=[Recipient.user(leaving.pk), Recipient.user(staying.pk)], context=CTX
    )
    leaving.delete()

    notification_fanout_expand(fanout_id=fanout.pk)

    assert set(Notification.objects.values_list("recipient_user_id", flat=True)) == {staying.pk}
    assert NotificationFanout.objects.get().expanded_at is not None


def test_the_same_dedupe_prefix_twice_writes_each_recipients_messages_once(db):
    buyer = member(Role.BUYER)
    for _ in range(2):
        fanout = notification_fanout_enqueue(
            kind="payment_released", recipients=[Recipient.user(buyer.pk)], context=CTX, dedupe_prefix="escrow:1:paid"
        )
        notification_fanout_expand(fanout_id=fanout.pk)

    assert Notification.objects.filter(recipient_user=buyer).count() == 2  # e-mail and live, once each


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_expands_a_fanout_whose_task_was_lost(eager_celery):
    buyer = member(Role.BUYER)
    with transaction.atomic():
        fanout = NotificationFanout.objects.create(
            kind="payment_released",
            recipients=[{"type": "user", "user_id": buyer.pk, "organization_id": None}],
            context={"reference": "ESC-2026-0001", "amount": "2500.00", "currency": "USD"},
        )
    fresh = notification_fanouts_sweep()
    NotificationFanout.objects.filter(pk=fanout.pk).update(created_at=timezone.now() - timedelta(minutes=5))

    swept = notification_fanouts_sweep()

    assert (fresh, swept) == (0, 1)  # a fresh row is still its own task's to expand
    assert Notification.objects.filter(recipient_user=buyer).count() == 2
    assert NotificationFanout.objects.get().expanded_at is not None


def test_an_address_is_refused_at_enqueue(db):
    with pytest.raises(DomainError):
        notification_fanout_enqueue(
            kind="payment_released", recipients=[Recipient.address(email="a@example.test")], context=CTX
        )


def _households(count: int) -> list[Recipient]:
    """Organizations of two members: the organization turned e-mail off, one member turned it back
    on for themselves, the other off; both get the live message. Every preference rule is read."""
    recipients = []
    for _ in range(count):
        household = OrganizationFactory.create()
        preference_set(organization_id=household.pk, kind="", channel="email", enabled=False)
        for enabled in (True, False):
            person = member(Role.BUYER, household)
            preference_set(user_id=person.pk, kind="transaction_initiated", channel="email", enabled=enabled)
        recipients.append(Recipient.organization(household.pk))
    return recipients


def _expansion_queries(recipients: list[Recipient], django_capture_on_commit_callbacks) -> int:
    fanout = notification_fanout_enqueue(kind="transaction_initiated", recipients=recipients, context=CTX)
    with CaptureQueriesContext(connection) as captured, django_capture_on_commit_callbacks(execute=True):
        notification_fanout_expand(fanout_id=fanout.pk)  # and its live pushes, after commit
    return len(captured.captured_queries)


def test_an_expansion_costs_the_same_queries_for_two_recipients_or_eight(
    db, monkeypatch, django_capture_on_commit_callbacks
):
    from notifications import tasks

    monkeypatch.setattr(tasks.deliver_notification, "apply_async", lambda *args, **kwargs: None)
    small = _expansion_queries(_households(2), django_capture_on_commit_callbacks)
    large = _expansion_queries(_households(8), django_capture_on_commit_callbacks)

    assert (small, large) == (small, small), "queries grow with the recipients"

    email = Notification.objects.filter(channel="email")
    assert email.filter(status="pending").count() == 10  # the members who turned e-mail back on
    assert email.filter(status="skipped", last_error="muted by the recipient's preferences").count() == 10
    assert Notification.objects.filter(channel="live", status="sent").count() == 20
    assert small <= 31  # was 4 + 52 per household: 108 for two, 420 for eight


def test_live_pushes_of_a_fanout_with_the_channel_layer_down_wait_for_a_retry(
    db, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from notifications import tasks

    monkeypatch.setattr(tasks.deliver_notification, "apply_async", lambda *args, **kwargs: None)
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}
    }
    buyers = [member(Role.BUYER), member(Role.BUYER)]
    fanout = notification_fanout_enqueue(
        kind="payment_released", recipients=[Recipient.user(b.pk) for b in buyers], context=CTX
    )

    with django_capture_on_commit_callbacks(execute=True):
        notification_fanout_expand(fanout_id=fanout.pk)

    lives = list(Notification.objects.filter(channel="live"))
    assert len(lives) == 2
    for live in lives:
        assert (live.status, live.attempts, live.claimed_until) == ("pending", 1, None)
        assert live.next_attempt_at is not None
        assert live.next_attempt_at > timezone.now()  # the retry, and the sweeper after it, send it again
        assert "channel layer unreachable" in live.last_error
        assert [a.outcome for a in live.attempt_log.all()] == ["transient"]
