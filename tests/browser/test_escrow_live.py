"""A party's status page follows the transaction live: a state change made elsewhere shows up in the
open page without a reload. Needs the ASGI stack (WebSockets), so the page is served by a real uvicorn
process on the test database, with Redis as the channel layer between it and this test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings
from django.db import connection, connections
from django.test import Client

from tests.conftest import requires_postgres
from tests.transactions.factories import make_escrow, make_world
from transactions import services

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def asgi_server(transactional_db: None) -> Iterator[str]:
    """uvicorn serving escrow_project.asgi on a free port, against the test database."""
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (REDIS_URL): the server and the test share the Channels layer through it")
    db = connection.settings_dict
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "escrow_project.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "escrow_project.asgi:application", "--fd", str(sock.fileno()),
         "--lifespan", "off", "--no-access-log"],
        cwd=ROOT, env=env, pass_fds=[sock.fileno()],
    )  # fmt: skip
    sock.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if requests.get(f"{base}/health/live", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass  # still starting
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("uvicorn did not start")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def _elsewhere(action: Callable[[], object]) -> None:
    """Run a service as another process would: in its own thread (Playwright owns this thread's event
    loop, and the live event is pushed with async_to_sync) and its own database connection."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread below
            failures.append(exc)
        finally:
            connections.close_all()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=60)
    if failures:
        raise failures[0]


@requires_postgres
def test_the_status_page_shows_a_state_change_without_a_reload(asgi_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    world = make_world()
    txn = make_escrow(world)
    client = Client()
    client.force_login(world.buyer_user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": asgi_server}])

    page.goto(f"{asgi_server}/escrow/{txn.public_id}/")
    assert page.locator("#status").inner_text() == "Draft"
    page.wait_for_selector("#live-root[data-live=connected]", timeout=15000)
    page.evaluate("window.__sameDocument = true")  # gone if the page were reloaded

    _elsewhere(lambda: services.escrow_open(transaction_id=txn.pk, actor=world.officer))

    expect(page.locator("#status")).to_have_text("Awaiting earnest money", timeout=15000)
    assert page.evaluate("window.__sameDocument") is True
    assert int(page.locator("#live-root").get_attribute("data-live-refreshes") or 0) >= 1
