"""The sandbox insurer's SFTP drop box (asyncssh server, public-key authentication only).

Layout under its root: `inbound/` where the platform uploads 834 files, `outbound/` where the
insurer leaves, for each 834 it took, a 999 (written by pyx12's validator, as a real clearing
house would) and a result file naming each member's outcome. Files whose name starts with a dot or
ends in `.part` are uploads in progress: the insurer never reads them. A file whose BGN02 reference
was already processed is a duplicate and produces nothing new.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

from endorsements import x12
from endorsements.sandbox.server import Config, State, decide

RESULT_HEADER = ["reference", "tracking_id", "member_id", "status", "reason_code", "reason", "insurer_reference"]


@dataclass
class SftpOptions:
    root: Path
    authorized_key: str  # the platform's public key, OpenSSH format
    username: str = "platform"
    # Abort the connection after this many bytes of the first upload: a drop mid-transfer.
    drop_first_upload_after: int = 0
    poll_seconds: float = 0.1
    dropped: int = 0
    seen_files: set[str] = field(default_factory=set)
    references: dict[str, str] = field(default_factory=dict)  # BGN02 reference -> first file name


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(text)
    os.replace(tmp, path)


def validate_834(text: str) -> tuple[bool, str]:
    """pyx12's verdict on an 834 and the 999 it writes for it."""
    import pyx12.params
    import pyx12.x12n_document

    ack = io.StringIO()
    ok = pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text), ack, None)
    return bool(ok), ack.getvalue()


def _items_of(text: str) -> tuple[str, list[dict[str, str]]]:
    """BGN02 and, per member line, what `decide` looks at (tracking id from REF*ZZ, member id)."""
    reference = ""
    items: list[dict[str, str]] = []
    for seg in x12.segments(text):
        el = seg + [""] * 10
        if seg[0] == "BGN":
            reference = el[2]
        elif seg[0] == "INS":
            kind = x12.KIND_OF_MAINTENANCE.get(el[3], "audit")
            items.append({"tracking_id": "", "member_id": "", "kind": kind})
        elif seg[0] == "REF" and items and el[1] == "ZZ":
            items[-1]["tracking_id"] = el[2]
        elif seg[0] == "REF" and items and el[1] in ("0F", "17"):
            items[-1]["member_id"] = el[2]  # 17 (the dependant's own id) follows 0F
    return reference, items


def process_inbound(options: SftpOptions, config: Config, state: State) -> None:
    """Answer every complete 834 in inbound/ once: a 999, then (if accepted) a result file."""
    inbound, outbound = options.root / "inbound", options.root / "outbound"
    for path in sorted(inbound.iterdir()):
        if x12.in_progress(path.name) or path.name in options.seen_files or not path.is_file():
            continue
        options.seen_files.add(path.name)
        text = path.read_text()
        try:
            reference, items = _items_of(text)
        except x12.X12Error:
            reference, items = "", []
        with state.lock:
            if reference and reference in options.references:
                state.stats["replays"] += 1
                continue
            if reference:
                options.references[reference] = path.name
            state.stats["submissions"] += 1
            state.stats["items"] += len(items)
        ok, ack = validate_834(text)
        _write_atomic(outbound / f"{path.stem}.999", ack)
        if not ok or not items:
            continue
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(RESULT_HEADER)
        for item in items:
            decision = decide(item, config)
            rejected = decision["type"] == "endorsement.rejected"
            writer.writerow(
                [
                    reference,
                    item["tracking_id"],
                    item["member_id"],
                    "rejected" if rejected else "accepted",
                    "E01" if rejected else "",
                    decision.get("reason", ""),
                    decision["reference"],
                ]
            )
        _write_atomic(outbound / f"{path.stem}.result.csv", out.getvalue())


class _DropBox(asyncssh.SFTPServer):
    options: SftpOptions

    def __init__(self, chan: Any) -> None:
        super().__init__(chan, chroot=str(self.options.root).encode())
        self._written = 0

    def write(self, file_obj: object, offset: int, data: bytes) -> Any:
        limit = self.options.drop_first_upload_after
        if limit and not self.options.dropped:
            self._written += len(data)
            if self._written >= limit:
                self.options.dropped += 1
                # Part of the data reached the disk, then the line went dead: no reply, no close.
                super().write(file_obj, offset, data[: max(0, len(data) - (self._written - limit))])
                self._chan.get_connection().abort()
                return 0
        return super().write(file_obj, offset, data)


@dataclass
class DropBoxServer:
    port: int
    host_key: str  # OpenSSH public key: what the platform pins
    stop: Any


def serve_sftp(host: str, port: int, options: SftpOptions, config: Config, state: State) -> DropBoxServer:
    """Start the drop box and the insurer's file processor in background threads."""
    (options.root / "inbound").mkdir(parents=True, exist_ok=True)
    (options.root / "outbound").mkdir(parents=True, exist_ok=True)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    authorized = asyncssh.import_authorized_keys(options.authorized_key)
    box = type("DropBox", (_DropBox,), {"options": options})
    loop = asyncio.new_event_loop()
    ready: dict[str, Any] = {}
    started = threading.Event()

    async def start() -> None:
        server = await asyncssh.listen(
            host,
            port,
            server_host_keys=[host_key],
            authorized_client_keys=authorized,
            sftp_factory=box,
            allow_scp=False,
            password_auth=False,
            kbdint_auth=False,
        )
        ready["server"] = server
        ready["port"] = server.sockets[0].getsockname()[1]
        started.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    stopping = threading.Event()

    def processor() -> None:
        while not stopping.is_set():
            # A file that vanished between listing and reading: the next pass sees the truth.
            with contextlib.suppress(OSError):
                process_inbound(options, config, state)
            time.sleep(options.poll_seconds)

    threading.Thread(target=run, daemon=True).start()
    if not started.wait(10):
        raise RuntimeError("the sandbox SFTP server did not start")
    threading.Thread(target=processor, daemon=True).start()

    def stop() -> None:
        stopping.set()

        def close() -> None:
            ready["server"].close()
            loop.stop()

        loop.call_soon_threadsafe(close)

    return DropBoxServer(port=int(ready["port"]), host_key=host_key.export_public_key().decode().strip(), stop=stop)
