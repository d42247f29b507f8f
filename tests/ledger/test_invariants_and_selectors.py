from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from prometheus_client import REGISTRY

from ledger import services, tasks
from ledger.models import Account, Hold, InvariantRun
from ledger.selectors import account_balance_as_of, account_history, invariants_check, line_balance_after
from ledger.states import HoldStatus

pytestmark = pytest.mark.django_db


def test_command_passes_on_healthy_books_and_sets_the_gauge(open_wallet):
    open_wallet("10")
    out = StringIO()
    call_command("ledger_check", stdout=out)
    assert "ledger invariants hold" in out.getvalue()
    assert REGISTRY.get_sample_value("ledger_invariants_ok") == 1.0


def test_command_fails_loudly_on_a_breach(open_wallet):
    wallet = open_wallet("10")
    # corrupt a stored counter behind the services' back
    Account.objects.filter(pk=wallet.pk).update(posted_credits=Decimal("11"))
    with pytest.raises(CommandError, match="breach"):
        call_command("ledger_check", stdout=StringIO(), stderr=StringIO())
    run = InvariantRun.objects.first()
    assert run is not None
    assert not run.ok
    assert any(f"account {wallet.pk}: stored posted" in b for b in run.breaches)
    assert REGISTRY.get_sample_value("ledger_invariants_ok") == 0.0


def test_pending_counter_drift_is_a_breach(open_wallet):
    payer, payee = open_wallet("10"), open_wallet()
    hold = services.hold_create(
        idempotency_key="h", debit_account_id=payer.pk, credit_account_id=payee.pk, amount=Decimal("4"), currency="USD"
    )
    Hold.objects.filter(pk=hold.pk).update(status=HoldStatus.VOIDED)  # status changed without releasing
    report = invariants_check()
    assert not report.ok
    assert len(report.breaches) == 2


def test_periodic_tasks_run_their_services(open_wallet):
    payer, payee = open_wallet("10"), open_wallet()
    services.hold_create(
        idempotency_key="soon",
        debit_account_id=payer.pk,
        credit_account_id=payee.pk,
        amount=Decimal("4"),
        currency="USD",
        expires_at=timezone.now() + timedelta(seconds=1),
    )
    Hold.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tasks.holds_expire_task() == 1
    assert tasks.invariants_check_task() is True


def test_history_and_balance_as_of(open_wallet):
    wallet, other = open_wallet("100"), open_wallet()
    services.transfer_create(
        idempotency_key="a",
        debit_account_id=wallet.pk,
        credit_account_id=other.pk,
        amount=Decimal("30"),
        currency="USD",
    )
    middle = timezone.now()
    services.transfer_create(
        idempotency_key="b",
        debit_account_id=wallet.pk,
        credit_account_id=other.pk,
        amount=Decimal("20"),
        currency="USD",
    )

    lines = list(account_history(account_id=wallet.pk))
    assert [line_balance_after(line, "credit") for line in lines] == [Decimal("50"), Decimal("70"), Decimal("100")]
    assert account_balance_as_of(account_id=wallet.pk, at=middle).balance == Decimal("70")
    assert account_balance_as_of(account_id=wallet.pk, at=middle - timedelta(days=1)).balance == 0


def test_postings_are_counted_once_per_effect(open_wallet):
    payer, payee = open_wallet("10"), open_wallet()
    before = REGISTRY.get_sample_value("ledger_postings_total", {"kind": "transfer"}) or 0
    for _ in range(2):  # the replay is not a second posting
        services.transfer_create(
            idempotency_key="m",
            debit_account_id=payer.pk,
            credit_account_id=payee.pk,
            amount=Decimal("1"),
            currency="USD",
        )
    assert REGISTRY.get_sample_value("ledger_postings_total", {"kind": "transfer"}) == before + 1
