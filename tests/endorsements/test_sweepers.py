"""Deliveries whose task was lost are handed to a worker again; fresh or answered ones are left alone."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from endorsements.models import Dispatch
from endorsements.services.dispatch import dispatches_sweep

pytestmark = pytest.mark.django_db


def test_only_overdue_pending_deliveries_are_handed_over_again(
    world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    now = timezone.now()
    old = now - datetime.timedelta(minutes=10)

    def dispatch(key: str, **fields: Any) -> Dispatch:
        row = Dispatch.objects.create(insurer=world.insurer, idempotency_key=key, **fields)
        Dispatch.objects.filter(pk=row.pk).update(created_at=fields.pop("created_at", old))
        return row

    lost_first_attempt = dispatch("lost-1")
    lost_retry = dispatch("lost-2", attempts=2, next_attempt_at=old)
    dispatch("fresh", created_at=now)
    dispatch("retry-soon", attempts=1, next_attempt_at=now + datetime.timedelta(minutes=1))
    dispatch("answered", status=Dispatch.Status.ACKNOWLEDGED)
    dispatch("given-up", status=Dispatch.Status.DEAD_LETTER)

    with django_capture_on_commit_callbacks(execute=False) as handed_over:
        swept = dispatches_sweep(now=now)

    assert swept == [lost_first_attempt.pk, lost_retry.pk]
    assert len(handed_over) == 2  # one hand-over each, after commit
