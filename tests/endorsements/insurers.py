"""Helpers for the insurer-rail tests: the sandbox insurer's SOAP and SFTP servers, in this process
(real sockets, real protocol libraries), and a window sent the way the worker sends it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from endorsements.models import Dispatch
from endorsements.sandbox.server import Config, State, responder
from endorsements.services import dispatch


def start_responder(config: Config, state: State) -> None:
    # Daemon thread: it sends the insurer's signed callbacks for accepted submissions.
    threading.Thread(target=responder, args=(config, state), daemon=True).start()


def send_window(**tick: Any) -> Dispatch:
    """Close the window and deliver it, retrying at once where the worker would wait."""
    [dispatch_id] = dispatch.scheduler_tick(force=True, **tick)
    for _ in range(10):
        if dispatch.dispatch_send(dispatch_id=dispatch_id) is None:
            break
    return Dispatch.objects.get(pk=dispatch_id)


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
