"""Sent, failed and latency per channel, and each breaker's state, on /metrics."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from identity.models import Role
from notifications.models import ChannelCircuit, CircuitState
from notifications.services import notification_deliver, notification_enqueue
from notifications.types import Recipient
from tests.factories import member


def _sample(name: str) -> float:
    return REGISTRY.get_sample_value(name, {"channel": "email"}) or 0.0


@pytest.mark.django_db
def test_metrics_page_shows_deliveries_and_the_circuit_state(client):
    # The registry is process-global: compare with the values before, so an earlier test's e-mail
    # cannot make this pass.
    sent_before = _sample("notifications_sent_total")
    timed_before = _sample("notifications_delivery_seconds_count")
    ChannelCircuit.objects.create(channel="sms", state=CircuitState.OPEN)
    (row,) = notification_enqueue(
        kind="settlement_completed",
        recipient=Recipient.user(member(Role.BUYER).pk),
        context={"reference": "M-1"},
        channels=["email"],
    )
    notification_deliver(notification_id=row.pk)

    body = client.get("/metrics").content.decode()

    assert 'notifications_circuit_state{channel="sms"} 2.0' in body
    assert 'notifications_sent_total{channel="email"}' in body
    assert 'notifications_delivery_seconds_count{channel="email"}' in body
    assert _sample("notifications_sent_total") == sent_before + 1
    assert _sample("notifications_delivery_seconds_count") == timed_before + 1
