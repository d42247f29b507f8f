"""Demo ledger data for the embedded default: funded organization wallets. Idempotent; never for production."""

from __future__ import annotations

from decimal import Decimal

from identity.models import Organization
from ledger import services

DEMO_WALLETS: list[tuple[str, str]] = [
    ("acme-manufacturing", "25000.00"),  # an employer's pre-funded endorsement wallet
    ("garcia-household", "15000.00"),  # a buyer's wallet, for earnest money
]


def seed() -> list[str]:
    lines = []
    for slug, amount in DEMO_WALLETS:
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            continue
        wallet = services.account_open(
            owner_type="organization",
            owner_id=str(organization.pk),
            purpose="wallet",
            currency="USD",
            normal_side="credit",
            no_overdraft=True,
            name=f"{organization.name} wallet",
        )
        services.deposit_record(
            idempotency_key=f"demo-funding-{slug}",
            account_id=wallet.pk,
            amount=Decimal(amount),
            currency="USD",
            provider_reference=f"demo-{slug}",
        )
        lines.append(f"ledger: {organization.name} wallet holds {amount} USD (GET /api/v1/ledger/accounts/)")
    return lines
