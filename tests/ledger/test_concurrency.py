"""Concurrency on the real PostgreSQL with separate processes (Jepsen-style bank, double spend, hold races)."""

from __future__ import annotations

import multiprocessing
import random
import time
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections, transaction

from escrow_project.common.errors import DomainError
from ledger import services
from ledger.models import Account, Hold, JournalEntry
from ledger.selectors import account_balance, invariants_check
from ledger.states import HoldStatus
from tests.conftest import requires_postgres

pytestmark = [requires_postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CTX = multiprocessing.get_context("fork")
WRITERS = 4
ACCOUNTS = 50
OPS_PER_WRITER = 150
START = Decimal("100.00")


class _Abort(Exception):
    """Raised after a service returned, inside the caller's transaction: the effect must vanish."""


def _fork(target: Any, args_list: list[tuple[Any, ...]]) -> list[Any]:
    connections.close_all()  # children must open their own connections, not share the parent's socket
    queue = CTX.Queue()
    procs = [CTX.Process(target=_child, args=(target, queue, i, args)) for i, args in enumerate(args_list)]
    for proc in procs:
        proc.start()
    results: dict[int, Any] = {}
    for _ in procs:
        index, result = queue.get(timeout=120)
        results[index] = result
    for proc in procs:
        proc.join(timeout=30)
    errors = [r for r in results.values() if isinstance(r, str) and r.startswith("CRASH")]
    assert not errors, errors
    return [results[i] for i in range(len(procs))]


def _child(target: Any, queue: Any, index: int, args: tuple[Any, ...]) -> None:
    try:
        result = target(*args)
    except BaseException as exc:  # noqa: BLE001 -- report any crash to the parent instead of hanging it
        result = f"CRASH {type(exc).__name__}: {exc}"
    finally:
        connections.close_all()
    queue.put((index, result))


def _bank_writer(writer: int, account_ids: list[int], seed: int) -> list[tuple[str, str, str, Any]]:
    """Random transfers and holds; returns (kind, key, outcome, detail) for every operation tried."""
    rng = random.Random(seed)
    log: list[tuple[str, str, str, Any]] = []
    my_holds: list[tuple[int, str]] = []
    for n in range(OPS_PER_WRITER):
        a, b = rng.sample(account_ids, 2)
        amount = Decimal(rng.randint(1, 3000)) / 100
        key = f"w{writer}-op{n}"
        roll = rng.random()
        abort = rng.random() < 0.1
        try:
            with transaction.atomic():
                if roll < 0.5 or (roll < 0.8 and not my_holds) or (roll >= 0.8 and not my_holds):
                    kind = "transfer"
                    services.transfer_create(
                        idempotency_key=key, debit_account_id=a, credit_account_id=b, amount=amount, currency="USD"
                    )
                    detail: Any = (a, b, str(amount))
                elif roll < 0.8:
                    kind = "hold"
                    hold = services.hold_create(
                        idempotency_key=key, debit_account_id=a, credit_account_id=b, amount=amount, currency="USD"
                    )
                    detail = hold.pk
                else:
                    hold_id, _hold_key = my_holds[rng.randrange(len(my_holds))]
                    if rng.random() < 0.5:
                        kind = "post"
                        services.hold_post(hold_id=hold_id, idempotency_key=key)
                    else:
                        kind = "void"
                        services.hold_void(hold_id=hold_id, idempotency_key=key)
                    detail = hold_id
                if abort:
                    raise _Abort
        except _Abort:
            log.append((kind, key, "aborted", None))
            continue
        except DomainError as exc:
            log.append((kind, key, exc.code, None))
            continue
        log.append((kind, key, "ok", detail))
        if kind == "hold":
            my_holds.append((detail, key))
        elif kind in ("post", "void"):
            my_holds = [h for h in my_holds if h[0] != detail]
    return log


def _bank_reader(account_ids: list[int], seconds: float) -> list[str]:
    """Reads the total of the wallets while writers run; it must never change, nor any available go negative."""
    totals: set[str] = set()
    lowest = Decimal(0)
    reads = 0
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT SUM(posted_credits - posted_debits), MIN(posted_credits - posted_debits - pending_debits) "
                "FROM ledger_account WHERE id = ANY(%s)",
                [account_ids],
            )
            total, least = cursor.fetchone()
            totals.add(str(total))
            lowest = min(lowest, least)
            reads += 1
    return [*sorted(totals), f"lowest={lowest}", f"reads={reads}"]


def _fund(n: int, amount: Decimal, tag: str) -> list[int]:
    ids = []
    for i in range(n):
        account = services.account_open(
            owner_type="bank",
            owner_id=f"{tag}{i}",
            purpose="wallet",
            currency="USD",
            normal_side="credit",
            no_overdraft=True,
        )
        if amount > 0:
            services.deposit_record(
                idempotency_key=f"fund-{tag}{i}", account_id=account.pk, amount=amount, currency="USD"
            )
        ids.append(account.pk)
    return ids


def _wallet_total(ids: list[int]) -> Decimal:
    return sum((account_balance(account_id=i).balance for i in ids), Decimal(0))


def test_jepsen_style_bank(transactional_db):
    ids = _fund(ACCOUNTS, START, "bank")
    expected_total = START * ACCOUNTS

    results = _fork(
        lambda kind, *args: _bank_writer(*args) if kind == "w" else _bank_reader(*args),
        [("w", w, ids, 1000 + w) for w in range(WRITERS)] + [("r", ids, 6.0)],
    )
    logs: list[tuple[str, str, str, Any]] = [entry for result in results[:WRITERS] for entry in result]
    reader = results[WRITERS]

    # Readers never saw money appear or vanish.
    assert [Decimal(total) for total in reader[:-2]] == [expected_total], reader
    assert reader[-2] == "lowest=0", reader
    assert _wallet_total(ids) == expected_total
    ok = [op for op in logs if op[2] == "ok"]
    assert len(ok) > WRITERS * OPS_PER_WRITER // 2, "too few operations succeeded to mean anything"

    # Every acknowledged operation is in the ledger exactly once; no unacknowledged one is.
    entry_keys = set(
        JournalEntry.objects.filter(idempotency_key__startswith="w").values_list("idempotency_key", flat=True)
    )
    hold_keys = set(Hold.objects.values_list("idempotency_key", flat=True))
    void_keys = set(Hold.objects.filter(status=HoldStatus.VOIDED).values_list("resolution_key", flat=True))
    acked_entries = {key for kind, key, outcome, _ in logs if outcome == "ok" and kind in ("transfer", "post")}
    acked_holds = {key for kind, key, outcome, _ in logs if outcome == "ok" and kind == "hold"}
    acked_voids = {key for kind, key, outcome, _ in logs if outcome == "ok" and kind == "void"}
    assert entry_keys == acked_entries
    assert hold_keys == acked_holds
    assert void_keys == acked_voids
    for kind, key, _outcome, detail in ok:
        if kind == "transfer":
            entry = JournalEntry.objects.get(idempotency_key=key)
            lines = sorted((line.side, line.account_id, line.amount) for line in entry.lines.all())
            assert lines == [("credit", detail[1], Decimal(detail[2])), ("debit", detail[0], Decimal(detail[2]))]

    # Refusals happened for the right reason and no guarded balance went negative.
    assert {outcome for _, _, outcome, _ in logs} <= {"ok", "aborted", "insufficient_funds", "hold_already_resolved"}
    assert all(account_balance(account_id=i).available >= 0 for i in ids)
    report = invariants_check()
    assert report.ok, report.breaches


def _spend(account_ids: list[int], sink: int, barrier: Any, writer: int) -> list[str]:
    outcomes = []
    for round_no, account_id in enumerate(account_ids):
        barrier.wait(timeout=30)
        try:
            services.transfer_create(
                idempotency_key=f"spend-{round_no}-{writer}",
                debit_account_id=account_id,
                credit_account_id=sink,
                amount=Decimal("10.00"),
                currency="USD",
            )
            outcomes.append("ok")
        except DomainError as exc:
            outcomes.append(exc.code)
    return outcomes


def test_double_spend_exactly_one_wins_each_round(transactional_db):
    rounds = 25
    accounts = _fund(rounds, Decimal("10.00"), "ds")
    sink = _fund(1, Decimal(0), "sink")[0]
    barrier = CTX.Barrier(WRITERS)

    results = _fork(_spend, [(accounts, sink, barrier, w) for w in range(WRITERS)])

    for round_no in range(rounds):
        outcomes = sorted(result[round_no] for result in results)
        assert outcomes == ["insufficient_funds"] * (WRITERS - 1) + ["ok"], (round_no, outcomes)
    assert all(account_balance(account_id=a).balance == 0 for a in accounts)
    assert account_balance(account_id=sink).balance == Decimal("10.00") * rounds
    assert invariants_check().ok


def _same_key(payer: int, payee: int, barrier: Any, rounds: int) -> list[int]:
    ids = []
    for round_no in range(rounds):
        barrier.wait(timeout=30)
        entry = services.transfer_create(
            idempotency_key=f"same-{round_no}",
            debit_account_id=payer,
            credit_account_id=payee,
            amount=Decimal("1.00"),
            currency="USD",
        )
        ids.append(entry.pk)
    return ids


def test_concurrent_duplicates_take_effect_once(transactional_db):
    payer, payee = _fund(2, Decimal("100.00"), "dup")
    barrier = CTX.Barrier(WRITERS)
    rounds = 15

    results = _fork(_same_key, [(payer, payee, barrier, rounds)] * WRITERS)

    for round_no in range(rounds):
        assert len({result[round_no] for result in results}) == 1
    assert account_balance(account_id=payee).balance == Decimal("115.00")
    assert JournalEntry.objects.filter(idempotency_key__startswith="same-").count() == rounds


def _resolve(hold_ids: list[int], barrier: Any, writer: int) -> list[str]:
    outcomes = []
    for hold_id in hold_ids:
        barrier.wait(timeout=30)
        try:
            if writer % 2 == 0:
                services.hold_post(hold_id=hold_id, idempotency_key=f"post-{hold_id}-{writer}")
                outcomes.append("posted")
            else:
                services.hold_void(hold_id=hold_id, idempotency_key=f"void-{hold_id}-{writer}")
                outcomes.append("voided")
        except DomainError as exc:
            outcomes.append(exc.code)
    return outcomes


def test_hold_races_exactly_one_resolution_wins(transactional_db):
    payer, payee = _fund(2, Decimal("1000.00"), "hr")
    rounds = 25
    holds = [
        services.hold_create(
            idempotency_key=f"race-{i}",
            debit_account_id=payer,
            credit_account_id=payee,
            amount=Decimal("7.00"),
            currency="USD",
        ).pk
        for i in range(rounds)
    ]
    barrier = CTX.Barrier(WRITERS)

    results = _fork(_resolve, [(holds, barrier, w) for w in range(WRITERS)])

    posted = 0
    for round_no, hold_id in enumerate(holds):
        outcomes = [result[round_no] for result in results]
        winners = [o for o in outcomes if o in ("posted", "voided")]
        assert len(winners) == 1, outcomes
        assert outcomes.count("hold_already_resolved") == WRITERS - 1
        hold = Hold.objects.get(pk=hold_id)
        assert hold.status == winners[0]
        assert JournalEntry.objects.filter(kind="hold_post", posted_hold__pk=hold_id).count() == (
            winners[0] == "posted"
        )
        posted += winners[0] == "posted"
    payer_balance = account_balance(account_id=payer)
    assert payer_balance.balance == Decimal("1000.00") - Decimal("7.00") * posted
    assert payer_balance.pending_debits == 0
    assert Account.objects.get(pk=payee).posted_credits == Decimal("1000.00") + Decimal("7.00") * posted
    assert invariants_check().ok
