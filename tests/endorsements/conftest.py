from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

import pytest

from endorsements.models import GroupPolicy, InsurerCallbackSecret, InsurerProfile, RateCard, Relationship
from identity.models import Organization, OrganizationKind, Role, User
from tests.factories import OrganizationFactory, member

TODAY = datetime.date(2026, 3, 1)
TERM = (datetime.date(2026, 1, 1), datetime.date(2026, 12, 31))  # T = 365
# For flows that use the real clock: a 365-day term around today, priced 1.00 per day ("DAY").
REAL_TODAY = datetime.date.today()
LIVE_TERM = (REAL_TODAY - datetime.timedelta(days=200), REAL_TODAY + datetime.timedelta(days=164))


def day(offset: int) -> str:
    return (REAL_TODAY + datetime.timedelta(days=offset)).isoformat()


SECRET = "whsec-test-0123456789abcdef"


@dataclass
class World:
    employer: Organization
    insurer: Organization
    policy: GroupPolicy
    hr: User
    profile: InsurerProfile


def make_world(
    *,
    currency: str = "USD",
    policy_number: str = "GP-1001",
    base_url: str = "",
    term: tuple[datetime.date, datetime.date] = TERM,
) -> World:
    employer = OrganizationFactory.create(kind=OrganizationKind.EMPLOYER)
    insurer = OrganizationFactory.create(kind=OrganizationKind.INSURER)
    profile = InsurerProfile.objects.create(
        insurer=insurer, base_url=base_url or "http://127.0.0.1:9/", api_key="sandbox-key", window_seconds=0
    )
    InsurerCallbackSecret.objects.create(insurer=insurer, key_id="k1", secret=SECRET)
    policy = GroupPolicy.objects.create(
        employer=employer,
        insurer=insurer,
        policy_number=policy_number,
        term_start=term[0],
        term_end=term[1],
        currency=currency,
    )
    for plan, rel, annual in [
        ("BASIC", Relationship.EMPLOYEE, "1200.00"),
        ("PLUS", Relationship.EMPLOYEE, "1825.00"),
        ("BASIC", Relationship.SPOUSE, "730.00"),
        ("BASIC", Relationship.CHILD, "365.00"),
        ("DAY", Relationship.EMPLOYEE, "365.00"),
    ]:
        RateCard.objects.create(policy=policy, plan=plan, relationship=rel, annual_premium=Decimal(annual))
    hr = member(Role.EMPLOYER_HR, employer)
    return World(employer=employer, insurer=insurer, policy=policy, hr=hr, profile=profile)


def addition(member_id: str, effective: str = "2026-03-01", **extra: str) -> dict[str, str]:
    row = {
        "policy_number": "GP-1001",
        "kind": "addition",
        "member_id": member_id,
        "name": f"Person {member_id}",
        "date_of_birth": "1990-05-17",
        "relationship": "employee",
        "plan": "BASIC",
        "effective_date": effective,
    }
    row.update(extra)
    return row


@pytest.fixture
def world(db) -> World:
    return make_world()


@pytest.fixture
def live_world(db) -> World:
    return make_world(term=LIVE_TERM)
