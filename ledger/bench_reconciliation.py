"""Reconciliation benchmark: `python -m ledger.bench_reconciliation [--lines 100000] [--keep]`.

Two measurements of 100,000 statement lines against 100,000 of ours (issue 17: under a minute,
bounded memory), on synthetic lines shaped like an insurer's month: 1% amounts off (half inside
the 0.01 tolerance), 0.5% dated differently, 0.5% only on the statement, 0.5% only with us, 0.1%
repeated, a tenth matched by reference, the rest by member + action + date.

1. The engine alone (`reconcile_iter`, results counted, not kept): wall time, then the Python heap's
   peak by tracemalloc in a second pass (tracemalloc slows it; its time is not the figure).
2. A recorded run (`reconciliation_run_record`: lines and breaks written to PostgreSQL in chunks)
   in a scratch database `<name>_reconbench` next to DATABASE_URL's (dropped afterwards unless
   --keep): wall time, the process's peak RSS before and after, and the time of a re-import of the
   same statement (idempotent: nothing written).

Figures are printed, not asserted (docs/benchmarks/reconciliation.md records them).
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import resource
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import urlparse

from ledger.reconciliation import Line, reconcile_iter

START = datetime.date(2026, 3, 1)
TOLERANCE = Decimal("0.01")


def _ours(n: int) -> Iterator[Line]:
    rng = random.Random(17)  # noqa: S311 - synthetic data, not secrets
    for i in range(n):
        cents = rng.randrange(1000, 500000)
        if i % 200 == 7:
            continue  # only on the statement (they have it, we don't)
        yield Line(
            amount=Decimal(cents).scaleb(-2) * (-1 if i % 9 == 0 else 1),  # a ninth are refunds
            currency="USD",
            key=(f"member-{i:07d}", "deletion" if i % 9 == 0 else "addition"),
            date=START + datetime.timedelta(days=i % 28),
            reference=f"EQ-{i:07d}" if i % 10 == 0 else "",
            status="active",
            source=f"EQ-{i:07d}",
        )


def _theirs(n: int) -> Iterator[Line]:
    rng = random.Random(17)  # noqa: S311 - synthetic data, not secrets
    for i in range(n):
        cents = rng.randrange(1000, 500000)
        if i % 200 == 13:
            continue  # only with us (confirmed here, absent from the statement)
        amount = Decimal(cents).scaleb(-2) * (-1 if i % 9 == 0 else 1)
        if i % 100 == 3:
            amount += Decimal("0.01")  # inside the tolerance
        elif i % 100 == 5:
            amount += Decimal("1.50")  # outside
        day = START + datetime.timedelta(days=i % 28 + (4 if i % 200 == 11 else 0))
        line = Line(
            amount=amount,
            currency="USD",
            key=(f"member-{i:07d}", "deletion" if i % 9 == 0 else "addition"),
            date=day,
            reference=f"EQ-{i:07d}" if i % 10 == 0 else "",
            status="active",
            source=f"row {i + 1}",
        )
        yield line
        if i % 1000 == 17:
            yield line  # the same line twice


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def engine_only(n: int) -> None:
    started = time.perf_counter()
    counts: Counter[str] = Counter()
    for result in reconcile_iter(_ours(n), _theirs(n), tolerance=TOLERANCE):
        counts.update(result.outcomes)
    elapsed = time.perf_counter() - started
    print(f"engine: {n:,} statement lines against {n:,} of ours in {elapsed:.2f} s ({n / elapsed:,.0f} lines/s)")
    print("engine: classes " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))

    tracemalloc.start()
    for _result in reconcile_iter(_ours(n), _theirs(n), tolerance=TOLERANCE):
        pass
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"engine: Python heap peak (tracemalloc) {peak / 1024 / 1024:.1f} MiB")


def recorded_run(n: int, keep: bool) -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("recorded run: skipped (set DATABASE_URL to a PostgreSQL server)")
        return
    from ledger.bench import _admin_sql, _with_db

    name = f"{urlparse(url).path.lstrip('/') or 'escrow'}_reconbench"
    _admin_sql(url, [f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'])
    os.environ["DATABASE_URL"] = _with_db(url, name)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "escrow_project.settings.test")
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from ledger.services import reconciliation_run_record

        def record() -> tuple[object, bool]:
            return reconciliation_run_record(
                kind="insurer_statement", business="bench", counterparty="organization:bench",
                statement_key="bench-statement", ours=_ours(n), theirs=_theirs(n), tolerance=TOLERANCE,
            )  # fmt: skip

        before = _rss_mib()
        started = time.perf_counter()
        run, created = record()
        elapsed = time.perf_counter() - started
        after = _rss_mib()
        print(
            f"recorded run: {run.line_count:,} lines, {run.break_count:,} breaks written in {elapsed:.2f} s "  # type: ignore[attr-defined]
            f"({run.line_count / elapsed:,.0f} lines/s); peak RSS {before:.0f} MiB before, {after:.0f} MiB after"  # type: ignore[attr-defined]
        )
        started = time.perf_counter()
        _again, created = record()
        print(f"re-import of the same statement: {time.perf_counter() - started:.3f} s, created={created}")
    finally:
        from django.db import connections

        connections.close_all()
        if not keep:
            _admin_sql(url, [f'DROP DATABASE IF EXISTS "{name}"'])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--engine-only", action="store_true")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} logical CPUs")
    engine_only(args.lines)
    if not args.engine_only:
        recorded_run(args.lines, args.keep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
