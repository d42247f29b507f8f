from __future__ import annotations

import pytest

from identity import demo as identity_demo
from transactions import demo
from transactions.models import EscrowTransaction
from verifications import demo as verification_demo


@pytest.mark.django_db
def test_the_demo_seed_creates_transactions_in_several_states_and_is_idempotent():
    identity_demo.seed()
    verification_demo.seed()
    demo.seed()
    demo.seed()

    states = set(EscrowTransaction.objects.values_list("status", flat=True))
    assert EscrowTransaction.objects.count() == len(demo.DEMO_DEALS)
    assert states == {
        "draft",
        "awaiting_earnest_money",
        "verifying",
        "needs_decision",
        "clear_to_close",
        "settled",
        "disputed",
    }
