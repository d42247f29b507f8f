from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from ledger import services
from ledger.models import Account


@pytest.fixture
def open_wallet() -> Callable[..., Account]:
    """A credit-normal wallet with no overdraft, optionally funded through the simulated rail."""
    counter = {"n": 0}

    def make(
        funded: str | Decimal = "0", *, currency: str = "USD", no_overdraft: bool = True, owner: str = ""
    ) -> Account:
        counter["n"] += 1
        account = services.account_open(
            owner_type="organization",
            owner_id=owner or f"w{counter['n']}",
            purpose="wallet",
            currency=currency,
            normal_side="credit",
            no_overdraft=no_overdraft,
        )
        if Decimal(funded) > 0:
            services.deposit_record(
                idempotency_key=f"fund-{account.pk}", account_id=account.pk, amount=Decimal(funded), currency=currency
            )
        return account

    return make


def counters(account: Account) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    account.refresh_from_db()
    return (account.posted_debits, account.posted_credits, account.pending_debits, account.pending_credits)


@pytest.fixture(autouse=True)
def _celery_eager():
    """Tasks enqueued on commit run in-process (the real-worker path is covered by its own test)."""
    from escrow_project.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
