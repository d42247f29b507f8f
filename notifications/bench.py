"""Throughput of the outbox: enqueue (in callers' transactions) and delivery, printed, not asserted.

    DATABASE_URL=postgres://... python -m notifications.bench [--rows 500] [--receiver]

Uses the configured database (run `manage.py migrate` first) and Django's locmem e-mail backend;
with --receiver it also delivers webhooks to a local HTTP receiver on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "escrow_project.settings.local")
    os.environ.setdefault("NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE", "true")
    import django

    django.setup()
    from django.conf import settings
    from django.db import transaction

    from identity.models import Membership, Organization, Role, User
    from notifications.models import Notification
    from notifications.services import notification_deliver, notification_enqueue, webhook_endpoint_register
    from notifications.types import Recipient

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--receiver", action="store_true")
    args = parser.parse_args()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from escrow_project.celery import app as celery_app

    # Tasks queued on commit go to an in-process broker and are dropped: the bench delivers itself,
    # and must leave no messages behind on a shared Redis.
    celery_app.conf.update(broker_url="memory://")

    run = uuid.uuid4().hex[:8]
    org = Organization.objects.create(name=f"bench {run}", slug=f"bench-{run}", kind="brokerage")
    user = User.objects.create(username=f"bench-{run}", email=f"bench-{run}@example.test")
    Membership.objects.create(user=user, organization=org, role=Role.AGENT)
    server = None
    if args.receiver:

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        webhook_endpoint_register(organization_id=org.pk, url=f"http://127.0.0.1:{server.server_address[1]}/")

    recipient = Recipient.organization(org.pk)
    context = {"reference": "BENCH", "amount": "10.00", "currency": "USD"}
    started = time.perf_counter()
    ids: list[int] = []
    for n in range(args.rows):
        with transaction.atomic():  # the caller's transaction
            rows = notification_enqueue(
                kind="payment_released", recipient=recipient, context=context, dedupe_key=f"bench:{run}:{n}"
            )
        ids += [r.pk for r in rows]
    enqueue_seconds = time.perf_counter() - started

    per_channel: dict[str, list[float]] = {}
    channels = dict(Notification.objects.filter(pk__in=ids).values_list("pk", "channel"))
    started = time.perf_counter()
    for pk in ids:
        t0 = time.perf_counter()
        notification_deliver(notification_id=pk)
        per_channel.setdefault(channels[pk], []).append(time.perf_counter() - t0)
    deliver_seconds = time.perf_counter() - started

    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
    rate = args.rows / enqueue_seconds
    print(f"enqueue: {args.rows} calls, {len(ids)} rows in {enqueue_seconds:.2f} s = {rate:.0f} calls/s")
    print(
        f"deliver: {len(ids)} rows in {deliver_seconds:.2f} s = {len(ids) / deliver_seconds:.0f} rows/s (one process)"
    )
    for channel, samples in sorted(per_channel.items()):
        samples.sort()
        print(
            f"  {channel:8} n={len(samples)} p50={statistics.median(samples) * 1000:.1f} ms "
            f"p95={samples[int(len(samples) * 0.95) - 1] * 1000:.1f} ms"
        )
    if server is not None:
        server.shutdown()


if __name__ == "__main__":
    main()
