"""A real HTTP receiver on 127.0.0.1 that records every call (the partner's side, not a mock)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Call:
    headers: dict[str, str]
    body: bytes
    path: str


@dataclass
class Receiver:
    # behaviour(call_number starting at 1) -> (status, seconds to wait before answering)
    behaviour: Callable[[int], tuple[int, float]] = lambda n: (200, 0.0)
    # What it answers with a non-2xx status (a partner's error page may say anything).
    error_body: bytes = b"receiver says no"
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def delivered_ids(self) -> list[str]:
        """What a receiver that dedupes on webhook-id processed: each id once."""
        with self.lock:
            return list(dict.fromkeys(c.headers.get("webhook-id", "") for c in self.calls))

    def wait_for_calls(self, count: int, timeout: float = 20.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.calls) >= count:
                    return list(self.calls)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} call(s), got {len(self.calls)}")

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    # Recorded on arrival: a call the sender gave up on still counts as received.
                    receiver.calls.append(Call({k.lower(): v for k, v in self.headers.items()}, body, self.path))
                    number = len(receiver.calls)
                status, delay = receiver.behaviour(number)
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("content-type", "text/plain")
                    self.end_headers()
                    self.wfile.write(b"ok" if status < 300 else receiver.error_body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender hung up (timed out or was killed)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
