"""End-to-end benchmark: a generated CSV through validation, dedupe, fund locks and the sandbox insurer.

    DATABASE_URL=postgres://... REDIS_URL=redis://... python -m endorsements.bench --rows 10000

Starts its own web server (uvicorn), Celery workers and sandbox insurer on 127.0.0.1, drives one
upload through the public API and prints rows/s per stage, end-to-end time and peak RSS.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-callback-secret"
API_KEY = "bench-api-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def descendants(pid: int) -> list[int]:
    """The process and every process below it (uvicorn's --workers are children of a supervisor)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found.extend(descendants(int(child)))
    return found


def wait(predicate: Callable[[], bool], what: str, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.25)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (-P solo)")
    parser.add_argument("--web-workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument(
        "--insurer-concurrency", type=int, default=2, help="submissions the sandbox insurer answers at the same time"
    )
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument(
        "--tick",
        type=float,
        default=0,
        help="close insurer windows every N seconds during intake, as beat does in production "
        "(ENDORSEMENTS_SCHEDULER_TICK_SECONDS); 0 = one window after intake (stage by stage)",
    )
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"):
        raise SystemExit("Set DATABASE_URL (PostgreSQL) and REDIS_URL: the benchmark measures the real servers.")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "escrow_project.settings.local")
    os.environ["DEBUG"] = "false"
    # Every process keeps its connections in a pool, as production should (DB_POOL in .env.example).
    os.environ.setdefault("DB_POOL", "true")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    import requests
    from rest_framework_simplejwt.tokens import RefreshToken

    from endorsements.models import (
        Batch,
        EmployerSafeguards,
        EndorsementRequest,
        GroupPolicy,
        InsurerCallbackSecret,
        InsurerProfile,
        RateCard,
        Relationship,
    )
    from endorsements.services import dispatch, funding
    from endorsements.states import RequestState
    from identity.models import Membership, Organization, OrganizationKind, Role, User

    run = uuid.uuid4().hex[:8]
    today = datetime.datetime.now(tz=datetime.UTC).date()
    web_port, sandbox_port = free_port(), free_port()
    employer = Organization.objects.create(
        name=f"Bench Employer {run}", slug=f"bench-emp-{run}", kind=OrganizationKind.EMPLOYER
    )
    insurer = Organization.objects.create(
        name=f"Bench Insurer {run}", slug=f"bench-ins-{run}", kind=OrganizationKind.INSURER
    )
    # A first file of 100,000 additions is exactly what the velocity breaker holds for review: the
    # bench measures the pipeline a released file goes through, so this employer's breaker is off.
    EmployerSafeguards.objects.create(employer=employer, velocity_enabled=False)
    hr = User.objects.create(username=f"bench-hr-{run}")
    Membership.objects.create(user=hr, organization=employer, role=Role.EMPLOYER_HR)
    InsurerProfile.objects.create(
        insurer=insurer, base_url=f"http://127.0.0.1:{sandbox_port}", api_key=API_KEY, window_seconds=0
    )
    InsurerCallbackSecret.objects.create(insurer=insurer, key_id="bench", secret=SECRET)
    policy = GroupPolicy.objects.create(
        employer=employer,
        insurer=insurer,
        policy_number=f"BENCH-{run}",
        term_start=today - datetime.timedelta(days=180),
        term_end=today + datetime.timedelta(days=184),
        currency="USD",
    )
    RateCard.objects.create(
        policy=policy, plan="CORE", relationship=Relationship.EMPLOYEE, annual_premium=Decimal("2400")
    )
    funding.ea_topup(
        employer=employer,
        amount=Decimal(args.rows * 2400),
        currency="USD",
        idempotency_key=f"bench-{run}",
        actor="bench",
    )

    # The file: ~98% good additions, 1% unknown plan, 1% exact duplicates of earlier rows.
    rng = random.Random(7)
    path = Path(tempfile.mkdtemp()) / "bench.csv"
    good: list[list[str]] = []
    expected_accepted = 0
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["policy_number", "kind", "member_id", "name", "date_of_birth", "relationship", "plan", "effective_date"]
        )
        for i in range(args.rows):
            roll = rng.random()
            if roll < 0.01 and good:
                writer.writerow(rng.choice(good))
                continue
            effective = (today + datetime.timedelta(days=rng.randint(-30, 30))).isoformat()
            row = [
                policy.policy_number,
                "addition",
                f"B{i:07d}",
                f"Bench Person {i}",
                "1985-04-12",
                "employee",
                "GOLD" if roll < 0.02 else "CORE",
                effective,
            ]
            writer.writerow(row)
            if row[6] == "CORE":
                good.append(row)
                expected_accepted += 1
    size_mb = path.stat().st_size / 1e6

    env = {**os.environ, "ENDORSEMENTS_CALLBACK_BASE_URL": f"http://127.0.0.1:{web_port}", "DEBUG": "false"}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs = Path(tempfile.mkdtemp())
    try:
        procs["sandbox"] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "endorsements.sandbox",
                "--port",
                str(sandbox_port),
                "--api-key",
                API_KEY,
                "--secret",
                SECRET,
                "--delay-ms",
                "50",
                "--reject-prefix",
                "",
                "--claim-prefix",
                "",
                "--concurrency",
                str(args.insurer_concurrency),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        procs["web"] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "escrow_project.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(web_port),
                "--log-level",
                "warning",
                "--no-access-log",
                "--workers",
                str(args.web_workers),
            ],
            cwd=ROOT,
            env=env,
            stdout=(logs / "web.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for n in range(args.workers):
            procs[f"worker{n + 1}"] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "escrow_project",
                    "worker",
                    "-P",
                    "solo",
                    "-n",
                    f"bench{n}-{run}@%h",
                    "--without-heartbeat",
                    "--without-mingle",
                    "--without-gossip",
                    "-l",
                    "WARNING",
                ],
                cwd=ROOT,
                env=env,
                stdout=(logs / f"worker{n}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )

        def web_up() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{web_port}/health/live", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait(web_up, "the web server", 60)
        time.sleep(2)  # let the workers connect to the broker
        token = str(RefreshToken.for_user(hr).access_token)

        stop_ticking = threading.Event()

        def ticker() -> None:
            from django.db import connection

            try:
                while not stop_ticking.wait(args.tick):
                    dispatch.scheduler_tick()
            finally:
                connection.close()

        t0 = time.monotonic()
        if args.tick > 0:
            threading.Thread(target=ticker, daemon=True).start()
        with path.open("rb") as upload_file:
            response = requests.post(
                f"http://127.0.0.1:{web_port}/api/v1/endorsements/batch",
                files={"file": ("bench.csv", upload_file, "text/csv")},
                headers={"Authorization": f"Bearer {token}"},
                timeout=120,
            )
        t_upload = time.monotonic()
        if response.status_code != 202:
            raise SystemExit(f"upload refused: {response.status_code} {response.text[:500]}")
        batch = Batch.objects.get(public_id=response.json()["id"])

        def batch_done() -> bool:
            return Batch.objects.filter(pk=batch.pk, status=Batch.Status.COMPLETED).exists()

        t_intake = wait(batch_done, "intake", args.timeout)
        requests_qs = EndorsementRequest.objects.filter(batch=batch)
        t_locked = wait(
            lambda: not requests_qs.filter(state__in=[RequestState.VALIDATED, RequestState.RECEIVED]).exists(),
            "fund locks",
            args.timeout,
        )
        batch.refresh_from_db()
        locked = requests_qs.filter(state=RequestState.FUND_LOCKED).count()
        t_tick0 = time.monotonic()
        dispatch.scheduler_tick(force=True)
        t_tick = time.monotonic()
        t_sent = wait(lambda: not requests_qs.filter(state=RequestState.FUND_LOCKED).exists(), "dispatch", args.timeout)
        # With windows during intake many requests are already past FUND_LOCKED here: count them all.
        funded = requests_qs.exclude(state__in=[RequestState.ON_HOLD_FUNDS, RequestState.REJECTED]).count()
        t_active = wait(
            lambda: requests_qs.filter(state=RequestState.ACTIVE).count() == funded, "insurer answers", args.timeout
        )
        # Per process (the largest of a group: uvicorn's workers sit under one supervisor).
        memory = {name: max(peak_rss_mb(pid) for pid in descendants(proc.pid)) for name, proc in procs.items()}
        stop_ticking.set()
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    n = args.rows
    stages = [
        ("upload (HTTP 202, file streamed to disk)", t_upload - t0, None),
        ("intake: validation + dedupe + fund locks", t_intake - t_upload, n),
        ("all funds locked (after upload)", t_locked - t_upload, None),
        ("window close (scheduler tick)", t_tick - t_tick0, None),
        ("dispatch to the sandbox insurer (SENT)", t_sent - t_tick0, None if args.tick else locked),
        ("insurer callbacks until ACTIVE", t_active - t_tick0, None if args.tick else locked),
        ("end to end (upload to all ACTIVE)", t_active - t0, n),
    ]
    print(
        f"rows: {n} ({size_mb:.1f} MB CSV); accepted {batch.rows_accepted} (expected {expected_accepted}), "
        f"rejected {batch.rows_rejected}, duplicate {batch.rows_duplicate}; workers {args.workers} (solo), "
        f"web workers {args.web_workers}, insurer concurrency {args.insurer_concurrency}, "
        f"DB_POOL={os.environ['DB_POOL']}; "
        + (f"windows every {args.tick:.0f} s during intake" if args.tick else "one window, after intake")
    )
    for name, seconds, count in stages:
        rate = f"{count / seconds:9.0f} rows/s" if count else ""
        print(f"{name:<45} {seconds:8.2f} s {rate}")
    # Each stage's own pace, from the requests' timestamps (meaningful when stages overlap too).
    from django.db.models import Count, Max, Min

    for label, column in (
        ("stage pace: accepted (created)", "created_at"),
        ("stage pace: sent to the insurer", "sent_at"),
        ("stage pace: confirmed (holds posted)", "confirmed_at"),
        ("stage pace: active", "activated_at"),
    ):
        span = requests_qs.aggregate(n=Count(column), first=Min(column), last=Max(column))
        if span["n"] and span["last"] > span["first"]:
            seconds = (span["last"] - span["first"]).total_seconds()
            print(f"{label:<45} {seconds:8.2f} s {span['n'] / seconds:9.0f} rows/s")
    print("peak RSS (VmHWM): " + ", ".join(f"{k} {v:.0f} MB" for k, v in memory.items()))
    # A fast run that logged deadlocks or failed deliveries would not be a result: say so.
    problems = {
        log.stem: sum(('"level": "error"' in line or "deadlock" in line.lower()) for line in log.open(errors="replace"))
        for log in sorted(logs.glob("*.log"))
    }
    print("error lines in process logs: " + ", ".join(f"{k} {v}" for k, v in problems.items()) + f" ({logs})")


if __name__ == "__main__":
    main()
