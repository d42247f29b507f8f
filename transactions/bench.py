"""Benchmark: N escrow transactions from creation to settlement through the HTTP API, with the
sandbox agents answering through real Celery workers. Prints wall time, transactions per minute and
API latency percentiles.

    DATABASE_URL=postgres://... REDIS_URL=redis://... python -m transactions.bench --n 50
    python -m transactions.bench --n 50       # the embedded default (SQLite, filesystem broker), migrated

It starts its own ASGI server (uvicorn) and Celery worker as subprocesses on 127.0.0.1, and a
pool of client threads that each drive one transaction at a time, like a partner system would.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "escrow_project.settings.local")
    import django

    django.setup()


def _world(tag: str) -> dict[str, Any]:
    from identity.models import Organization as Org
    from identity.models import OrganizationKind, Role, User
    from identity.services import membership_grant
    from transactions.models import PayeeProfile
    from verifications.models import AgentProfile

    def org(name: str, kind: str) -> Org:
        return Org.objects.create(name=f"{name} {tag}", kind=kind, slug=f"bench-{tag}-{name.lower().replace(' ', '-')}")

    def user(name: str, organization: Org, role: str) -> User:
        u = User.objects.create_user(username=f"bench-{tag}-{name}", password=uuid.uuid4().hex)
        membership_grant(user=u, organization=organization, role=role)
        return u

    w: dict[str, Any] = {
        "buyer": org("Buyer", OrganizationKind.INDIVIDUAL),
        "seller": org("Seller", OrganizationKind.INDIVIDUAL),
        "title": org("Title", OrganizationKind.TITLE_COMPANY),
        "inspection": org("Inspection", OrganizationKind.INSPECTION_FIRM),
        "appraisal": org("Appraisal", OrganizationKind.APPRAISER),
        "lender": org("Lender", OrganizationKind.LENDER),
        "brokerage": org("Brokerage", OrganizationKind.BROKERAGE),
    }
    for kind in ("title", "inspection", "appraisal"):
        AgentProfile.objects.create(organization=w[kind], verification_type=kind, sandbox_delay_seconds=0)
    AgentProfile.objects.create(organization=w["lender"], verification_type="lending", sandbox_delay_seconds=0)
    for i, key in enumerate(["buyer", "seller", "title", "inspection", "appraisal", "lender", "brokerage"]):
        details: Any = {"account_number": f"BENCH{i:04d}"}
        PayeeProfile.objects.create(organization=w[key], bank_details=details)
    w["officer"] = user("officer", w["title"], Role.ESCROW_OFFICER)
    # Wires above ESCROW_MANUAL_DEPOSIT_CONFIRM_ABOVE need a second person of the escrow company.
    w["second_officer"] = user("second-officer", w["title"], Role.ESCROW_OFFICER)
    w["buyer_user"] = user("buyer", w["buyer"], Role.BUYER)
    w["lender_user"] = user("lender", w["lender"], Role.VERIFIER)
    return w


def _token(user: Any) -> str:
    from rest_framework_simplejwt.tokens import RefreshToken

    return f"Bearer {RefreshToken.for_user(user).access_token}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50, help="transactions to drive (the issue asks for 500)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--web-workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per transaction before giving up")
    args = parser.parse_args()
    postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    if postgres != bool(os.environ.get("REDIS_URL")):
        sys.exit("Set both DATABASE_URL (PostgreSQL, migrated) and REDIS_URL, or neither (the embedded default).")
    backend = "PostgreSQL + Redis" if postgres else "embedded default (SQLite, filesystem broker)"
    _setup_django()
    import requests

    tag = uuid.uuid4().hex[:6]
    w = _world(tag)
    officer, buyer = _token(w["officer"]), _token(w["buyer_user"])
    second_officer = _token(w["second_officer"])
    port = _free_port()
    env = {
        **os.environ,
        "LOG_LEVEL": "WARNING",
        "VERIFICATION_SANDBOX_DELAY_SCALE": "0",
        # The clients are the platform's own load generator, not abusers: lift the per-client limits.
        "API_RATE_PER_CLIENT": "1000000/min",
        "API_RATE_PER_IP": "1000000/min",
    }
    logs = ROOT / "var"
    logs.mkdir(exist_ok=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "escrow_project.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log", "--workers", str(args.web_workers)],
        cwd=ROOT, env=env, stdout=(logs / "bench-server.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "escrow_project", "worker", "--loglevel", "WARNING",
         "--concurrency", str(args.worker_concurrency), "--without-gossip", "--without-mingle",
         "-n", f"bench-{tag}@%h"],
        cwd=ROOT, env=env, stdout=(logs / "bench-worker.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip

    def stop_now(*_: Any) -> None:
        # SIGTERM (timeout, kill): the client threads may be polling for minutes, so do not wait for
        # them; stop the server and the worker and leave.
        for process in (server, worker):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        os._exit(143)

    signal.signal(signal.SIGTERM, stop_now)
    base = f"http://127.0.0.1:{port}/api/v1/escrow"
    latencies: list[float] = []
    by_route: dict[str, list[float]] = {}
    lock = threading.Lock()
    failures: list[str] = []

    def call(method: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
        started = time.perf_counter()
        response = requests.request(
            method,
            base + path,
            json=body,
            headers={"Authorization": token, "Idempotency-Key": uuid.uuid4().hex}
            if method == "POST"
            else {"Authorization": token},
            timeout=60,
        )
        elapsed = time.perf_counter() - started
        route = method + " " + "/".join("<id>" if len(part) == 36 else part for part in path.split("/"))
        with lock:
            latencies.append(elapsed)
            by_route.setdefault(route, []).append(elapsed)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    def deposit(txn: str, kind: str, amount: str) -> None:
        body = call("POST", f"/transactions/{txn}/deposits/", officer, {"kind": kind, "amount": amount})
        if "recorded_by" in body:  # 202: the wire waits for the second person's confirmation
            call("POST", f"/transactions/{txn}/manual-deposits/{body['id']}/confirm/", second_officer)

    def drive(index: int) -> None:
        body = {
            "property_address": f"{index} Benchmark Way, Portland, ME",
            "purchase_price": "400000.00",
            "earnest_money": "20000.00",
            "loan_amount": "300000.00",
            "closing_date": "2026-12-15",
            "buyer": str(w["buyer"].public_id),
            "seller": str(w["seller"].public_id),
            "buyer_agent": str(w["brokerage"].public_id),
            "seller_agent": str(w["brokerage"].public_id),
            "lender": str(w["lender"].public_id),
            "escrow_company": str(w["title"].public_id),
            "escrow_officer": str(w["officer"].public_id),
            "buyer_agent_commission_pct": "2.5",
            "seller_agent_commission_pct": "2.5",
            "agents": {k: str(w[k].public_id) for k in ("title", "inspection", "appraisal")}
            | {"lending": str(w["lender"].public_id)},
        }
        txn = call("POST", "/transactions/", officer, body)["id"]
        call("POST", f"/transactions/{txn}/open/", officer)
        deposit(txn, "earnest", "20000.00")
        deadline = time.monotonic() + args.timeout
        while call("GET", f"/transactions/{txn}/", buyer)["status"] != "clear_to_close":
            if time.monotonic() > deadline:
                raise RuntimeError(f"transaction {txn} did not reach clear_to_close")
            time.sleep(0.5)
        deposit(txn, "loan", "300000.00")
        due = call("GET", f"/transactions/{txn}/settlement/", buyer)["statement"]["cash_from_buyer"]
        deposit(txn, "closing_funds", due)
        settled = call("POST", f"/transactions/{txn}/settlement/execute/", officer)
        if settled["status"] != "executed":
            raise RuntimeError(f"transaction {txn}: settlement {settled['status']}")

    def safe(index: int) -> None:
        try:
            drive(index)
        except Exception as exc:  # noqa: BLE001 - a benchmark reports every failure and goes on
            with lock:
                failures.append(str(exc))

    def cpu_seconds(process: subprocess.Popen[bytes]) -> float:
        """CPU time of a process and everything under it: on a shared machine the wall clock depends
        on the neighbours, CPU seconds per transaction much less."""
        try:
            import psutil
        except ImportError:  # not a dependency of the platform; the figure is then left out
            return 0.0
        try:
            root = psutil.Process(process.pid)
            total = 0.0
            for p in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    times = p.cpu_times()
                    total += times.user + times.system
            return total
        except psutil.Error:
            return 0.0

    cpu: dict[str, float] = {}
    try:
        for _ in range(100):
            try:
                requests.get(f"http://127.0.0.1:{port}/health/live", timeout=1)
                break
            except requests.RequestException:  # not up yet, or slow to answer on a busy machine
                time.sleep(0.2)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            list(pool.map(safe, range(args.n)))
        wall = time.perf_counter() - started
        cpu = {"server": cpu_seconds(server), "worker": cpu_seconds(worker)}
    finally:
        for process in (server, worker):
            os.killpg(process.pid, signal.SIGTERM)
        for process in (server, worker):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    from ledger.selectors import invariants_check
    from transactions.models import EscrowTransaction

    settled = EscrowTransaction.objects.filter(
        property_address__endswith="Benchmark Way, Portland, ME", buyer=w["buyer"], status="settled"
    ).count()
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [0.0] * 99
    print(f"backend                : {backend}")
    print(
        f"transactions requested : {args.n} ({args.clients} concurrent clients, "
        f"API server x{args.web_workers}, 1 worker x{args.worker_concurrency})"
    )
    print(f"transactions settled   : {settled}  failures: {len(failures)}")
    print(f"wall time              : {wall:.1f} s")
    print(f"throughput             : {settled / wall * 60:.1f} transactions/minute")
    print(f"API calls              : {len(latencies)}")
    print(f"API latency p50/p95/p99: {cuts[49] * 1000:.0f} / {cuts[94] * 1000:.0f} / {cuts[98] * 1000:.0f} ms")
    print(f"ledger invariants      : {'ok' if invariants_check().ok else 'BROKEN'}")
    if settled and any(cpu.values()):
        per = {name: seconds / settled * 1000 for name, seconds in cpu.items()}
        print(f"CPU per transaction    : server {per['server']:.0f} ms, worker {per['worker']:.0f} ms "
              f"(load average at the end {os.getloadavg()[0]:.1f})")  # fmt: skip
    print("per route (calls, p50 / p99 ms):")
    for route, values in sorted(by_route.items(), key=lambda item: -max(item[1])):
        route_cuts = statistics.quantiles(values, n=100) if len(values) >= 2 else [values[0]] * 99
        print(f"  {route:<48} {len(values):>6}  {route_cuts[49] * 1000:>6.0f} / {route_cuts[98] * 1000:>6.0f}")
    for failure in failures[:5]:
        print("  failure:", failure)


if __name__ == "__main__":
    main()
