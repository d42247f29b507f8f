"""Escrow's three-way reconciliation: the books against the sum of open escrow wallets, per day."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from audit.models import AuditEvent
from ledger import services as ledger
from ledger.models import ReconciliationRun
from notifications.models import Notification
from tests.factories import operator
from tests.transactions.factories import World, fund, make_escrow
from transactions.models import EscrowTransaction
from transactions.services import escrow_three_way
from transactions.states import EscrowStatus

pytestmark = pytest.mark.django_db


def _today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


def _trial_line(run: ReconciliationRun):
    return run.lines.get(key__startswith="books vs trial balance")


def test_books_and_open_wallets_agree_after_earnest_money(world: World) -> None:
    fund(world, make_escrow(world))
    fund(world, make_escrow(world, earnest_money="5000.00"))

    run = escrow_three_way(day=_today())

    line = _trial_line(run)
    assert (line.outcome, line.our_amount, line.their_amount) == (
        "matched",
        Decimal("25000.0000"),
        Decimal("25000.0000"),
    )
    assert "open escrow wallets 25000" in line.our_source
    assert run.break_count == 0
    assert escrow_three_way(day=_today()).pk == run.pk  # the same figures: the same run


def test_money_left_in_a_closed_escrow_is_a_break_operators_hear_of_and_work(world: World) -> None:
    operator()
    kept = fund(world, make_escrow(world))
    fund(world, make_escrow(world, earnest_money="5000.00"))
    # A settlement that left money behind (what the check exists to catch).
    EscrowTransaction.objects.filter(pk=kept.pk).update(status=EscrowStatus.SETTLED)

    run = escrow_three_way(day=_today())

    line = _trial_line(run)
    assert (line.outcome, line.our_amount, line.their_amount, line.difference) == (
        "amount_delta", Decimal("5000.0000"), Decimal("25000.0000"), Decimal("20000.0000"),
    )  # fmt: skip
    assert Notification.objects.filter(kind="reconciliation_breaks_found", subject_id=str(run.public_id)).exists()
    [brk] = run.breaks.all()
    ledger.break_resolve(break_id=brk.pk, actor="user:ops", reason_code="raised_with_counterparty",
                         note="settlement left the earnest money in the wallet; payout re-run")  # fmt: skip
    assert AuditEvent.objects.filter(subject_id=str(run.public_id), kind="reconciliation.resolved").count() == 1


def test_a_correction_that_moved_books_but_no_money_shows_on_the_next_run(world: World) -> None:
    txn = fund(world, make_escrow(world))
    first = escrow_three_way(day=_today())
    ledger.adjustment_record(
        idempotency_key="fix-1",
        account_id=txn.wallet_account_id or 0,
        amount=Decimal("0.02"),
        currency="USD",
        direction="credit",
        reason="a correction with no money behind it",
    )

    second = escrow_three_way(day=_today())

    assert second.pk != first.pk
    assert (_trial_line(first).outcome, _trial_line(second).outcome) == ("matched", "amount_delta")
    assert _trial_line(second).difference == Decimal("-0.0200")


def test_the_command_prints_the_legs_and_fails_on_a_break(world: World) -> None:
    import io

    from django.core.management import CommandError, call_command

    kept = fund(world, make_escrow(world))
    out = io.StringIO()
    call_command("escrow_three_way", "--date", _today().isoformat(), stdout=out)
    assert "matched" in out.getvalue()
    assert "agree" in out.getvalue()
    EscrowTransaction.objects.filter(pk=kept.pk).update(status=EscrowStatus.CANCELLED)
    with pytest.raises(CommandError, match="1 break"):
        call_command("escrow_three_way", "--date", _today().isoformat(), stdout=io.StringIO())
