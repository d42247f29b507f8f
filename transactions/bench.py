"""Benchmark: N escrow transactions from creation to settlement through the HTTP API, with the
sandbox agents answering through real Celery workers. Prints wall time, transactions per minute and
API latency percentiles.

    DATABASE_URL=postgres://... REDIS_URL=redis://... python -m transactions.bench --n 50
    python -m transactions.bench --n 50       # the embedded default (SQLite, bundled Redis), migrated

It starts its own ASGI server (uvicorn) and Celery worker as subprocesses on 127.0.0.1 (and, on
the embedded default, the Redis that run_platform bundles), and a pool of client threads that each
drive one transaction at a time, like a partner system would. A client waits for clear to close
the way the API documents: a long-poll (`?wait_for_change=` with the ETag of its last answer);
`--poll-interval 0.5` polls every half second instead, as the benchmark did before the long-poll.
On PostgreSQL every process pools its connections (DB_POOL, as production should) unless
DB_POOL=false is set. The server answers with Server-Timing, so the figures per route include
the time and CPU inside the application, which queueing in front of it on a busy machine does
not change.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
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
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=0.0,
        help="poll the transaction every this many seconds; 0 (default): long-poll with wait_for_change",
    )
    args = parser.parse_args()
    postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    if postgres != bool(os.environ.get("REDIS_URL")):
        sys.exit("Set both DATABASE_URL (PostgreSQL, migrated) and REDIS_URL, or neither (the embedded default).")
    backend = "PostgreSQL + Redis" if postgres else "embedded default (SQLite, bundled Redis)"
    redis: subprocess.Popen[bytes] | None = None
    if postgres:
        os.environ.setdefault("DB_POOL", "true")
    else:
        # What run_platform runs on the embedded default: its bundled Redis as broker and cache.
        from escrow_project.common.management.commands.run_platform import embedded_redis

        spec, url = embedded_redis(ROOT / "var" / "bench")
        redis = subprocess.Popen(spec.argv, cwd=ROOT, stdout=subprocess.DEVNULL, start_new_session=True)
        if spec.ready:
            spec.ready()
        os.environ["REDIS_URL"] = url
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
        "SERVER_TIMING": "true",
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

    children = [server, worker, *([redis] if redis else [])]

    def stop_now(*_: Any) -> None:
        # SIGTERM (timeout, kill): the client threads may be polling for minutes, so do not wait for
        # them; stop the server and the worker and leave.
        for process in children:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        os._exit(143)

    signal.signal(signal.SIGTERM, stop_now)
    base = f"http://127.0.0.1:{port}/api/v1/escrow"
    latencies: list[float] = []
    by_route: dict[str, list[float]] = {}
    # Per route: (application ms, CPU ms) from the server's Server-Timing header.
    inside: dict[str, list[tuple[float, float]]] = {}
    waits: list[float] = []  # long-polls: they wait by design, so they are kept out of the latencies
    lock = threading.Lock()
    failures: list[str] = []
    session = threading.local()  # one keep-alive connection per client thread, as a partner's client

    def call(
        method: str, path: str, token: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> Any:
        if not hasattr(session, "http"):
            session.http = requests.Session()
        all_headers = {"Authorization": token, **(headers or {})}
        if method == "POST":
            all_headers["Idempotency-Key"] = uuid.uuid4().hex
        started = time.perf_counter()
        response = session.http.request(method, base + path, json=body, headers=all_headers, timeout=60)
        elapsed = time.perf_counter() - started
        bare, _, query = path.partition("?")
        route = method + " " + "/".join("<id>" if len(part) == 36 else part for part in bare.split("/"))
        timing = dict(re.findall(r"(\w+);dur=([\d.]+)", response.headers.get("Server-Timing", "")))
        with lock:
            if "wait_for_change" in query:
                waits.append(elapsed)
                route += " (long-poll)"
            else:
                latencies.append(elapsed)
                by_route.setdefault(route, []).append(elapsed)
            if timing:
                inside.setdefault(route, []).append((float(timing["app"]), float(timing["cpu"])))
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response

    def wait_until(txn: str, wanted: str, deadline: float) -> None:
        """Poll every --poll-interval seconds, or long-poll: the ETag of the last answer, and the
        server answers when the transaction changed (or 304 after the wait)."""
        response = call("GET", f"/transactions/{txn}/", buyer)
        while response.json()["status"] != wanted:
            if time.monotonic() > deadline:
                raise RuntimeError(f"transaction {txn} did not reach {wanted}")
            if args.poll_interval or "ETag" not in response.headers:
                time.sleep(args.poll_interval or 0.5)
                response = call("GET", f"/transactions/{txn}/", buyer)
                continue
            etag = response.headers["ETag"]
            while (
                response := call(
                    "GET", f"/transactions/{txn}/?wait_for_change=20", buyer, headers={"If-None-Match": etag}
                )
            ).status_code == 304:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"transaction {txn} did not reach {wanted}")

    def deposit(txn: str, kind: str, amount: str) -> None:
        body = call("POST", f"/transactions/{txn}/deposits/", officer, {"kind": kind, "amount": amount}).json()
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
        txn = call("POST", "/transactions/", officer, body).json()["id"]
        call("POST", f"/transactions/{txn}/open/", officer)
        deposit(txn, "earnest", "20000.00")
        wait_until(txn, "clear_to_close", time.monotonic() + args.timeout)
        deposit(txn, "loan", "300000.00")
        due = call("GET", f"/transactions/{txn}/settlement/", buyer).json()["statement"]["cash_from_buyer"]
        deposit(txn, "closing_funds", due)
        settled = call("POST", f"/transactions/{txn}/settlement/execute/", officer).json()
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
        from escrow_project.celery import app as celery_app

        for _ in range(60):  # the worker's pool is up: its start-up is not the deals' CPU
            if celery_app.control.ping(destination=[f"bench-{tag}@{socket.gethostname()}"], timeout=1):
                break
        at_start = {"server": cpu_seconds(server), "worker": cpu_seconds(worker)}
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            list(pool.map(safe, range(args.n)))
        wall = time.perf_counter() - started
        cpu = {name: cpu_seconds(p) - at_start[name] for name, p in (("server", server), ("worker", worker))}
    finally:
        for process in children:
            os.killpg(process.pid, signal.SIGTERM)
        for process in children:
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
    print(f"backend                : {backend}" + (f", DB_POOL={os.environ['DB_POOL']}" if postgres else ""))
    mode = f"poll every {args.poll_interval} s" if args.poll_interval else "long-poll (wait_for_change=20)"
    print(f"waiting for a state    : {mode}")
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
        print(f"CPU per transaction    : (after start-up) server {per['server']:.0f} ms, worker {per['worker']:.0f} ms "
              f"(load average at the end {os.getloadavg()[0]:.1f})")  # fmt: skip
    if waits:
        per_deal = len(waits) / max(settled, 1)
        print(f"long-polls             : {len(waits)}, {per_deal:.1f} per transaction (not in the latencies)")

    def pct(values: list[float]) -> tuple[float, float]:
        cut = statistics.quantiles(values, n=100) if len(values) >= 2 else [values[0]] * 99
        return cut[49], cut[98]

    print("per route: calls, client p50 / p99 ms | in the server: app p50 / p99 ms, CPU p50 / mean ms")
    for route in sorted({*by_route, *inside}, key=lambda r: -max(by_route.get(r, [0.0]))):
        client = pct(by_route[route]) if route in by_route else (0.0, 0.0)
        app = pct([a for a, _ in inside[route]]) if route in inside else (0.0, 0.0)
        cpus = [c for _, c in inside.get(route, [(0.0, 0.0)])]
        print(
            f"  {route:<60} {len(by_route.get(route, inside.get(route, []))):>5}  {client[0] * 1000:>6.0f} / "
            f"{client[1] * 1000:>6.0f} | {app[0]:>6.0f} / {app[1]:>6.0f}, {pct(cpus)[0]:>5.0f} / "
            f"{statistics.fmean(cpus):>5.0f}"
        )
    for failure in failures[:5]:
        print("  failure:", failure)


if __name__ == "__main__":
    main()
