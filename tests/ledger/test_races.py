"""Races found in review, on the real PostgreSQL with separate processes: each loser gets a clean DomainError."""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections, transaction

from escrow_project.common.errors import DomainError
from ledger import services
from ledger.models import JournalEntry
from ledger.selectors import account_balance, invariants_check
from tests.conftest import requires_postgres

pytestmark = [requires_postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CTX = multiprocessing.get_context("fork")


def _run(target: Any, args_list: list[tuple[Any, ...]]) -> list[Any]:
    """Run target(*args) in one forked process each; return what each returned or the error it raised."""
    connections.close_all()  # children must open their own connections
    queue = CTX.Queue()
    procs = [CTX.Process(target=_child, args=(target, queue, i, args)) for i, args in enumerate(args_list)]
    for proc in procs:
        proc.start()
    results: dict[int, Any] = {}
    for _ in procs:
        index, result = queue.get(timeout=60)
        results[index] = result
    for proc in procs:
        proc.join(timeout=30)
    return [results[i] for i in range(len(procs))]


def _child(target: Any, queue: Any, index: int, args: tuple[Any, ...]) -> None:
    try:
        result: Any = target(*args)
    except DomainError as exc:
        result = ("refused", exc.code, exc.status)
    except BaseException as exc:  # noqa: BLE001 -- anything else is the 500 the review found
        result = ("crash", type(exc).__name__, str(exc)[:200])
    finally:
        connections.close_all()
    queue.put((index, result))


def _reverse_and_linger(entry_id: int, key: str, start: Any, linger: Any) -> tuple[str, int]:
    start.wait(timeout=20)
    with transaction.atomic():
        entry = services.entry_reverse(entry_id=entry_id, idempotency_key=key, reason="race")
        # Keep the reversal uncommitted for a moment so the other process runs into it.
        with contextlib.suppress(threading.BrokenBarrierError):
            linger.wait(timeout=1.5)
    return ("ok", entry.pk)


def test_two_concurrent_reversals_of_one_entry_one_wins_the_other_gets_entry_already_reversed(open_wallet):
    wallet, other = open_wallet("50"), open_wallet()
    entry = services.transfer_create(
        idempotency_key="t",
        debit_account_id=wallet.pk,
        credit_account_id=other.pk,
        amount=Decimal("20"),
        currency="USD",
    )
    start, linger = CTX.Barrier(2), CTX.Barrier(2)

    results = _run(_reverse_and_linger, [(entry.pk, "rev-a", start, linger), (entry.pk, "rev-b", start, linger)])

    assert sorted(r[0] for r in results) == ["ok", "refused"], results
    assert [r for r in results if r[0] == "refused"] == [("refused", "entry_already_reversed", 409)]
    assert JournalEntry.objects.filter(reverses_id=entry.pk).count() == 1
    assert account_balance(account_id=wallet.pk).balance == Decimal("50")
    assert account_balance(account_id=other.pk).balance == 0
    assert invariants_check().ok


def _poster(writer: int, account_ids: list[int], n: int) -> int:
    """Transfers and holds round a ring of accounts; returns how many succeeded."""
    done = 0
    for i in range(n):
        a = account_ids[(writer + i) % len(account_ids)]
        b = account_ids[(writer + i + 1) % len(account_ids)]
        try:
            if i % 3 == 2:
                hold = services.hold_create(
                    idempotency_key=f"h{writer}-{i}",
                    debit_account_id=a,
                    credit_account_id=b,
                    amount=Decimal("0.10"),
                    currency="USD",
                )
                services.hold_void(hold_id=hold.pk, idempotency_key=f"v{writer}-{i}")
            else:
                services.transfer_create(
                    idempotency_key=f"t{writer}-{i}",
                    debit_account_id=a,
                    credit_account_id=b,
                    amount=Decimal("0.25"),
                    currency="USD",
                )
            done += 1
        except DomainError:
            pass
    return done


def test_invariant_check_sees_one_snapshot_while_postings_commit(open_wallet):
    accounts = [open_wallet("100").pk for _ in range(6)]
    connections.close_all()
    queue = CTX.Queue()
    procs = [CTX.Process(target=_child, args=(_poster, queue, w, (w, accounts, 250))) for w in range(3)]
    for proc in procs:
        proc.start()
    checks, false_alarms = 0, []
    while any(proc.is_alive() for proc in procs) or checks < 5:
        report = invariants_check()
        checks += 1
        if not report.ok:
            false_alarms.append(report.breaches[:3])
    results = [queue.get(timeout=60)[1] for _ in procs]
    for proc in procs:
        proc.join(timeout=30)

    assert all(isinstance(r, int) and r > 0 for r in results), results
    assert false_alarms == [], f"{len(false_alarms)} of {checks} checks saw a breach: {false_alarms[:3]}"
    assert invariants_check().ok
