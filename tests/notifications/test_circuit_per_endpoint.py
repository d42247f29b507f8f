"""One partner's dead webhook endpoint pauses only that endpoint; retries back off over hours."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import ChannelCircuit, CircuitState, Notification
from notifications.services import notification_deliver, notification_enqueue, webhook_endpoint_register
from notifications.services.delivery import retry_delay_seconds
from notifications.types import Recipient
from tests.factories import OrganizationFactory


def _dead_url() -> str:
    with socket.socket() as sock:  # a port nothing listens on: every send is refused (transient)
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/hook"


def _rows(url: str, count: int) -> list[Notification]:
    org = OrganizationFactory.create()
    webhook_endpoint_register(organization_id=org.pk, url=url)
    rows: list[Notification] = []
    for n in range(count):
        rows += notification_enqueue(
            kind="settlement_completed",
            recipient=Recipient.organization(org.pk),
            context={"reference": f"ESC-{n}"},
            channels=["webhook"],
        )
    return rows


@pytest.mark.django_db
def test_a_dead_endpoint_opens_its_own_breaker_and_other_partners_keep_receiving(receiver):
    receiver.behaviour = lambda n: (200, 0.0)
    dead = _rows(_dead_url(), 4)
    healthy = _rows(receiver.url, 2)

    for row in dead[:3]:
        assert notification_deliver(notification_id=row.pk) == "retry_scheduled"
    dead_key = f"webhook:{dead[0].webhook_endpoint_id}"
    assert ChannelCircuit.objects.get(pk=dead_key).state == CircuitState.OPEN
    assert notification_deliver(notification_id=dead[3].pk) == "circuit_open"

    # The other partner's endpoint is unaffected.
    assert [notification_deliver(notification_id=row.pk) for row in healthy] == ["sent", "sent"]
    assert len(receiver.calls) == 2
    assert not ChannelCircuit.objects.filter(pk=f"webhook:{healthy[0].webhook_endpoint_id}", state="open").exists()


@pytest.mark.django_db
def test_retries_of_one_webhook_back_off_growing_over_hours(settings):
    [row] = _rows(_dead_url(), 1)
    assert row.max_attempts == settings.NOTIFICATIONS_WEBHOOK_MAX_ATTEMPTS == 14
    key = f"webhook:{row.webhook_endpoint_id}"
    delays = []
    for _ in range(4):
        before = timezone.now()
        assert notification_deliver(notification_id=row.pk) == "retry_scheduled"
        due = Notification.objects.get(pk=row.pk).next_attempt_at
        assert due is not None
        delays.append(round((due - before).total_seconds()))
        # Due now, with the breaker closed, as if the wait and a successful probe had passed.
        Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        ChannelCircuit.objects.filter(pk=key).update(state=CircuitState.CLOSED, consecutive_failures=0)
    assert delays == [5, 10, 20, 40]
    schedule = [retry_delay_seconds(n) for n in range(1, 14)]
    assert schedule[-1] == 3600  # capped at an hour
    assert sum(schedule) > 4 * 3600  # 14 attempts span more than four hours
    assert timedelta(seconds=sum(schedule)) < timedelta(hours=5)
