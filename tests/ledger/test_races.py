"""Races found in review, on the real PostgreSQL with separate processes: each loser gets a clean DomainError."""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections, transaction

from escrow_project.common.errors import DomainError
from ledger import services
from ledger.models import JournalEntry
from ledger.selectors import account_balance, invariants_check
from ledger.types import TransferOp
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


def _claim_and_wait(key: str, debit: int, credit: int, claimed: Any, release: Any) -> str:
    with transaction.atomic():
        services.transfer_create(
            idempotency_key=key, debit_account_id=debit, credit_account_id=credit, amount=Decimal("1"), currency="USD"
        )
        claimed.set()
        release.wait(timeout=30)
    return "ok"


def _batch(key: str, ops: list[tuple[int, int, str, str]]) -> str:
    services.batch_execute(
        idempotency_key=key,
        operations=[TransferOp(a, b, Decimal(amount), "USD", idempotency_key=k) for a, b, amount, k in ops],
    )
    return "ok"


def _single(key: str, debit: int, credit: int) -> str:
    services.transfer_create(
        idempotency_key=key, debit_account_id=debit, credit_account_id=credit, amount=Decimal("2"), currency="USD"
    )
    return "ok"


def _lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def _until(condition: Any, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_batch_and_a_single_posting_sharing_an_operation_key_do_not_deadlock(open_wallet):
    """The batch waits on its first key while a single call claims the second key and needs the same account.

    Locking the batch's accounts before claiming its keys (the old order) deadlocks here: the single call
    holds key K and waits for account A, the batch holds A and waits for K.
    """
    # a and c get the lower ids, so the old batch locked them before it queued behind the blocker on p.
    a, c, p, q = (open_wallet("50").pk for _ in range(4))
    connections.close_all()
    queue = CTX.Queue()
    claimed, release = CTX.Event(), CTX.Event()
    blocker = CTX.Process(target=_child, args=(_claim_and_wait, queue, 0, ("k0", p, q, claimed, release)))
    batch = CTX.Process(target=_child, args=(_batch, queue, 1, ("batch-1", [(p, q, "1", "k0"), (a, c, "2", "k1")])))
    single = CTX.Process(target=_child, args=(_single, queue, 2, ("k1", a, c)))
    blocker.start()
    assert claimed.wait(timeout=30)
    batch.start()
    assert _until(lambda: _lock_waiters() >= 1)  # the batch waits (for key k0, or for account p)
    connections.close_all()  # a forked child must not inherit (and later close) the parent's connection
    single.start()
    # The single call either finishes (keys first) or waits for account a, held by the batch (accounts first).
    _until(lambda: not single.is_alive() or _lock_waiters() >= 2)
    release.set()
    results = dict(queue.get(timeout=60) for _ in range(3))
    for proc in (blocker, batch, single):
        proc.join(timeout=30)
    connection.close()

    assert results == {0: "ok", 1: "ok", 2: "ok"}, results
    assert JournalEntry.objects.filter(idempotency_key__in=["k0", "k1"]).count() == 2
    assert account_balance(account_id=a).balance == Decimal("48")
    assert account_balance(account_id=c).balance == Decimal("52")
    assert invariants_check().ok
