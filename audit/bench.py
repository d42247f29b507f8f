"""Audit log benchmark: `python -m audit.bench` against a scratch PostgreSQL database.

DATABASE_URL must name a database whose name contains "bench": the script migrates it and
TRUNCATEs the audit tables (the append-only trigger guards rows, not TRUNCATE). Prints figures;
docs/benchmarks/audit.md records a run.

1. events/s through `event_record` from 4 processes (each event its own transaction);
2. sealing 100,000 waiting events into one signed tree head;
3. inclusion proof for a random leaf of a 1,000,000-leaf tree (cold tile cache each time);
4. the standalone verifier on a 1,000-event bundle.

`--ceiling` runs step 1's harness with one trivial INSERT per event instead: what this machine
allows any Django process committing that often, to read step 1 against.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "escrow_project.settings.local")
    import django

    django.setup()


def _writer(worker: int, seconds: float, start_at: float, per_tx: int, out: Any, ceiling: bool = False) -> None:
    _setup()
    from django.db import connection, transaction

    from audit.services import event_record

    connection.ensure_connection()
    while time.time() < start_at:
        time.sleep(0.001)
    n, deadline = 0, time.time() + seconds
    while time.time() < deadline:
        with transaction.atomic():  # the caller's business transaction, recording per_tx events
            for _ in range(per_tx):
                if ceiling:  # the same harness with one trivial INSERT instead of an event
                    with connection.cursor() as cursor:
                        cursor.execute(f"INSERT INTO {_CEILING_TABLE} (worker, n) VALUES (%s, %s)", [worker, n])
                else:
                    event_record(
                        kind="bench.step",
                        subject_type="bench_case",
                        subject_id=f"w{worker}-c{n % 500}",
                        actor="system:bench",
                        payload={"n": n, "amount": "125.5000", "currency": "EUR"},
                    )
                n += 1
    out.put(n)


# A plain logged table (so each commit pays the same WAL flush), dropped after the ceiling run.
_CEILING_TABLE = "bench_ceiling_insert"


def bench_append(processes: int, seconds: float, per_tx: int = 1, ceiling: bool = False) -> float:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 3.0  # let every process import Django and connect first
    procs = [ctx.Process(target=_writer, args=(w, seconds, start_at, per_tx, out, ceiling)) for w in range(processes)]
    for p in procs:
        p.start()
    total = sum(out.get() for _ in procs)
    for p in procs:
        p.join()
    return total / seconds


def _bulk_events(n: int, subjects: int) -> None:
    """Insert n valid chained events quickly (bulk), to have something to seal."""
    import datetime as dt
    import secrets

    from audit import canonical
    from audit.models import AuditEvent, PendingEvent, SubjectHead

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    when = now.isoformat(timespec="microseconds")
    heads: dict[str, tuple[int, str]] = {}
    rows = []
    for i in range(n):
        sid = f"bulk-{i % subjects}"
        seq, prev = heads.get(sid, (0, canonical.ZERO_HASH))
        salt = secrets.token_hex(16)
        payload = {"i": i}
        record = canonical.event_record(
            kind="bench.bulk", subject_type="bench_case", subject_id=sid, seq=seq + 1, prev_hash=prev,
            actor="system:bench", occurred_at=when, request_id="", payload=payload, salt=salt,
        )  # fmt: skip
        h = canonical.event_hash(record)
        heads[sid] = (seq + 1, h)
        rows.append(
            AuditEvent(
                kind="bench.bulk", subject_type="bench_case", subject_id=sid, seq=seq + 1, prev_hash=prev,
                actor="system:bench", occurred_at=now, request_id="", payload=payload, salt=salt, event_hash=h,
            )
        )  # fmt: skip
    AuditEvent.objects.bulk_create(rows, batch_size=5000)
    PendingEvent.objects.bulk_create([PendingEvent(event_id=row.pk) for row in rows], batch_size=5000)
    SubjectHead.objects.bulk_create(
        [SubjectHead(subject_type="bench_case", subject_id=s, length=ln, head_hash=h) for s, (ln, h) in heads.items()],
        batch_size=5000,
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m audit.bench")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--seal", type=int, default=100_000)
    parser.add_argument("--proof-size", type=int, default=1_000_000)
    parser.add_argument("--bundle-events", type=int, default=1000)
    parser.add_argument(
        "--per-transaction", type=int, default=1, help="events per business transaction in step 1 (default 1)"
    )
    parser.add_argument("--only-append", action="store_true", help="run step 1 only")
    parser.add_argument(
        "--ceiling",
        action="store_true",
        help="run step 1 only, with one trivial INSERT instead of each event (this machine's ceiling)",
    )
    args = parser.parse_args()

    _setup()
    from django.core.management import call_command
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    if connection.vendor != "postgresql" or "bench" not in name:
        print("Refusing: set DATABASE_URL to a PostgreSQL database whose name contains 'bench' (it gets truncated).")
        return 2
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE audit_anchor, audit_treehead, audit_tile, audit_treestate, audit_leaf, audit_pendingevent, "
            "audit_auditevent, audit_subjecthead"
        )
    print(f"database {name}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")

    from audit import merkle, selectors, verify
    from audit.models import AuditEvent, TreeState
    from audit.services import event_record, tree_seal
    from audit.tiles import TileStore

    if args.ceiling:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {_CEILING_TABLE} (id bigserial PRIMARY KEY, worker int, n int)")
        try:
            rate = bench_append(args.processes, args.seconds, args.per_transaction, ceiling=True)
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE {_CEILING_TABLE}")
        print(
            f"1c. ceiling: {rate:,.0f} trivial INSERTs/s from {args.processes} processes, same harness "
            f"({args.seconds:.0f} s, {args.per_transaction} per transaction)"
        )
        return 0
    rate = bench_append(args.processes, args.seconds, args.per_transaction)
    print(
        f"1. append: {rate:,.0f} events/s through event_record from {args.processes} processes "
        f"({args.seconds:.0f} s, {args.per_transaction} event(s) per transaction)"
    )
    if args.only_append:
        return 0
    tree_seal(max_events=10_000_000)  # seal what the writers left, so the next figure is only the 100k

    _bulk_events(args.seal, subjects=args.seal // 10)
    t = time.perf_counter()
    head = tree_seal(max_events=args.seal)
    seal_s = time.perf_counter() - t
    assert head is not None
    print(f"2. seal: {args.seal:,} events into a signed tree head (size {head.tree_size:,}) in {seal_s:.2f} s")

    # Grow the tile store to the target size with synthetic leaves: proof cost depends on tiles only.
    size = TreeState.objects.get(pk=1).size
    store = TileStore()
    rng = random.Random(7)
    while size < args.proof_size:
        chunk = min(100_000, args.proof_size - size)
        store.append(size, [rng.randbytes(32) for _ in range(chunk)])
        store.flush()
        store.cache.clear()
        size += chunk
    timings = []
    root = TileStore().root(size)
    for _ in range(300):
        index = rng.randrange(size)
        t = time.perf_counter()
        path = TileStore().inclusion(index, size)  # a cold cache: the rows are read each time
        timings.append((time.perf_counter() - t) * 1000)
        assert merkle.verify_inclusion(index, size, TileStore().perfect(index, index + 1), path, root)
    timings.sort()
    print(
        f"3. inclusion proof at {size:,} leaves: median {statistics.median(timings):.2f} ms, "
        f"p95 {timings[int(len(timings) * 0.95)]:.2f} ms (300 random leaves, cold cache)"
    )

    # A fresh log for the bundle (the synthetic leaves above have no events behind them).
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE audit_anchor, audit_treehead, audit_tile, audit_treestate, audit_leaf, audit_pendingevent, "
            "audit_auditevent, audit_subjecthead"
        )
    for i in range(args.bundle_events):
        event_record(kind="bench.step", subject_type="bench_case", subject_id="case-1", actor="system:bench",
                     payload={"i": i, "amount": "10.0000"})  # fmt: skip
    _bulk_events(20_000, subjects=2000)  # other cases around it, so proofs have realistic depth
    tree_seal(max_events=10_000_000)
    from django.contrib.auth import get_user_model

    user = get_user_model()(username="bench", is_superuser=True)  # sees every case; never saved
    bundle = selectors.bundle_for_subject(user, "bench_case", "case-1")
    t = time.perf_counter()
    report = verify.verify_bundle(bundle)
    verify_s = time.perf_counter() - t
    assert report.ok, report.failures
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(bundle, handle)
    t = time.perf_counter()
    cli = subprocess.run([sys.executable, "-m", "audit.verify", handle.name], capture_output=True, text=True)
    cli_s = time.perf_counter() - t
    os.unlink(handle.name)
    print(
        f"4. verify a {args.bundle_events:,}-event bundle ({AuditEvent.objects.count():,}-leaf tree): "
        f"{verify_s * 1000:.0f} ms in process, {cli_s * 1000:.0f} ms for `python -m audit.verify` "
        f"(exit {cli.returncode})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
