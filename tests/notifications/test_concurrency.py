"""Concurrent enqueues with one dedupe_key write one set of rows (real PostgreSQL, real connections)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from identity.models import Role
from notifications.models import Notification
from notifications.services import notification_enqueue
from notifications.types import Recipient
from tests.conftest import requires_postgres
from tests.factories import member


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_enqueues_with_one_dedupe_key_write_one_set_of_rows():
    buyer = member(Role.BUYER)
    workers = 4
    barrier = threading.Barrier(workers)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def enqueue_in_a_caller_transaction() -> None:
        try:
            with transaction.atomic():
                barrier.wait(timeout=10)
                rows = notification_enqueue(
                    kind="settlement_completed",
                    recipient=Recipient.user(buyer.pk),
                    context={"reference": "ESC-RACE"},
                    dedupe_key="escrow:race:settled",
                )
                # The caller's transaction goes on after the duplicate was detected.
                Notification.objects.filter(pk=rows[0].pk).exists()
            results.append(sorted(r.pk for r in rows))
        except Exception as exc:  # noqa: BLE001 - reported to the main thread, which asserts none happened
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=enqueue_in_a_caller_transaction) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert Notification.objects.filter(dedupe_key="escrow:race:settled").count() == 2  # email and live
    assert len(results) == workers
    assert all(r == results[0] for r in results)
