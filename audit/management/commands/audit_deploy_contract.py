"""Deploy AuditAnchor to the chain at CHAIN_RPC_URL with AUDIT_CHAIN_PRIVATE_KEY; print its address."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        from eth_account import Account
        from web3 import HTTPProvider, Web3

        from audit import chain

        if not settings.CHAIN_RPC_URL:
            raise CommandError("Set CHAIN_RPC_URL: the in-process chain deploys its own contract on first use.")
        w3 = Web3(
            HTTPProvider(settings.CHAIN_RPC_URL, request_kwargs={"timeout": settings.AUDIT_CHAIN_TIMEOUT_SECONDS})
        )
        address = chain.deploy_contract(w3, Account.from_key(settings.AUDIT_CHAIN_PRIVATE_KEY))
        self.stdout.write(f"AUDIT_ANCHOR_CONTRACT_ADDRESS={address}")
