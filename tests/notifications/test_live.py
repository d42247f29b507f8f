"""Live events reach WebSocket clients through the real ASGI stack."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import Client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from escrow_project.asgi import application
from identity.models import Role
from notifications.access import register_subject_access, unregister_subject_access
from notifications.services import live_event_publish, notification_enqueue
from notifications.types import Recipient
from tests.conftest import requires_postgres
from tests.factories import member, operator

ROOT = Path(__file__).resolve().parents[2]


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def _communicator(path: str, cookie: str | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


@pytest.mark.django_db(transaction=True)
def test_subject_access_registry_decides_who_may_watch_and_the_watcher_gets_the_event():
    buyer, stranger = member(Role.BUYER), member(Role.BUYER)
    # A subject type of the test's own, so a real app's registration is never replaced or removed.
    register_subject_access("nt_probe", lambda user, subject_id: user.pk == buyer.pk and subject_id == "tx-1")
    buyer_cookie, stranger_cookie = _session_cookie(buyer), _session_cookie(stranger)

    async def scenario() -> tuple[bool, bool, bool, dict]:
        anonymous = _communicator("/ws/subjects/nt_probe/tx-1/", None)
        anonymous_ok, _ = await anonymous.connect()
        denied = _communicator("/ws/subjects/nt_probe/tx-1/", stranger_cookie)
        denied_ok, _ = await denied.connect()
        watcher = _communicator("/ws/subjects/nt_probe/tx-1/", buyer_cookie)
        watcher_ok, _ = await watcher.connect()
        await sync_to_async(live_event_publish)(
            subject_type="nt_probe", subject_id="tx-1", event={"type": "status_changed", "status": "funded"}
        )
        event = await watcher.receive_json_from(timeout=20)
        await watcher.disconnect()
        return anonymous_ok, denied_ok, watcher_ok, event

    try:
        anonymous_ok, denied_ok, watcher_ok, event = async_to_sync(scenario)()
    finally:
        unregister_subject_access("nt_probe")
    assert (anonymous_ok, denied_ok, watcher_ok) == (False, False, True)
    assert event == {"type": "status_changed", "status": "funded", "subject_type": "nt_probe", "subject_id": "tx-1"}


@pytest.mark.django_db(transaction=True)
def test_unregistered_subject_types_are_for_operators_only():
    ops, buyer = operator(), member(Role.BUYER)
    ops_cookie, buyer_cookie = _session_cookie(ops), _session_cookie(buyer)

    async def scenario() -> tuple[bool, bool]:
        as_operator = _communicator("/ws/subjects/nt_unregistered/42/", ops_cookie)
        operator_ok, _ = await as_operator.connect()
        await as_operator.disconnect()
        as_buyer = _communicator("/ws/subjects/nt_unregistered/42/", buyer_cookie)
        buyer_ok, _ = await as_buyer.connect()
        return operator_ok, buyer_ok

    assert async_to_sync(scenario)() == (True, False)


@pytest.mark.django_db(transaction=True)
def test_an_event_published_in_a_rolled_back_transaction_never_reaches_the_page():
    from django.db import transaction

    ops_cookie = _session_cookie(operator())

    async def scenario() -> bool:
        watcher = _communicator("/ws/subjects/nt_probe/tx-2/", ops_cookie)
        await watcher.connect()

        def publish_then_fail() -> None:
            try:
                with transaction.atomic():
                    live_event_publish(subject_type="nt_probe", subject_id="tx-2", event={"type": "ghost"})
                    raise RuntimeError("the service failed after publishing")
            except RuntimeError:
                pass
            live_event_publish(subject_type="nt_probe", subject_id="tx-2", event={"type": "real"})

        await sync_to_async(publish_then_fail)()
        first = await watcher.receive_json_from(timeout=20)
        nothing_more = await watcher.receive_nothing(timeout=0.2)
        await watcher.disconnect()
        return first["type"] == "real" and nothing_more

    assert async_to_sync(scenario)() is True


# --- a real uvicorn process and a real WebSocket client -------------------------------------


@pytest.fixture
def uvicorn_server():
    """uvicorn serving escrow_project.asgi on a free port, sharing the test database and Redis."""
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (REDIS_URL): the server process and the test share the Channels layer through it")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "escrow_project.settings.test",
        "DATABASE_URL": _database_url(),
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "escrow_project.asgi:application", "--fd", str(sock.fileno()),
         "--lifespan", "off", "--no-access-log"],
        cwd=ROOT, env=env, pass_fds=[sock.fileno()],
    )  # fmt: skip
    sock.close()
    base = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"http://{base}/health/live", timeout=5).status_code == 200:
                break
        except requests.RequestException:
            pass  # still starting (the machine may be busy)
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail("uvicorn did not start")
        time.sleep(0.2)
    yield base
    process.terminate()
    try:
        process.wait(timeout=30)  # a busy machine: consumers finish their last 5 s channel-layer read
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@requires_postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_websocket_client_through_uvicorn_receives_subject_events_and_own_notifications(uvicorn_server):
    ops = operator()
    buyer = member(Role.BUYER)

    def headers(user, origin=f"http://{uvicorn_server}"):
        return {"Origin": origin, "Cookie": _session_cookie(user)}

    subject_url = f"ws://{uvicorn_server}/ws/subjects/nt_probe/tx-9/"
    feed_url = f"ws://{uvicorn_server}/ws/notifications/"

    with pytest.raises(InvalidStatus) as denied:
        connect(subject_url, additional_headers=headers(buyer))
    assert denied.value.response.status_code == 403

    with pytest.raises(InvalidStatus):
        # A page on another site cannot open one with the user's cookie.
        connect(feed_url, additional_headers=headers(buyer, origin="https://evil.example"))

    with (
        connect(subject_url, additional_headers=headers(ops)) as watcher,
        connect(feed_url, additional_headers=headers(buyer)) as feed,
    ):
        # No wait needed: both consumers await group_add BEFORE accept(), so once connect() has
        # returned (the handshake is complete) the membership exists, however loaded the machine.
        live_event_publish(subject_type="nt_probe", subject_id="tx-9", event={"type": "milestone_paid", "milestone": 2})
        assert json.loads(watcher.recv(timeout=20)) == {
            "type": "milestone_paid",
            "milestone": 2,
            "subject_type": "nt_probe",
            "subject_id": "tx-9",
        }

        from notifications.services import notification_deliver

        (row,) = notification_enqueue(
            kind="settlement_completed",
            recipient=Recipient.user(buyer.pk),
            context={"reference": "ESC-9"},
            channels=["live"],
        )
        notification_deliver(notification_id=row.pk)
        event = json.loads(feed.recv(timeout=20))
        assert event["kind"] == "settlement_completed"
        assert event["id"] == str(row.public_id)
        assert event["subject"] == "Escrow ESC-9 settled"
