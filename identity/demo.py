"""Demo organizations and people for the embedded default. Idempotent; never for production."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from identity.models import Organization, OrganizationKind, Role, User
from identity.services import membership_grant

DEMO_PASSWORD_SUFFIX = "-demo-2026"  # noqa: S105 - demo accounts, refused in production


@dataclass(frozen=True)
class DemoPerson:
    username: str
    first_name: str
    last_name: str
    organization_slug: str
    role: str
    is_staff: bool = False
    is_superuser: bool = False

    @property
    def password(self) -> str:
        return f"{self.username}{DEMO_PASSWORD_SUFFIX}"


DEMO_ORGANIZATIONS: list[tuple[str, str, str]] = [
    ("platform-ops", "Keystone Escrow Platform", OrganizationKind.PLATFORM_OPERATOR),
    ("harbor-realty", "Harbor Realty Brokerage", OrganizationKind.BROKERAGE),
    ("bayside-homes", "Bayside Homes Brokerage", OrganizationKind.BROKERAGE),
    ("clearview-title", "Clearview Title & Escrow", OrganizationKind.TITLE_COMPANY),
    ("sound-inspections", "Sound Structure Inspections", OrganizationKind.INSPECTION_FIRM),
    ("summit-appraisals", "Summit Appraisal Group", OrganizationKind.APPRAISER),
    ("lakeside-bank", "Lakeside Community Bank", OrganizationKind.LENDER),
    ("acme-manufacturing", "Acme Manufacturing Ltd", OrganizationKind.EMPLOYER),
    ("northwind-mutual", "Northwind Mutual Insurance", OrganizationKind.INSURER),
    ("garcia-household", "Maria & Luis Garcia", OrganizationKind.INDIVIDUAL),
    ("chen-household", "David Chen", OrganizationKind.INDIVIDUAL),
]

DEMO_PEOPLE: list[DemoPerson] = [
    DemoPerson("operator", "Olivia", "Park", "platform-ops", Role.OPERATOR, is_staff=True, is_superuser=True),
    DemoPerson("operator2", "Noah", "Fischer", "platform-ops", Role.OPERATOR, is_staff=True, is_superuser=True),
    DemoPerson("officer", "Emma", "Walsh", "clearview-title", Role.ESCROW_OFFICER),
    DemoPerson("buyer", "Maria", "Garcia", "garcia-household", Role.BUYER),
    DemoPerson("seller", "David", "Chen", "chen-household", Role.SELLER),
    DemoPerson("buyer_agent", "Sam", "Okafor", "harbor-realty", Role.AGENT),
    DemoPerson("seller_agent", "Priya", "Nair", "bayside-homes", Role.AGENT),
    DemoPerson("title_agent", "Tom", "Reyes", "clearview-title", Role.VERIFIER),
    DemoPerson("inspector", "Ivy", "Lund", "sound-inspections", Role.VERIFIER),
    DemoPerson("appraiser", "Alan", "Moss", "summit-appraisals", Role.VERIFIER),
    DemoPerson("lender", "Lena", "Brooks", "lakeside-bank", Role.VERIFIER),
    DemoPerson("hr", "Hannah", "Kim", "acme-manufacturing", Role.EMPLOYER_HR),
    # Administers Acme's integration: issues its API keys (docs/integration/authentication.md).
    DemoPerson("acme_admin", "Omar", "Haddad", "acme-manufacturing", Role.ORG_ADMIN),
    DemoPerson("insurer", "Isaac", "Stone", "northwind-mutual", Role.INSURER),
    DemoPerson("auditor", "Ada", "Quinn", "platform-ops", Role.AUDITOR),
]


@transaction.atomic
def seed() -> list[str]:
    """Create the demo organizations and people; returns lines to print (logins)."""
    organizations = {}
    for slug, name, kind in DEMO_ORGANIZATIONS:
        organizations[slug], _ = Organization.objects.get_or_create(slug=slug, defaults={"name": name, "kind": kind})
    lines = []
    for person in DEMO_PEOPLE:
        user, created = User.objects.get_or_create(
            username=person.username,
            defaults={
                "first_name": person.first_name,
                "last_name": person.last_name,
                "email": f"{person.username}@demo.example",
                "is_staff": person.is_staff,
                "is_superuser": person.is_superuser,
            },
        )
        if created:
            user.set_password(person.password)
            user.save(update_fields=["password"])
        membership_grant(user=user, organization=organizations[person.organization_slug], role=person.role)
        lines.append(
            f"  {person.username:<13} {person.password:<26} {person.role} at {organizations[person.organization_slug]}"
        )
    return ["Demo logins (username, password, role):", *lines]


def console_logins() -> list[str]:
    """The logins `run_platform` shows on its console (the rest are printed by seed_demo)."""
    shown = {"operator": "operator console", "officer": "escrow officer", "buyer": "party pages"}
    return [f"{p.username} / {p.password}  ({shown[p.username]})" for p in DEMO_PEOPLE if p.username in shown]
