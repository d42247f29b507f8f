"""Run the whole platform in the foreground: web (ASGI), Celery worker, Celery beat, and any
helper service an app declares (for instance a sandbox partner). Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from importlib import import_module
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand


def web_server_argv(python: str, host: str, port: int) -> list[str]:
    """uvicorn trusts X-Forwarded-For/-Proto from 127.0.0.1 unless told otherwise: every local
    caller could then pick its own address (and escape per-IP limits). Only TRUSTED_PROXIES may."""
    argv = [python, "-m", "uvicorn", "escrow_project.asgi:application", "--host", host, "--port", str(port)]
    argv += ["--no-access-log", "--lifespan", "off"]
    proxies = [p for p in settings.TRUSTED_PROXIES if p.strip()]
    if proxies:
        return [*argv, "--proxy-headers", "--forwarded-allow-ips", ",".join(proxies)]
    return [*argv, "--no-proxy-headers"]


def _app_processes(port: int) -> list[tuple[str, list[str]]]:
    """Apps may declare extra processes in `<app>.demo.extra_processes(port)`."""
    found: list[tuple[str, list[str]]] = []
    for app_config in apps.get_app_configs():
        try:
            module = import_module(f"{app_config.name}.demo")
        except ModuleNotFoundError:
            continue
        if hasattr(module, "extra_processes"):
            found.extend(module.extra_processes(port))
    return found


class Command(BaseCommand):
    help = "Run web server, Celery worker and scheduler together (the embedded default)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="Only the web server.")
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        python = sys.executable
        processes: list[tuple[str, list[str]]] = [("web", web_server_argv(python, host, port))]
        if not options["no_worker"]:
            processes += [
                (
                    "worker",
                    [
                        python,
                        "-m",
                        "celery",
                        "-A",
                        "escrow_project",
                        "worker",
                        "--loglevel",
                        "INFO",
                        "--concurrency",
                        str(options["concurrency"]),
                        "--hostname",
                        f"worker-{port}@%h",
                    ],
                ),
                ("beat", [python, "-m", "celery", "-A", "escrow_project", "beat", "--loglevel", "INFO"]),
                *_app_processes(port),
            ]
        children: dict[str, subprocess.Popen[bytes]] = {}
        for name, argv in processes:
            children[name] = subprocess.Popen(argv, env=os.environ.copy())  # noqa: S603 - our own argv
            self.stdout.write(f"started {name} (pid {children[name].pid})")

        base = f"http://{host}:{port}"
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
                "Press Ctrl-C to stop.\n"
            )
        )

        stopping = False

        def _stop(signum: int, _frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        exit_code = 0
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    self.stderr.write(f"{name} exited with {child.returncode}; stopping the platform.")
                    exit_code = child.returncode or 1
                    stopping = True
                    break
            time.sleep(0.5)
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 15
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        sys.exit(exit_code)


def _rail_in_use() -> str:
    if settings.PAYMENT_RAIL == "stripe":
        mode = "live" if settings.STRIPE_LIVE_MODE else "test"
        return f"Stripe ({mode} mode, {settings.STRIPE_API_BASE})"
    return f"{settings.PAYMENT_RAIL} (sandbox: no real money moves; set PAYMENT_RAIL=stripe for Stripe)"
