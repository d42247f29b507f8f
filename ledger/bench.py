"""Ledger benchmark: `python -m ledger.bench` (PostgreSQL only; DATABASE_URL names the server).

It creates two scratch databases next to DATABASE_URL's (`<name>_bench` for the ledger, `<name>_pgbench`
for pgbench), so it never touches your data, and prints:

- transfers/s with 1 and 4 processes on random pairs of 1,000 guarded accounts;
- the same with every transfer crediting one hot account;
- hold-then-post pairs/s with 1 and 4 processes;
- balance-read latency (p50, p99) for an account with 1,000,000 entries (history bulk-loaded by SQL
  with triggers off: a benchmark-only shortcut, the services are far too slow to write 1M rows here);
- pgbench's tpcb-like TPS for the same client counts on the same server, and our ratio to it.

Options: --seconds N (per measurement, default 8), --history N (entries, default 1,000,000),
--keep (do not drop the scratch databases).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse, urlunparse

CTX = multiprocessing.get_context("fork")
ACCOUNTS = 1000


def _admin_sql(url: str, statements: list[str]) -> None:
    import psycopg

    parsed = urlparse(url)
    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _with_db(url: str, name: str) -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{name}"))


def _machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as info:
            kb = int(info.readline().split()[1])
            mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    system = f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    return f"{cpu}, {os.cpu_count()} logical CPUs{mem}, {system}"


def _child(work: Callable[..., int], queue: Any, barrier: Any, index: int, seconds: float) -> None:
    from django.db import connections

    try:
        barrier.wait(timeout=60)
        deadline = time.monotonic() + seconds
        done = work(index, deadline)
        queue.put((index, done, None))
    except Exception as exc:  # noqa: BLE001 -- reported to the parent, which prints it
        queue.put((index, 0, f"{type(exc).__name__}: {exc}"))
    finally:
        connections.close_all()


def _run(work: Callable[..., int], processes: int, seconds: float) -> float:
    """Operations per second of `work(index, deadline) -> count` over `processes` forked processes."""
    from django.db import connections

    connections.close_all()
    queue = CTX.Queue()
    barrier = CTX.Barrier(processes + 1)
    procs = [CTX.Process(target=_child, args=(work, queue, barrier, i, seconds)) for i in range(processes)]
    for proc in procs:
        proc.start()
    barrier.wait(timeout=60)
    started = time.monotonic()
    total = 0
    for _ in procs:
        _index, done, error = queue.get(timeout=seconds + 120)
        if error:
            raise RuntimeError(error)
        total += done
    elapsed = max(time.monotonic() - started, seconds)
    for proc in procs:
        proc.join()
    return total / elapsed


def _setup_accounts(tag: str) -> list[int]:
    from ledger import services

    ids = []
    for i in range(ACCOUNTS):
        account = services.account_open(
            owner_type="bench",
            owner_id=f"{tag}{i}",
            purpose="wallet",
            currency="USD",
            normal_side="credit",
            no_overdraft=True,
        )
        services.deposit_record(
            idempotency_key=f"bench-fund-{tag}{i}", account_id=account.pk, amount=Decimal("1000000"), currency="USD"
        )
        ids.append(account.pk)
    return ids


def _transfers(ids: list[int], run: str, hot: int | None) -> Callable[[int, float], int]:
    from ledger import services

    amount = Decimal("0.01")

    def work(index: int, deadline: float) -> int:
        rng = random.Random(index)
        done = 0
        while time.monotonic() < deadline:
            a, b = rng.sample(ids, 2)
            if hot is not None:
                b = hot if a != hot else b
            services.transfer_create(
                idempotency_key=f"{run}-{index}-{done}",
                debit_account_id=a,
                credit_account_id=b,
                amount=amount,
                currency="USD",
            )
            done += 1
        return done

    return work


def _holds(ids: list[int], run: str) -> Callable[[int, float], int]:
    from ledger import services

    amount = Decimal("0.01")

    def work(index: int, deadline: float) -> int:
        rng = random.Random(index)
        done = 0
        while time.monotonic() < deadline:
            a, b = rng.sample(ids, 2)
            hold = services.hold_create(
                idempotency_key=f"{run}-{index}-{done}",
                debit_account_id=a,
                credit_account_id=b,
                amount=amount,
                currency="USD",
            )
            services.hold_post(hold_id=hold.pk, idempotency_key=f"{run}-{index}-{done}-post")
            done += 1
        return done

    return work


def _bulk_history(entries: int) -> int:
    """One account with `entries` entries (each with its counterpart line), written by SQL in one go."""
    from django.db import connection, transaction

    from ledger import services

    big = services.account_open(
        owner_type="bench", owner_id="big", purpose="wallet", currency="USD", normal_side="credit"
    )
    other = services.account_open(
        owner_type="bench", owner_id="big-source", purpose="source", currency="USD", normal_side="debit"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # benchmark shortcut: triggers off
        cursor.execute(
            "INSERT INTO ledger_journalentry "
            "(public_id, idempotency_key, fingerprint, kind, description, metadata, created_at) "
            "SELECT md5(g::text || 'bench')::uuid, 'bench-big-' || g, '', 'transfer', '', '{}', "
            "now() - interval '1 second' * (%s - g) FROM generate_series(1, %s) AS g",
            [entries, entries],
        )
        cursor.execute(
            "INSERT INTO ledger_journalline (entry_id, account_id, side, amount, currency, posted_debits_after, "
            "posted_credits_after, created_at) "
            "SELECT e.id, a.account_id, a.side, 1, 'USD', "
            "CASE WHEN a.side = 'debit' THEN row_number() OVER (PARTITION BY a.account_id ORDER BY e.id) ELSE 0 END, "
            "CASE WHEN a.side = 'credit' THEN row_number() OVER (PARTITION BY a.account_id ORDER BY e.id) ELSE 0 END, "
            "e.created_at FROM ledger_journalentry e "
            "CROSS JOIN (VALUES (%s::bigint, 'debit'), (%s::bigint, 'credit')) AS a(account_id, side) "
            "WHERE e.idempotency_key LIKE 'bench-big-%%' ORDER BY e.id, a.side DESC",  # interleaved, as in life
            [other.pk, big.pk],
        )
        cursor.execute("UPDATE ledger_account SET posted_credits = %s WHERE id = %s", [entries, big.pk])
        cursor.execute("UPDATE ledger_account SET posted_debits = %s WHERE id = %s", [entries, other.pk])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ledger_journalline")
        cursor.execute("ANALYZE ledger_journalentry")
    return big.pk


def _latency(call: Callable[[], Any], samples: int) -> tuple[float, float]:
    for _ in range(50):
        call()  # warm the connection and the caches
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.99) - 1]


def _pgbench(url: str, clients: int, seconds: float) -> float:
    binary = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    parsed = urlparse(url)
    env = {
        **os.environ,
        "PGHOST": parsed.hostname or "127.0.0.1",
        "PGPORT": str(parsed.port or 5432),
        "PGUSER": parsed.username or "postgres",
    }
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    out = subprocess.run(
        [
            binary,
            "-n",
            "-c",
            str(clients),
            "-j",
            str(clients),
            "-T",
            str(max(1, int(seconds))),
            "-b",
            "tpcb-like",
            parsed.path.lstrip("/"),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
    if not match:
        raise RuntimeError(f"could not read pgbench output:\n{out}")
    return float(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--pgbench-scale", type=int, default=10)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("ledger.bench needs DATABASE_URL pointing at PostgreSQL.", file=sys.stderr)
        return 2
    base = urlparse(url).path.lstrip("/") or "escrow"
    bench_db, pgbench_db = f"{base}_bench", f"{base}_pgbench"
    _admin_sql(url, [f'DROP DATABASE IF EXISTS "{bench_db}"', f'CREATE DATABASE "{bench_db}"'])
    os.environ["DATABASE_URL"] = _with_db(url, bench_db)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "escrow_project.settings.test")
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    import django

    django.setup()
    import logging

    logging.disable(logging.INFO)
    from django.core.management import call_command
    from django.db import connection

    from ledger.selectors import account_balance, account_balance_as_of, account_history

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    print(f"machine: {_machine()}")
    print(f"PostgreSQL {server}; {args.seconds:g} s per measurement; {ACCOUNTS} guarded accounts")

    ids = _setup_accounts("a")
    hot = ids[0]
    results: dict[str, float] = {}
    for processes in (1, 4):
        results[f"transfer_random_{processes}"] = _run(_transfers(ids, f"r{processes}", None), processes, args.seconds)
        results[f"transfer_hot_{processes}"] = _run(_transfers(ids, f"h{processes}", hot), processes, args.seconds)
        results[f"hold_post_{processes}"] = _run(_holds(ids, f"p{processes}"), processes, args.seconds)
        for name in ("transfer_random", "transfer_hot", "hold_post"):
            print(f"{name:16s} {processes} process(es): {results[f'{name}_{processes}']:8.0f} /s", flush=True)

    started = time.monotonic()
    big = _bulk_history(args.history)
    print(f"bulk-loaded {args.history:,} entries in {time.monotonic() - started:.0f} s")
    p50, p99 = _latency(lambda: account_balance(account_id=big), 2000)
    asof50, asof99 = _latency(lambda: account_balance_as_of(account_id=big, at=django.utils.timezone.now()), 500)
    hist50, hist99 = _latency(lambda: list(account_history(account_id=big)[:50]), 500)
    print(f"balance read ({args.history:,} entries): p50 {p50:.3f} ms, p99 {p99:.3f} ms")
    print(f"balance as-of: p50 {asof50:.3f} ms, p99 {asof99:.3f} ms")
    print(f"history page of 50 lines: p50 {hist50:.3f} ms, p99 {hist99:.3f} ms")
    connection.close()

    pg_url = _with_db(url, pgbench_db)
    _admin_sql(url, [f'DROP DATABASE IF EXISTS "{pgbench_db}"', f'CREATE DATABASE "{pgbench_db}"'])
    binary = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    parsed = urlparse(pg_url)
    subprocess.run(
        [
            binary,
            "-i",
            "-q",
            "-s",
            str(args.pgbench_scale),
            "-h",
            parsed.hostname or "127.0.0.1",
            "-p",
            str(parsed.port or 5432),
            "-U",
            parsed.username or "postgres",
            pgbench_db,
        ],
        check=True,
        capture_output=True,
    )
    for clients in (1, 4):
        tps = _pgbench(pg_url, clients, args.seconds)
        ours = results[f"transfer_random_{clients}"]
        hot_ratio = 100 * results[f"transfer_hot_{clients}"] / tps
        hold_ratio = 100 * results[f"hold_post_{clients}"] / tps
        print(
            f"pgbench tpcb-like {clients} client(s): {tps:8.0f} tps; "
            f"ledger transfers {ours:.0f}/s = {100 * ours / tps:.0f}% "
            f"(hot {hot_ratio:.0f}%, hold+post {hold_ratio:.0f}%)",
            flush=True,
        )
    if not args.keep:
        _admin_sql(url, [f'DROP DATABASE IF EXISTS "{bench_db}"', f'DROP DATABASE IF EXISTS "{pgbench_db}"'])
    return 0


if __name__ == "__main__":
    sys.exit(main())
