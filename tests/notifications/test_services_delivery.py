"""Circuit breaker, sweeper, escalation, digest and SMS delivery."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from prometheus_client import REGISTRY

from escrow_project.celery import app as celery_app
from identity.models import Role
from notifications.models import ChannelCircuit, CircuitState, ContactPoint, Notification, NotificationStatus
from notifications.services import (
    digest_send_due,
    notification_deliver,
    notification_enqueue,
    outbox_sweep,
    preference_set,
    send_escalation_alert,
    webhook_endpoint_register,
)
from notifications.types import Recipient
from tests.factories import OrganizationFactory, member, operator

CTX = {"reference": "REC-7", "break_count": 3}


def _circuit_metric(key: str) -> float | None:
    return REGISTRY.get_sample_value("notifications_circuit_state", {"channel": key})


def _webhook_rows(receiver, count):
    org = OrganizationFactory.create()
    webhook_endpoint_register(organization_id=org.pk, url=receiver.url)
    rows = []
    for n in range(count):
        rows += notification_enqueue(
            kind="settlement_completed",
            recipient=Recipient.organization(org.pk),
            context={"reference": f"ESC-{n}"},
            channels=["webhook"],
        )
    return rows


@pytest.mark.django_db
def test_circuit_breaker_opens_after_three_failures_and_recovers_through_one_probe(receiver):
    answers = {"status": 500}
    receiver.behaviour = lambda n: (answers["status"], 0.0)
    rows = _webhook_rows(receiver, 5)
    key = f"webhook:{rows[0].webhook_endpoint_id}"  # one breaker per endpoint

    # Three consecutive failures (on three different rows) open the webhook circuit.
    for row in rows[:3]:
        assert notification_deliver(notification_id=row.pk) == "retry_scheduled"
    circuit = ChannelCircuit.objects.get(channel=key)
    assert circuit.state == CircuitState.OPEN
    assert _circuit_metric(key) == 2.0

    # While open, nothing goes out: the row waits until the breaker may half-open.
    assert notification_deliver(notification_id=rows[3].pk) == "circuit_open"
    assert len(receiver.calls) == 3
    rows[3].refresh_from_db()
    assert rows[3].status == NotificationStatus.PENDING
    assert rows[3].attempts == 0  # an attempt the breaker prevented does not count
    assert circuit.opened_at is not None
    assert rows[3].next_attempt_at == circuit.opened_at + timedelta(seconds=120)

    # 120 s later (moved back in time rather than slept), one probe goes through; it fails: open again.
    ChannelCircuit.objects.filter(pk=key).update(opened_at=timezone.now() - timedelta(seconds=121))
    Notification.objects.filter(pk=rows[3].pk).update(next_attempt_at=timezone.now())
    assert notification_deliver(notification_id=rows[3].pk) == "retry_scheduled"
    assert ChannelCircuit.objects.get(pk=key).state == CircuitState.OPEN
    assert len(receiver.calls) == 4

    # Next window: the partner is back, the probe succeeds and the breaker closes.
    answers["status"] = 200
    ChannelCircuit.objects.filter(pk=key).update(opened_at=timezone.now() - timedelta(seconds=121))
    assert notification_deliver(notification_id=rows[4].pk) == "sent"
    circuit = ChannelCircuit.objects.get(channel=key)
    assert circuit.state == CircuitState.CLOSED
    assert circuit.consecutive_failures == 0
    assert _circuit_metric(key) == 0.0
    Notification.objects.filter(pk=rows[0].pk).update(next_attempt_at=timezone.now())
    assert notification_deliver(notification_id=rows[0].pk) == "sent"


@pytest.mark.django_db
def test_half_open_lets_only_one_probe_through_at_a_time(receiver):
    rows = _webhook_rows(receiver, 2)
    key = f"webhook:{rows[0].webhook_endpoint_id}"
    ChannelCircuit.objects.create(
        channel=key, state=CircuitState.OPEN, opened_at=timezone.now() - timedelta(seconds=200)
    )
    from notifications.services import circuit_acquire

    assert circuit_acquire(channel=key).probe is True
    second = circuit_acquire(channel=key)
    assert second.allowed is False
    assert notification_deliver(notification_id=rows[0].pk) == "circuit_open"


@pytest.mark.django_db
def test_sweeper_reenqueues_rows_left_pending_and_rows_whose_worker_died(settings):
    settings.NOTIFICATIONS_SWEEP_GRACE_SECONDS = 30
    buyer = member(Role.BUYER)
    fresh, stuck, lost, done = (
        notification_enqueue(
            kind="verification_completed",
            recipient=Recipient.user(buyer.pk),
            context={"reference": f"ESC-{n}", "verification_type": "title search"},
            channels=["email"],
        )[0]
        for n in range(4)
    )
    old = timezone.now() - timedelta(minutes=5)
    Notification.objects.filter(pk=stuck.pk).update(next_attempt_at=old)  # broker was down at commit
    Notification.objects.filter(pk=lost.pk).update(status="sending", claimed_until=old, attempts=1)
    Notification.objects.filter(pk=done.pk).update(status="sent", next_attempt_at=old)

    sent = []
    original = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        assert outbox_sweep() == 2
        sent = [m.subject for m in mail.outbox]
    finally:
        celery_app.conf.task_always_eager = original
    assert sorted(sent) == [
        "Verification completed: title search for ESC-1",
        "Verification completed: title search for ESC-2",
    ]
    lost.refresh_from_db()
    assert lost.status == NotificationStatus.SENT
    assert lost.attempts == 2
    assert [a.outcome for a in lost.attempt_log.all()] == ["sent"]
    fresh.refresh_from_db()
    assert fresh.status == NotificationStatus.PENDING  # not yet due for the sweeper: its task is on its way


@pytest.mark.django_db
def test_escalation_reaches_operators_whatever_their_preferences():
    on_call = operator()
    ContactPoint.objects.create(user=on_call, phone="+14155550123")
    preference_set(user_id=on_call.pk, channel="email", enabled=False)
    bystander = member(Role.BUYER)

    rows = send_escalation_alert(
        kind="verification_overdue",
        context={"reference": "ESC-5", "verification_type": "title search", "due_date": "2026-11-20"},
        subject_type="verification",
        subject_id="v-77",
    )

    assert {(r.recipient_user_id, r.channel) for r in rows} == {
        (on_call.pk, "email"),
        (on_call.pk, "sms"),
        (on_call.pk, "live"),
    }
    assert all(r.status == NotificationStatus.PENDING for r in rows)
    assert all(r.bypass_preferences for r in rows)
    assert not Notification.objects.filter(recipient_user=bystander).exists()
    sms = next(r for r in rows if r.channel == "sms")
    assert notification_deliver(notification_id=sms.pk) == "sent"
    sms.refresh_from_db()
    assert sms.provider_message_id.startswith("log-")


@pytest.mark.django_db
def test_digest_rows_wait_and_go_out_as_one_email():
    buyer = member(Role.BUYER, email="digest@example.test")
    preference_set(user_id=buyer.pk, channel="email", enabled=True, digest=True)
    for n in range(3):
        notification_enqueue(
            kind="verification_completed",
            recipient=Recipient.user(buyer.pk),
            context={"reference": f"ESC-{n}", "verification_type": "title search"},
            channels=["email"],
        )
    rows = list(Notification.objects.filter(recipient_user=buyer))
    assert all(r.digest for r in rows)
    assert notification_deliver(notification_id=rows[0].pk) == "held_for_digest"
    assert mail.outbox == []

    assert digest_send_due() == 1

    (message,) = mail.outbox
    assert message.to == ["digest@example.test"]
    assert message.subject == "Your digest: 3 notifications"
    for n in range(3):
        assert f"Verification completed: title search for ESC-{n}" in message.body
    assert set(Notification.objects.filter(recipient_user=buyer).values_list("status", flat=True)) == {"sent"}
    assert digest_send_due() == 0


@pytest.mark.django_db
def test_email_server_down_is_retried_then_failed(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1  # nothing listens
    buyer = member(Role.BUYER)
    (row,) = notification_enqueue(
        kind="settlement_completed", recipient=Recipient.user(buyer.pk), context={"reference": "E"}, channels=["email"]
    )
    assert notification_deliver(notification_id=row.pk) == "retry_scheduled"
    row.refresh_from_db()
    assert row.last_error.startswith("mail server error")


@pytest.mark.django_db
def test_twilio_configured_without_its_sdk_fails_the_sms_with_the_reason(settings):
    import importlib.util

    if importlib.util.find_spec("twilio") is not None:
        pytest.skip("the twilio package is installed here; this checks the import guard")
    settings.NOTIFICATIONS_SMS_BACKEND = ""
    settings.TWILIO_ACCOUNT_SID = "AC-configured"
    (row,) = notification_enqueue(
        kind="settlement_completed",
        recipient=Recipient.address(phone="+14155550100"),
        context={"reference": "S-1"},
        channels=["sms"],
    )
    assert notification_deliver(notification_id=row.pk) == "retry_scheduled"
    row.refresh_from_db()
    assert "twilio package is not installed" in row.last_error


# --- No personal data in error fields (review H7) ---------------------------------------------


@pytest.fixture
def smtp_peer(settings):
    from tests.notifications.smtp_peer import SmtpPeer

    peer = SmtpPeer().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", peer.port, 20
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield peer
    peer.stop()


def _email_to(address):
    buyer = member(Role.BUYER, email=address)
    (row,) = notification_enqueue(
        kind="settlement_completed", recipient=Recipient.user(buyer.pk), context={"reference": "E"}, channels=["email"]
    )
    return row


def _stored_error_texts(row):
    row.refresh_from_db()
    circuit = ChannelCircuit.objects.filter(channel="email").first()
    attempts = list(row.attempt_log.all())
    return [
        row.last_error,
        *(a.error for a in attempts),
        *(getattr(a, "operator_detail", "") for a in attempts),
        circuit.last_error if circuit else "",
    ]


@pytest.mark.django_db
def test_a_refused_address_is_not_stored_in_any_error_field(smtp_peer):
    smtp_peer.rcpt_reply = "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown"
    row = _email_to("jane.roe@buyer-mail.test")

    assert notification_deliver(notification_id=row.pk) == "failed"

    assert any(c.upper().startswith("RCPT TO:<JANE.ROE@") for c in smtp_peer.commands)  # it was really asked
    row.refresh_from_db()
    assert row.last_error == "recipient refused by the mail server (SMTP 550)"
    for text in _stored_error_texts(row):
        assert "jane.roe" not in text.lower()


@pytest.mark.django_db
def test_a_mail_server_reply_quoting_the_address_is_redacted_everywhere_including_the_circuit(smtp_peer):
    smtp_peer.data_reply = "451 4.3.0 Mailbox {rcpt} busy, try later (call +1 415 555 0100)"
    row = _email_to("jane.roe@buyer-mail.test")

    assert notification_deliver(notification_id=row.pk) == "retry_scheduled"

    row.refresh_from_db()
    assert row.last_error == "mail server error: SMTPDataError (SMTP 451)"
    assert ChannelCircuit.objects.get(channel="email").consecutive_failures == 1
    texts = _stored_error_texts(row)
    # Operators still see the reply, masked.
    assert "[REDACTED]" in getattr(row.attempt_log.get(), "operator_detail", "")
    for text in texts:
        assert "jane.roe" not in text.lower()
        assert "555 0100" not in text
