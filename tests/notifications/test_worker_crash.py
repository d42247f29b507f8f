"""A Celery worker killed (SIGKILL) in the middle of a webhook delivery: after recovery the partner
has processed the event exactly once.

Real pieces only: a Celery worker subprocess on the Redis broker, the test PostgreSQL database, a
local HTTP receiver on 127.0.0.1 that records every call. The receiver answers the first call slowly,
so the worker is killed while it waits for the answer: the partner got the request, the platform
never learnt the outcome. This is the case no sender can settle alone, so:

- the restarted worker (via the sweeper, once the dead worker's lease expired) sends the SAME
  message again (same webhook-id and body), and the receiver, deduplicating on webhook-id as the
  docs tell partners to, processes it once;
- the broker will also hand out the killed task's unacked message again (acks_late, after the
  visibility timeout); that duplicate task finds the row recorded as sent and sends nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from standardwebhooks.webhooks import Webhook

from escrow_project.celery import app as celery_app
from notifications.models import Notification, NotificationStatus
from notifications.services import notification_enqueue, webhook_endpoint_register
from notifications.tasks import deliver_notification, sweep_outbox
from notifications.types import Recipient
from tests import redis_keys
from tests.conftest import requires_postgres
from tests.factories import OrganizationFactory

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 3


def _worker(log: Path) -> subprocess.Popen[bytes]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "escrow_project.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "NOTIFICATIONS_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
        # The receiver is on 127.0.0.1: development mode, the only one that may reach this machine.
        "NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE": "true",
        "LOG_FORMAT": "console",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "escrow_project", "worker", "-P", "solo", "--loglevel", "INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"crash-{uuid.uuid4().hex[:8]}@%h"],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def broker():
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (REDIS_URL): the worker and the test meet on the real broker")
    client = redis.Redis.from_url(settings.REDIS_URL)
    celery_app.control.purge()  # messages other tests queued for rows that no longer exist
    client.delete(redis_keys.key("unacked"), redis_keys.key("unacked_index"))
    yield client
    celery_app.control.purge()
    client.delete(redis_keys.key("unacked"), redis_keys.key("unacked_index"))


@requires_postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_delivery_leads_to_exactly_one_delivery(receiver, broker, tmp_path):
    release_first = threading.Event()

    def slow_first_answer(call_number: int) -> tuple[int, float]:
        if call_number == 1:
            release_first.wait(30)  # the worker is killed while it waits for this answer
        return 200, 0.0

    receiver.behaviour = slow_first_answer
    org = OrganizationFactory.create()
    _, secret = webhook_endpoint_register(organization_id=org.pk, url=receiver.url)
    log = tmp_path / "worker.log"
    workers: list[subprocess.Popen[bytes]] = []
    try:
        workers.append(_worker(log))
        (row,) = notification_enqueue(
            kind="payment_released",
            recipient=Recipient.organization(org.pk),
            context={"reference": "ESC-KILL", "amount": "100.00", "currency": "USD"},
            channels=["webhook"],
        )

        receiver.wait_for_calls(1, timeout=60)  # the worker is now blocked on the slow answer
        row.refresh_from_db()
        assert row.status == NotificationStatus.SENDING
        os.killpg(workers[0].pid, signal.SIGKILL)
        workers[0].wait(timeout=10)
        release_first.set()

        row.refresh_from_db()
        assert row.status == NotificationStatus.SENDING  # outcome unknown: nobody recorded it
        assert row.attempts == 1

        workers.append(_worker(log))
        assert row.claimed_until is not None
        _wait(lambda: time.time() > row.claimed_until.timestamp() + 0.5, 10, "the dead worker's lease to expire")
        sweep_outbox.delay()  # what beat does every 30 s

        _wait(
            lambda: Notification.objects.get(pk=row.pk).status == NotificationStatus.SENT,
            60,
            "the row to be delivered after recovery",
        )
        # The killed task's own message is still unacked in Redis; the broker hands it out again
        # (after its visibility timeout). Stand in for that now: the duplicate must send nothing.
        deliver_notification.delay(row.pk)
        _wait(lambda: log.read_text().count("already_sent") >= 1, 30, "the duplicate task to run")
    finally:
        release_first.set()
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(timeout=20)

    row.refresh_from_db()
    calls = list(receiver.calls)
    # The killed attempt reached the partner, the recovery resent it: at least once on the wire...
    assert len(calls) == 2, log.read_text()[-3000:]
    assert {c.headers["webhook-id"] for c in calls} == {f"msg_{row.public_id.hex}"}
    assert calls[0].body == calls[1].body
    for call in calls:
        Webhook(secret).verify(call.body, call.headers)
    # ...and exactly once for a receiver that deduplicates on webhook-id.
    assert receiver.delivered_ids() == [f"msg_{row.public_id.hex}"]
    assert row.attempts == 2
    assert [(a.number, a.outcome) for a in row.attempt_log.all()] == [(1, "lost"), (2, "sent")]
    # The duplicate task found the row sent and did nothing.
    assert "reason=already_sent" in log.read_text()
