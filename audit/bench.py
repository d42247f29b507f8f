"""Audit log benchmark: `python -m audit.bench` against a scratch PostgreSQL database.

DATABASE_URL must name a database whose name contains "bench": the script migrates it and
TRUNCATEs the audit tables (the append-only trigger guards rows, not TRUNCATE). Prints figures;
docs/benchmarks/audit.md records a run.

1. events/s through `event_record` from 4 processes (each event its own transaction);
2. sealing 100,000 waiting events into one signed tree head;
3. inclusion proof for a random leaf of a 1,000,000-leaf tree (cold tile cache each time);
4. the standalone verifier on a 1,000-event bundle.

`--ceiling` runs step 1's harness with one trivial INSERT per event instead: what this machine
allows any Django process committing that often, to read step 1 against. `--pending` runs it with
each event written as an unchained pending row (the group-commit design's caller), then times a
chainer on those rows (`--with-chainer`: also while the writers run).
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


def _writer(
    worker: int, seconds: float, start_at: float, per_tx: int, out: Any, ceiling: bool = False, pending: bool = False
) -> None:
    _setup()
    from django.db import connection, transaction

    from audit import canonical
    from audit.services import event_record
    from audit.services.events import event_fields

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
                elif pending:  # the group-commit caller: validate as event_record does, one plain INSERT
                    fields = event_fields(
                        kind="bench.step",
                        subject_type="bench_case",
                        subject_id=f"w{worker}-c{n % 500}",
                        actor="system:bench",
                        payload={"n": n, "amount": "125.5000", "currency": "EUR"},
                    )
                    with connection.cursor() as cursor:
                        cursor.execute(
                            _PENDING_INSERT, {**fields, "payload": canonical.dumps(fields["payload"]).decode()}
                        )
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

# `--pending`: what the group-commit design (issue 15) would have each caller write: the event's
# columns without seq, prev_hash and hash, one row per event, indexed by its id only (a chainer
# reads them in id order). A scratch table, dropped after the run; `_chain_pending` times the
# chainer's side on the rows the writers left.
_PENDING_TABLE = "bench_pending_event"
_PENDING_CREATE = f"""
CREATE TABLE IF NOT EXISTS {_PENDING_TABLE} (
    id bigserial PRIMARY KEY, kind varchar(100) NOT NULL, subject_type varchar(64) NOT NULL,
    subject_id varchar(128) NOT NULL, actor varchar(200) NOT NULL, occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL, request_id varchar(128) NOT NULL, payload jsonb NOT NULL,
    salt varchar(32) NOT NULL
)
"""
_PENDING_INSERT = f"""
INSERT INTO {_PENDING_TABLE} (kind, subject_type, subject_id, actor, occurred_at, recorded_at, request_id, payload,
                              salt)
VALUES (%(kind)s, %(subject_type)s, %(subject_id)s, %(actor)s, %(occurred_at)s, %(recorded_at)s, %(request_id)s,
        %(payload)s::jsonb, %(salt)s)
"""


def _chainer(seconds: float, start_at: float, out: Any) -> None:
    """`--pending --with-chainer`: chain pending rows while the writers write, as deployed."""
    _setup()
    while time.time() < start_at:
        time.sleep(0.001)
    n, deadline = 0, time.time() + seconds
    while time.time() < deadline:
        done, _ = _chain_pending(batch=2000, until=deadline)
        n += done
        if not done:
            time.sleep(0.01)
    out.put(n)


def bench_append(
    processes: int,
    seconds: float,
    per_tx: int = 1,
    ceiling: bool = False,
    pending: bool = False,
    chainer: bool = False,
) -> tuple[float, float]:
    """(appended/s, chained/s by a concurrent chainer, 0 without one)."""
    ctx = mp.get_context("spawn")
    out, chained = ctx.Queue(), ctx.Queue()
    start_at = time.time() + 3.0  # let every process import Django and connect first
    procs = [
        ctx.Process(target=_writer, args=(w, seconds, start_at, per_tx, out, ceiling, pending))
        for w in range(processes)
    ]
    if chainer:
        procs.append(ctx.Process(target=_chainer, args=(seconds, start_at, chained)))
    for p in procs:
        p.start()
    total = sum(out.get() for _ in range(processes))
    chained_total = chained.get() if chainer else 0
    for p in procs:
        p.join()
    return total / seconds, chained_total / seconds


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


def _chain_pending(batch: int = 10_000, until: float | None = None) -> tuple[int, float]:
    """Chain the rows `--pending` left into real events, as a group-commit chainer would; (count, s).

    One transaction per batch: read the oldest pending rows, lock their subjects' heads, hash each
    event onto its subject's head in id order, insert the events and their sealing-queue rows, move
    the heads and delete the pending rows. A measurement of the chainer's cost, not a service.
    """
    import datetime as dt

    from django.db import connection, transaction

    from audit import canonical
    from audit.models import AuditEvent, PendingEvent, SubjectHead
    from audit.services.events import canonical_time

    total, started = 0, time.perf_counter()
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, kind, subject_type, subject_id, actor, occurred_at, recorded_at, request_id, payload, "
                f"salt FROM {_PENDING_TABLE} ORDER BY id LIMIT %s",
                [batch],
            )
            rows = cursor.fetchall()
            if not rows:
                break
            subjects = sorted({(r[2], r[3]) for r in rows})
            SubjectHead.objects.bulk_create(
                [SubjectHead(subject_type=t, subject_id=i) for t, i in subjects], ignore_conflicts=True
            )
            heads = {
                (h.subject_type, h.subject_id): h
                for h in SubjectHead.objects.select_for_update().filter(
                    subject_type="bench_case", subject_id__in=[i for _, i in subjects]
                )
            }
            events = []
            for _id, kind, stype, sid, actor, occurred, recorded, rid, payload, salt in rows:
                head = heads[(stype, sid)]
                seq, prev = head.length + 1, head.head_hash or canonical.ZERO_HASH
                occurred = occurred.astimezone(dt.UTC)
                record = canonical.event_record(
                    kind=kind, subject_type=stype, subject_id=sid, seq=seq, prev_hash=prev, actor=actor,
                    occurred_at=canonical_time(occurred), request_id=rid, payload=payload, salt=salt,
                )  # fmt: skip
                head.length, head.prev_head_hash, head.head_hash = seq, prev, canonical.event_hash(record)
                events.append(
                    AuditEvent(
                        kind=kind, subject_type=stype, subject_id=sid, seq=seq, prev_hash=prev, actor=actor,
                        occurred_at=occurred, recorded_at=recorded, request_id=rid, payload=payload, salt=salt,
                        event_hash=head.head_hash,
                    )
                )  # fmt: skip
            AuditEvent.objects.bulk_create(events, batch_size=5000)
            PendingEvent.objects.bulk_create([PendingEvent(event_id=e.pk) for e in events], batch_size=5000)
            SubjectHead.objects.bulk_update(list(heads.values()), ["length", "prev_head_hash", "head_hash"])
            # By the ids read, not by the highest: a lower id whose writer commits after the SELECT
            # must stay for the next batch (it becomes a later link, as late commits become later leaves).
            cursor.execute(f"DELETE FROM {_PENDING_TABLE} WHERE id = ANY(%s)", [[r[0] for r in rows]])
            total += len(rows)
        if until is not None and time.time() >= until:
            break
    return total, time.perf_counter() - started


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
        "--pending",
        action="store_true",
        help="run step 1 only, each event written as an unchained pending row (the group-commit caller), "
        "then time chaining those rows",
    )
    parser.add_argument(
        "--ceiling",
        action="store_true",
        help="run step 1 only, with one trivial INSERT instead of each event (this machine's ceiling)",
    )
    parser.add_argument("--with-chainer", action="store_true", help="with --pending: chain while appending")
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

    from django.contrib.auth import get_user_model

    from audit import merkle, selectors, verify
    from audit.models import AuditEvent, TreeState
    from audit.services import event_record, tree_seal
    from audit.tiles import TileStore

    if args.ceiling:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {_CEILING_TABLE} (id bigserial PRIMARY KEY, worker int, n int)")
        try:
            rate, _ = bench_append(args.processes, args.seconds, args.per_transaction, ceiling=True)
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE {_CEILING_TABLE}")
        print(
            f"1c. ceiling: {rate:,.0f} trivial INSERTs/s from {args.processes} processes, same harness "
            f"({args.seconds:.0f} s, {args.per_transaction} per transaction)"
        )
        return 0
    if args.pending:
        with connection.cursor() as cursor:
            cursor.execute(_PENDING_CREATE)
        try:
            rate, chained = bench_append(
                args.processes, args.seconds, args.per_transaction, pending=True, chainer=args.with_chainer
            )
            print(
                f"1p. pending rows: {rate:,.0f} unchained events/s from {args.processes} processes, same harness "
                f"({args.seconds:.0f} s, {args.per_transaction} per transaction)"
            )
            if args.with_chainer:
                print(f"1r. chained meanwhile by one concurrent chainer: {chained:,.0f} events/s")
            count, chain_s = _chain_pending()
            print(f"1q. chaining the rest: {count:,} events in {chain_s:.2f} s ({count / chain_s:,.0f}/s, one process)")
            tree_seal(max_events=10_000_000)
            user = get_user_model()(username="bench", is_superuser=True)  # sees every case; never saved
            report = verify.verify_bundle(selectors.bundle_for_subject(user, "bench_case", "w0-c0"))
            assert report.ok, report.failures  # the chainer's output is what the verifier accepts
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE {_PENDING_TABLE}")
        return 0
    rate, _ = bench_append(args.processes, args.seconds, args.per_transaction)
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
