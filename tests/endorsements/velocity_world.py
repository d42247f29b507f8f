"""Covered members and an intake history, written directly: the breaker and the forecast read them."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any, cast

from django.utils import timezone

from endorsements.models import Coverage, Direction, EndorsementKind, EndorsementRequest, Member
from endorsements.services.intake import new_tracking_id
from endorsements.states import RequestState
from endorsements.validation import member_index
from tests.endorsements.conftest import World


def covered_members(world: World, count: int, *, plan: str = "BASIC", prefix: str = "M") -> list[Member]:
    members = Member.objects.bulk_create(
        [
            Member(
                policy=world.policy,
                member_id=f"{prefix}-{i}",
                member_index=member_index(f"{prefix}-{i}"),
                person_name=f"Person {prefix}-{i}",
                date_of_birth=cast(Any, datetime.date(1985, 1, 1)),
                relationship="employee",
                plan=plan,
                status=Member.Status.COVERED,
            )
            for i in range(count)
        ]
    )
    Coverage.objects.bulk_create(
        [Coverage(member=m, policy=world.policy, plan=plan, start_date=world.policy.term_start) for m in members]
    )
    return members


def history(
    world: World,
    members: list[Member],
    *,
    kind: str,
    days_ago: float,
    amount: str = "10.00",
    state: str = RequestState.ACTIVE,
) -> list[EndorsementRequest]:
    """One request per member of `kind`, created `days_ago` (as a month's file would have been)."""
    debit = kind != EndorsementKind.DELETION
    requests = EndorsementRequest.objects.bulk_create(
        [
            EndorsementRequest(
                tracking_id=new_tracking_id(),
                policy=world.policy,
                employer=world.employer,
                insurer=world.insurer,
                member=m,
                kind=kind,
                plan=m.plan,
                effective_date=world.policy.term_start,
                direction=Direction.DEBIT if debit else Direction.CREDIT,
                amount=Decimal(amount),
                currency=world.policy.currency,
                content_hash=f"history-{kind}-{days_ago}-{m.pk}",
                state=state,
            )
            for m in members
        ]
    )
    at = timezone.now() - datetime.timedelta(days=days_ago)
    EndorsementRequest.objects.filter(pk__in=[r.pk for r in requests]).update(created_at=at)
    return requests
