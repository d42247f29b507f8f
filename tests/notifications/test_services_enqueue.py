"""notification_enqueue: outbox rows in the caller's transaction, delivery only after commit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import transaction

from escrow_project.common.errors import DomainError, NotFoundError
from identity.models import Role
from notifications.models import Notification, NotificationStatus
from notifications.services import notification_enqueue, preference_set
from notifications.types import Recipient
from tests.factories import OrganizationFactory, member

CTX = {"reference": "ESC-2026-0001", "amount": Decimal("2500.00"), "currency": "USD"}


@pytest.mark.django_db(transaction=True)
def test_enqueue_in_a_rolled_back_transaction_sends_nothing(eager_celery):
    buyer = member(Role.BUYER)

    class Boom(Exception):
        pass

    written = []

    def service_that_fails_after_enqueueing():
        with transaction.atomic():
            written.extend(
                notification_enqueue(kind="payment_released", recipient=Recipient.user(buyer.pk), context=CTX)
            )
            raise Boom

    with pytest.raises(Boom):
        service_that_fails_after_enqueueing()

    assert len(written) == 2  # email and live were written inside the transaction

    assert Notification.objects.count() == 0
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_enqueue_then_commit_delivers_the_email(eager_celery):
    buyer = member(Role.BUYER, email="buyer@example.test")

    rows = notification_enqueue(
        kind="payment_released", recipient=Recipient.user(buyer.pk), context=CTX, channels=["email"]
    )

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert isinstance(message, EmailMultiAlternatives)
    assert message.to == ["buyer@example.test"]
    assert message.subject == "Payment released for ESC-2026-0001"
    assert "$2,500.00" in message.body
    assert message.alternatives[0][1] == "text/html"
    row = Notification.objects.get(pk=rows[0].pk)
    assert row.status == NotificationStatus.SENT
    assert row.attempts == 1
    assert row.provider_message_id == message.extra_headers["Message-ID"]
    stored: Any = row.context
    assert stored["amount"] == "2500.00"  # stored as JSON, Decimal as text


@pytest.mark.django_db
def test_rows_wait_for_commit(django_capture_on_commit_callbacks):
    buyer = member(Role.BUYER)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        rows = notification_enqueue(kind="settlement_completed", recipient=Recipient.user(buyer.pk), context=CTX)
    assert {r.channel for r in rows} == {"email", "live"}
    assert all(r.status == NotificationStatus.PENDING for r in rows)
    assert len(callbacks) == 2
    assert mail.outbox == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"kind": "nope"}, "notification_kind_unknown"),
        ({"context": {"reference": "X"}}, "notification_context_missing"),
        ({"channels": ["pigeon"]}, "notification_channel_unknown"),
        ({"channels": ["webhook"]}, "notification_channel_not_applicable"),
        ({"recipient": Recipient.address(email="not-an-email")}, "email_invalid"),
        ({"recipient": Recipient.address(phone="0123")}, "phone_invalid"),
        ({"context": {"reference": "X", "amount": object(), "currency": "USD"}}, "notification_context_invalid"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(kwargs, code):
    buyer = member(Role.BUYER)
    call = {"kind": "payment_released", "recipient": Recipient.user(buyer.pk), "context": CTX, **kwargs}
    with pytest.raises(DomainError) as caught:
        notification_enqueue(**call)
    assert caught.value.code == code
    assert Notification.objects.count() == 0


@pytest.mark.django_db
def test_unknown_user_is_not_found():
    with pytest.raises(NotFoundError):
        notification_enqueue(kind="settlement_completed", recipient=Recipient.user(987654), context=CTX)
    assert Notification.objects.count() == 0


@pytest.mark.django_db
def test_dedupe_key_makes_enqueue_idempotent():
    buyer = member(Role.BUYER)
    first = notification_enqueue(
        kind="settlement_completed", recipient=Recipient.user(buyer.pk), context=CTX, dedupe_key="escrow:1:settled"
    )
    again = notification_enqueue(
        kind="settlement_completed", recipient=Recipient.user(buyer.pk), context=CTX, dedupe_key="escrow:1:settled"
    )
    assert [r.pk for r in again] == [r.pk for r in first]
    assert Notification.objects.count() == 2


@pytest.mark.django_db
def test_organization_recipient_reaches_every_member():
    org = OrganizationFactory.create()
    a, b = member(Role.AGENT, org), member(Role.AGENT, org)
    member(Role.AGENT)  # someone elsewhere
    rows = notification_enqueue(
        kind="dispute_raised", recipient=Recipient.organization(org.pk), context={**CTX, "reason": "leak"}
    )
    assert sorted((r.channel, r.recipient_user_id) for r in rows) == sorted(
        [("email", a.pk), ("email", b.pk), ("live", a.pk), ("live", b.pk)]
    )


@pytest.mark.django_db
def test_explicit_address_reaches_someone_without_account():
    rows = notification_enqueue(
        kind="settlement_completed",
        recipient=Recipient.address(email="seller@example.test", phone="+14155550100"),
        context=CTX,
    )
    assert sorted(r.channel for r in rows) == ["email"]  # the kind's defaults: SMS is not one of them
    row = rows[0]
    assert row.address == "seller@example.test"
    assert row.target.startswith("address:")
    assert "seller" not in row.target


@pytest.mark.django_db
def test_muted_channel_is_recorded_as_skipped():
    buyer = member(Role.BUYER)
    preference_set(user_id=buyer.pk, kind="transaction_initiated", channel="email", enabled=False)
    rows = notification_enqueue(kind="transaction_initiated", recipient=Recipient.user(buyer.pk), context=CTX)
    by_channel = {r.channel: r for r in rows}
    assert by_channel["email"].status == NotificationStatus.SKIPPED
    assert "preferences" in by_channel["email"].last_error
    assert by_channel["live"].status == NotificationStatus.PENDING


@pytest.mark.django_db
def test_organization_preference_applies_to_its_members_unless_the_user_overrides():
    org = OrganizationFactory.create()
    muted, opted_in = member(Role.AGENT, org), member(Role.AGENT, org)
    preference_set(organization_id=org.pk, channel="email", enabled=False)
    preference_set(user_id=opted_in.pk, channel="email", enabled=True)
    rows = notification_enqueue(
        kind="transaction_initiated", recipient=Recipient.organization(org.pk), context=CTX, channels=["email"]
    )
    status = {r.recipient_user_id: r.status for r in rows}
    assert status == {muted.pk: NotificationStatus.SKIPPED, opted_in.pk: NotificationStatus.PENDING}


@pytest.mark.django_db
def test_user_without_phone_gets_a_skipped_sms_row():
    buyer = member(Role.BUYER)
    (row,) = notification_enqueue(
        kind="settlement_completed", recipient=Recipient.user(buyer.pk), context=CTX, channels=["sms"]
    )
    assert row.status == NotificationStatus.SKIPPED
    assert row.last_error == "the user has no phone number"


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_at_enqueue_does_not_fail_the_committed_caller(monkeypatch):
    from kombu.exceptions import OperationalError

    from notifications.tasks import deliver_notification

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("broker unreachable")

    monkeypatch.setattr(deliver_notification, "apply_async", broker_down)
    buyer = member(Role.BUYER)
    with transaction.atomic():
        rows = notification_enqueue(kind="payment_released", recipient=Recipient.user(buyer.pk), context=CTX)

    # The caller's work stands; the rows wait, pending, for the sweeper.
    assert Notification.objects.filter(pk__in=[row.pk for row in rows], status=NotificationStatus.PENDING).count() == 2
