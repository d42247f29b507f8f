"""The outbox in the operator console: filters, last error, the retry action and the breakers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from identity.models import Role, User
from notifications.models import ChannelCircuit, CircuitState, Notification, NotificationStatus
from notifications.services import notification_enqueue
from notifications.types import Recipient
from tests.console import action_url, confirm
from tests.factories import member


@pytest.fixture
def operator_client(client):
    user = User.objects.create_superuser("console-operator", "ops@example.test", "pw-not-used-elsewhere")
    client.force_login(user)
    return client


def _failed_row() -> Notification:
    (row,) = notification_enqueue(
        kind="settlement_completed",
        recipient=Recipient.user(member(Role.BUYER).pk),
        context={"reference": "ESC-3"},
        channels=["email"],
    )
    Notification.objects.filter(pk=row.pk).update(status="failed", attempts=3, last_error="HTTP 503: try later")
    return row


@pytest.mark.django_db
def test_outbox_filters_show_the_last_error(operator_client):
    _failed_row()
    url = reverse("admin:notifications_notification_changelist")
    page = operator_client.get(url, {"status__exact": "failed", "channel__exact": "email"})
    assert page.status_code == 200
    assert "HTTP 503: try later" in page.content.decode()
    assert "HTTP 503" not in operator_client.get(url, {"status__exact": "sent"}).content.decode()


@pytest.mark.django_db
def test_retry_action_queues_the_row_again(operator_client, django_capture_on_commit_callbacks):
    row = _failed_row()
    assert operator_client.post(action_url(row, "retry"), {"reason": ""}).status_code == 400
    assert Notification.objects.get(pk=row.pk).status == NotificationStatus.FAILED
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = operator_client.post(action_url(row, "retry"), {"reason": "Mail provider is back up"})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.status == NotificationStatus.PENDING
    assert row.attempts == 0
    assert len(callbacks) == 1  # the delivery task is queued on commit


@pytest.mark.django_db
def test_detail_page_shows_no_personal_data(operator_client):
    row = _failed_row()
    page = operator_client.get(reverse("admin:notifications_notification_change", args=[row.pk]))
    assert page.status_code == 200
    assert "@example.test" not in page.content.decode()


@pytest.mark.django_db
def test_open_circuit_is_visible_and_can_be_closed(operator_client):
    ChannelCircuit.objects.create(channel="webhook", state=CircuitState.OPEN, consecutive_failures=3)
    url = reverse("admin:notifications_channelcircuit_changelist")
    assert "Open" in operator_client.get(url).content.decode()
    circuit = ChannelCircuit.objects.get(pk="webhook")
    page = operator_client.get(action_url(circuit, "reset")).content.decode()
    assert "Close the webhook breaker now (open, 3 failures in a row)" in page
    confirm(operator_client, circuit, "reset", reason="Partner fixed their TLS certificate")
    assert ChannelCircuit.objects.get(pk="webhook").state == CircuitState.CLOSED
