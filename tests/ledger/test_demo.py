from __future__ import annotations

from decimal import Decimal

import pytest

from identity import demo as identity_demo
from ledger import demo
from ledger.models import Account
from ledger.selectors import account_balance

pytestmark = pytest.mark.django_db


def test_seed_is_idempotent():
    identity_demo.seed()
    first = demo.seed()
    second = demo.seed()
    assert first == second
    assert len(first) == 2
    wallets = Account.objects.filter(owner_type="organization", purpose="wallet")
    assert sorted(account_balance(account_id=w.pk).available for w in wallets) == [Decimal("15000"), Decimal("25000")]
