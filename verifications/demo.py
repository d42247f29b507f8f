"""Demo verification agents: the demo title company, inspectors, appraisers and lender as sandbox agents."""

from __future__ import annotations

from django.db import transaction

from identity.models import Organization
from verifications.models import AgentProfile, ProviderKind

DEMO_AGENTS = [
    ("clearview-title", "title", 3),
    ("sound-inspections", "inspection", 4),
    ("summit-appraisals", "appraisal", 3),
    ("lakeside-bank", "lending", 5),
]


@transaction.atomic
def seed() -> list[str]:
    lines = []
    for slug, kind, delay in DEMO_AGENTS:
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            continue
        AgentProfile.objects.get_or_create(
            organization=organization,
            verification_type=kind,
            defaults={
                "provider": ProviderKind.SANDBOX,
                "sandbox_delay_seconds": delay,
                "webhook_secret": f"whsec-demo-{slug}",
            },
        )
        lines.append(f"  sandbox {kind} agent: {organization.name} (answers after ~{delay}s)")
    return ["Verification agents:", *lines]
