"""CPU and queries of one fan-out expansion, printed, not asserted.

    DATABASE_URL=postgres://... python -m notifications.bench_fanout [--count 40]

Re-expands copies of the oldest fan-outs of the configured database (run `transactions.bench`
first, so they are real escrow events) in this process, each in its own transaction, and counts
what one expansion costs in the worker: the rows, preferences and the live pushes after commit.
The copies get a fresh dedupe prefix, so they write new rows (left behind, like the bench's).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "escrow_project.settings.local")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from escrow_project.celery import app as celery_app
    from notifications.models import NotificationFanout
    from notifications.services import notification_fanout_expand

    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=40)
    args = parser.parse_args()
    # Deliveries queued on commit (e-mail, webhooks) go to an in-process broker and are dropped:
    # only the expansion and its live pushes are measured, and nothing is left on a shared Redis.
    celery_app.conf.update(broker_url="memory://")
    sources = list(NotificationFanout.objects.exclude(recipients=[]).order_by("pk")[: args.count])
    if not sources:
        raise SystemExit("no fan-outs in this database: run transactions.bench first")
    run = uuid.uuid4().hex[:8]
    cpu_ms: list[float] = []
    queries: list[int] = []
    rows: list[int] = []
    recipients: list[int] = []
    # The first expansion of a process imports and compiles (channel layer, templates): not counted.
    for n, source in enumerate([sources[0], *sources]):
        copy = NotificationFanout.objects.create(
            kind=source.kind,
            recipients=source.recipients,
            context=source.context,
            subject_type=source.subject_type,
            subject_id=source.subject_id,
            dedupe_prefix=f"bench-{run}-{n}" if source.dedupe_prefix else "",
        )
        started = time.process_time()
        with CaptureQueriesContext(connection) as captured:
            written = notification_fanout_expand(fanout_id=copy.pk)  # live pushes run on its commit
        if n == 0:
            continue
        rows.append(written)
        cpu_ms.append((time.process_time() - started) * 1000)
        queries.append(len(captured.captured_queries))
        recipients.append(len(source.recipients))
    print(f"fan-outs expanded : {len(sources)} (recipient entries: mean {statistics.fmean(recipients):.2f})")
    print(f"rows per fan-out  : mean {statistics.fmean(rows):.1f}")
    print(f"CPU per fan-out   : mean {statistics.fmean(cpu_ms):.1f} ms, median {statistics.median(cpu_ms):.1f} ms")
    per_row = sum(cpu_ms) / max(1, sum(rows))
    print(f"CPU per row       : {per_row:.1f} ms")
    print(f"queries per fan-out: mean {statistics.fmean(queries):.1f}, max {max(queries)}")


if __name__ == "__main__":
    main()
