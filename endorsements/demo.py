"""Demo data for endorsements and the sandbox insurer process for `make run`. Never for production."""

from __future__ import annotations

import datetime
import sys
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from endorsements.models import (
    EndorsementRequest,
    GroupPolicy,
    InsurerCallbackSecret,
    InsurerProfile,
    RateCard,
    Relationship,
)
from identity.models import Organization

DEMO_API_KEY = "northwind-sandbox-api-key"
DEMO_CALLBACK_SECRET = "northwind-sandbox-callback-secret"  # noqa: S105 - demo sandbox only
DEMO_POLICY = "NW-GRP-2026-0001"


def extra_processes(port: int) -> list[tuple[str, list[str]]]:
    """The sandbox insurer, calling back the platform on its web port."""
    return [
        (
            "sandbox-insurer",
            [
                sys.executable,
                "-m",
                "endorsements.sandbox",
                "--port",
                str(settings.ENDORSEMENTS_SANDBOX_PORT),
                "--api-key",
                DEMO_API_KEY,
                "--secret",
                DEMO_CALLBACK_SECRET,
                "--delay-ms",
                "1500",
                "--callback-base",
                f"http://127.0.0.1:{port}",
            ],
        )
    ]


@transaction.atomic
def seed() -> list[str]:
    """A group policy for Acme with Northwind, a funded EA, a few members and requests."""
    from endorsements.services.funding import ea_topup
    from endorsements.services.intake import endorsements_intake

    employer = Organization.objects.filter(slug="acme-manufacturing").first()
    insurer = Organization.objects.filter(slug="northwind-mutual").first()
    if employer is None or insurer is None:
        return []
    profile, _ = InsurerProfile.objects.get_or_create(
        insurer=insurer,
        defaults={
            "base_url": f"http://127.0.0.1:{settings.ENDORSEMENTS_SANDBOX_PORT}",
            "api_key": DEMO_API_KEY,
            "window_seconds": 15,
        },
    )
    InsurerCallbackSecret.objects.get_or_create(
        insurer=insurer, key_id="demo-1", defaults={"secret": DEMO_CALLBACK_SECRET}
    )
    today = timezone.localdate()
    policy, created = GroupPolicy.objects.get_or_create(
        insurer=insurer,
        policy_number=DEMO_POLICY,
        defaults={
            "employer": employer,
            "term_start": today.replace(month=1, day=1),
            "term_end": today.replace(month=12, day=31),
            "currency": "USD",
        },
    )
    if created:
        for plan, relationship, annual in [
            ("CORE", Relationship.EMPLOYEE, "2400.00"),
            ("PLUS", Relationship.EMPLOYEE, "3650.00"),
            ("CORE", Relationship.SPOUSE, "1800.00"),
            ("CORE", Relationship.CHILD, "900.00"),
        ]:
            RateCard.objects.create(policy=policy, plan=plan, relationship=relationship, annual_premium=Decimal(annual))
    if not EndorsementRequest.objects.filter(policy=policy).exists():
        ea_topup(employer=employer, amount="5000.00", currency="USD", idempotency_key="demo-seed-topup", actor="demo")
        effective = max(today, policy.term_start)
        effective = min(effective, policy.term_end)
        rows = [
            {
                "kind": "addition",
                "member_id": "ACME-0001",
                "name": "Grace Hopper",
                "date_of_birth": "1986-12-09",
                "relationship": "employee",
                "plan": "CORE",
            },
            {
                "kind": "addition",
                "member_id": "ACME-0002",
                "name": "Alan Turing",
                "date_of_birth": "1990-06-23",
                "relationship": "employee",
                "plan": "PLUS",
            },
            {
                "kind": "addition",
                "member_id": "ACME-0001-S",
                "name": "Vincent Hopper",
                "date_of_birth": "1985-03-01",
                "relationship": "spouse",
                "plan": "CORE",
                "employee_member_id": "ACME-0001",
            },
            {
                "kind": "addition",
                "member_id": "REJ-0003",
                "name": "Rejected Example",
                "date_of_birth": "1979-01-15",
                "relationship": "employee",
                "plan": "CORE",
            },
        ]
        numbered = [
            (
                i,
                {
                    **row,
                    "policy_number": DEMO_POLICY,
                    "effective_date": (effective + datetime.timedelta(days=0)).isoformat(),
                },
            )
            for i, row in enumerate(rows, start=1)
        ]
        endorsements_intake(employer=employer, rows=numbered, source="api")
        from endorsements.services.funding import ea_drain

        ea_drain(employer_id=employer.pk, currency="USD", actor="demo")
    return [
        f"Endorsements: policy {DEMO_POLICY} (Acme Manufacturing with Northwind Mutual), EA funded with 5,000.00 USD;"
        f" sandbox insurer on 127.0.0.1:{settings.ENDORSEMENTS_SANDBOX_PORT}"
        f" (window {profile.window_seconds}s)."
    ]
