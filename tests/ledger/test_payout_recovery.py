"""Payouts never get stuck: a dead worker, a crashing rail, a `pending` answer or a broker outage at enqueue.

The sweeper (payouts_sweep_task) re-sends with the payout's own rail idempotency key, so the rail
answers the first attempt's outcome instead of paying twice.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone
from kombu.exceptions import OperationalError

from ledger import services
from ledger.models import PayoutIntent
from ledger.rails import RailResult, rail_register
from ledger.rails.base import _RAILS, PaymentStart, PaymentState
from ledger.selectors import account_balance, invariants_check
from ledger.services import payouts_in_flight_account
from ledger.states import PayoutStatus
from ledger.tasks import payout_dispatch_task, payouts_sweep_task
from tests.conftest import requires_postgres

CTX = multiprocessing.get_context("fork")


@dataclass
class ScriptedRail:
    """A rail that answers (or misbehaves) from a script, one step per call, recording the keys it got."""

    script: list[str]
    name: str = "scripted"
    keys: list[str] = field(default_factory=list)
    parent_pid: int = field(default_factory=os.getpid)

    def payout_send(self, *, idempotency_key: str, **_: Any) -> RailResult:
        step = self.script.pop(0) if self.script else "succeeded"
        if step == "die":
            assert os.getpid() != self.parent_pid, "only a forked worker may die"
            os._exit(1)  # the worker process dies mid-call: no exception handler, no outcome recorded
        self.keys.append(idempotency_key)
        if step == "keyerror":
            raise KeyError("amount")  # a bug or an SDK surprise, not a RailError
        return RailResult(step, provider_reference=f"scripted:{idempotency_key}")  # type: ignore[arg-type]

    def deposit_capture(self, **_: Any) -> RailResult:  # pragma: no cover - not used
        raise NotImplementedError

    def payment_start(self, **_: Any) -> PaymentStart:  # pragma: no cover - not used
        raise NotImplementedError

    def payment_state(self, **_: Any) -> PaymentState:  # pragma: no cover - not used
        raise NotImplementedError

    def refund(self, **_: Any) -> RailResult:  # pragma: no cover - not used
        raise NotImplementedError


@pytest.fixture
def scripted():
    def install(*script: str) -> ScriptedRail:
        rail = ScriptedRail(list(script))
        rail_register(rail)
        return rail

    yield install
    _RAILS.pop("scripted", None)


@pytest.fixture
def open_wallet(open_wallet):
    """Wallets funded through the scripted rail, so the cash that leaves through it also came in there."""

    def make(funded: str) -> Any:
        wallet = open_wallet()
        services.deposit_record(
            idempotency_key=f"fund-{wallet.pk}",
            account_id=wallet.pk,
            amount=Decimal(funded),
            currency="USD",
            rail="scripted",
        )
        return wallet

    return make


def _request(wallet, key="rec-1") -> PayoutIntent:
    return services.payout_request(
        idempotency_key=key,
        account_id=wallet.pk,
        amount=Decimal("25"),
        currency="USD",
        beneficiary={"iban": "DE89370400440532013000"},
        rail="scripted",
    )


def _age(payout: PayoutIntent, minutes: int = 6) -> None:
    """As if the sweep delay had passed (queryset.update leaves auto_now alone)."""
    PayoutIntent.objects.filter(pk=payout.pk).update(updated_at=timezone.now() - timedelta(minutes=minutes))


def _settled(wallet, payout: PayoutIntent) -> None:
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.SUCCEEDED
    assert payout.provider_reference == f"scripted:{payout.rail_idempotency_key}"
    assert account_balance(account_id=wallet.pk).balance == Decimal("75")
    assert account_balance(account_id=payouts_in_flight_account(currency="USD").pk).balance == 0
    assert invariants_check().ok


def _dispatch_in_child(payout_id: int) -> None:
    connections.close_all()
    payout_dispatch_task(payout_id)  # the task body, in a process that the rail kills


@requires_postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_killed_during_the_rail_call_is_re_sent_by_the_sweeper_with_the_same_key(
    open_wallet, scripted, monkeypatch
):
    rail = scripted("die")
    wallet = open_wallet("100")
    queued: list[int] = []
    monkeypatch.setattr(payout_dispatch_task, "delay", queued.append)  # the broker holds the task...
    payout = _request(wallet)
    monkeypatch.undo()
    assert queued == [payout.pk]
    connections.close_all()  # ...and a forked worker process picks it up
    child = CTX.Process(target=_dispatch_in_child, args=(payout.pk,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 1  # it really died inside payout_send
    rail.script[:] = ["succeeded"]  # the child consumed "die" in its own memory; the rail is healthy now

    payout.refresh_from_db()
    assert payout.status == PayoutStatus.SENT  # what the dead worker left behind
    assert payouts_sweep_task() == 0  # a fresh `sent` may be a send in progress: left alone
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.SENT

    _age(payout)
    assert payouts_sweep_task() == 1

    _settled(wallet, payout)
    assert rail.keys[-1] == payout.rail_idempotency_key
    assert payout.dispatch_count == 2  # the dead worker, then the sweeper


@pytest.mark.django_db
def test_a_rail_that_raises_something_unexpected_leaves_the_payout_unknown_then_the_sweeper_resends(
    open_wallet, scripted, django_capture_on_commit_callbacks
):
    rail = scripted("keyerror", "succeeded")
    wallet = open_wallet("100")
    with django_capture_on_commit_callbacks(execute=True):
        payout = _request(wallet)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.UNKNOWN
    assert payout.failure_reason.startswith("KeyError")
    assert account_balance(account_id=wallet.pk).balance == Decimal("75")  # still in flight, not lost

    _age(payout)
    assert payouts_sweep_task() == 1
    _settled(wallet, payout)
    assert rail.keys == [payout.rail_idempotency_key, payout.rail_idempotency_key]


@pytest.mark.django_db
def test_a_pending_answer_is_re_checked_by_the_sweeper_with_the_same_key(
    open_wallet, scripted, django_capture_on_commit_callbacks
):
    rail = scripted("pending", "succeeded")
    wallet = open_wallet("100")
    with django_capture_on_commit_callbacks(execute=True):
        payout = _request(wallet)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.SENT
    payout_dispatch_task(payout.pk)  # a duplicate delivery of the task while the rail works on it
    assert rail.keys == [payout.rail_idempotency_key]

    _age(payout)
    assert payouts_sweep_task() == 1
    _settled(wallet, payout)
    assert rail.keys == [payout.rail_idempotency_key, payout.rail_idempotency_key]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_broker_down_at_enqueue_does_not_fail_the_caller_and_the_sweeper_dispatches_later(
    open_wallet, scripted, monkeypatch
):
    rail = scripted("succeeded")
    wallet = open_wallet("100")

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(payout_dispatch_task, "delay", broker_down)
    payout = _request(wallet)  # commits for real (transactional test): the enqueue fails after COMMIT

    payout.refresh_from_db()
    assert payout.status == PayoutStatus.REQUESTED
    assert account_balance(account_id=wallet.pk).balance == Decimal("75")
    assert rail.keys == []

    monkeypatch.undo()  # the broker is back
    _age(payout)
    assert payouts_sweep_task() == 1
    _settled(wallet, payout)
