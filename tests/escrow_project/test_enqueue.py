"""Work handed to Celery after commit never fails the caller when the broker is down."""

from __future__ import annotations

from typing import Any

import pytest
from kombu.exceptions import OperationalError

from escrow_project.common.enqueue import ENQUEUE_FAILED, enqueue_on_commit


class _Broker:
    """A task whose broker is down on the first hand-over, then back (a unit test of our contract)."""

    name = "tests.unreachable_task"

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []
        self.down = True

    def apply_async(self, args: tuple[Any, ...], **options: Any) -> None:
        if self.down:
            raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        self.sent.append(args)


@pytest.mark.django_db
def test_a_broker_outage_after_commit_is_counted_not_raised(django_capture_on_commit_callbacks: Any) -> None:
    task = _Broker()
    before = ENQUEUE_FAILED.labels(task=task.name)._value.get()
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit(task, 7)
    assert task.sent == []
    assert ENQUEUE_FAILED.labels(task=task.name)._value.get() == before + 1

    task.down = False  # what the sweeper does next: hand it over again
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit(task, 7, countdown=5)
    assert task.sent == [(7,)]


@pytest.mark.django_db
def test_nothing_is_sent_when_the_transaction_rolls_back(django_capture_on_commit_callbacks: Any) -> None:
    task = _Broker()
    task.down = False
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        enqueue_on_commit(task, 1)
    assert len(callbacks) == 1  # registered for the commit, not sent before it
    assert task.sent == []
