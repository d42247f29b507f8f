"""The sandbox insurer's HTTP server: accepts endorsements, answers later with signed callbacks."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import queue
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CALLBACK_CHUNK = 500


@dataclass
class Config:
    api_key: str
    secrets: list[str]
    delay_ms: int = 200
    reject_prefix: str = "REJ"
    claim_prefix: str = "CLM"
    # A submission holding an item of such a member id is refused whole with 422, naming the items.
    invalid_prefix: str = ""
    fail_first: int = 0
    reverse_events: bool = False
    send_activation: bool = True
    callback_base: str = ""
    # Submissions answered at the same time (one thread each): an insurer's callbacks for different
    # submissions overlap, and the platform must take them concurrently.
    concurrency: int = 1


@dataclass
class State:
    submissions: dict[str, tuple[str, int, bytes]] = field(default_factory=dict)
    stats: dict[str, int] = field(
        default_factory=lambda: {
            "submissions": 0,
            "replays": 0,
            "items": 0,
            "callbacks_sent": 0,
            "callback_failures": 0,
            "events_sent": 0,
            "refused_transient": 0,
            "refused_invalid": 0,
        }
    )
    lock: threading.Lock = field(default_factory=threading.Lock)
    work: queue.Queue[tuple[str, list[dict[str, Any]]]] = field(default_factory=queue.Queue)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def decide(item: dict[str, Any], config: Config) -> dict[str, Any]:
    member_id = str(item.get("member_id", ""))
    event = {"tracking_id": item.get("tracking_id"), "reference": f"NW-{secrets.token_hex(5).upper()}"}
    if config.reject_prefix and member_id.startswith(config.reject_prefix):
        return {**event, "type": "endorsement.rejected", "reason": "Member not eligible under the policy terms."}
    claim = bool(config.claim_prefix) and member_id.startswith(config.claim_prefix) and item.get("kind") == "deletion"
    return {**event, "type": "endorsement.confirmed", "claim_reported": claim}


def post_signed(url: str, events: list[dict[str, Any]], config: Config, state: State) -> None:
    body = json.dumps({"events": events}, separators=(",", ":")).encode()
    for attempt in range(6):
        timestamp = str(int(time.time()))
        signature = ",".join(f"v1={sign(s, timestamp, body)}" for s in config.secrets)
        request = urllib.request.Request(  # noqa: S310 - the callback URL is the platform's own
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Insurer-Timestamp": timestamp,
                "X-Insurer-Signature": signature,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                response.read()
            with state.lock:
                state.stats["callbacks_sent"] += 1
                state.stats["events_sent"] += len(events)
            return
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            with state.lock:
                state.stats["callback_failures"] += 1
            print(f"sandbox-insurer: callback attempt {attempt + 1} failed: {exc}", file=sys.stderr, flush=True)
            time.sleep(min(0.2 * 2**attempt, 5))


def responder(config: Config, state: State) -> None:
    """Answers asynchronously: after the delay, confirmations/rejections, then activations."""
    while True:
        callback_url, items = state.work.get()
        if config.callback_base:
            # Keep the path the platform asked for, but reach it where we know it listens.
            path = "/" + callback_url.split("://", 1)[-1].split("/", 1)[-1]
            callback_url = config.callback_base.rstrip("/") + path
        time.sleep(config.delay_ms / 1000)
        decisions = [decide(item, config) for item in items]
        for event in decisions:
            event["event_id"] = f"evt_{secrets.token_hex(8)}"
            event["occurred_at"] = int(time.time())
        follow_ups = [
            {
                "event_id": f"evt_{secrets.token_hex(8)}",
                "type": "endorsement.activated",
                "tracking_id": d["tracking_id"],
                "reference": d["reference"],
                "claim_reported": d.get("claim_reported", False),
                "occurred_at": int(time.time()),
            }
            for d in decisions
            if d["type"] == "endorsement.confirmed"
        ]
        rounds = [decisions, follow_ups] if config.send_activation else [decisions]
        if config.reverse_events:
            rounds = [list(reversed(r)) for r in reversed(rounds)]
        for events in rounds:
            for start in range(0, len(events), CALLBACK_CHUNK):
                post_signed(callback_url, events[start : start + CALLBACK_CHUNK], config, state)


@dataclass(frozen=True)
class Answer:
    """The insurer's answer to one submission, whatever the protocol it came by."""

    status: int  # as HTTP: 202 taken, 503 try again, 422 refused (invalid or key reused)
    body: dict[str, Any]
    replay: bool = False


def submission_take(
    config: Config, state: State, *, key: str, fingerprint: str, items: list[dict[str, Any]], callback_url: str
) -> Answer:
    """Accept, refuse (naming the invalid items) or replay one submission; REST, SOAP and SFTP share it."""
    with state.lock:
        seen = state.submissions.get(key)
        if seen is None and config.fail_first > 0:
            config.fail_first -= 1
            state.stats["refused_transient"] += 1
            return Answer(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "temporarily_unavailable"})
        if seen is not None:
            if seen[0] != fingerprint:
                return Answer(HTTPStatus.UNPROCESSABLE_ENTITY, {"error": "idempotency_key_reused"})
            state.stats["replays"] += 1
            return Answer(seen[1], json.loads(seen[2]), replay=True)
        invalid = [
            {"tracking_id": i.get("tracking_id"), "message": "member_id is not a valid member number"}
            for i in items
            if config.invalid_prefix and str(i.get("member_id", "")).startswith(config.invalid_prefix)
        ]
        if invalid:
            refusal = {"error": "validation_failed", "errors": invalid}
            state.submissions[key] = (fingerprint, HTTPStatus.UNPROCESSABLE_ENTITY, json.dumps(refusal).encode())
            state.stats["refused_invalid"] += 1
            return Answer(HTTPStatus.UNPROCESSABLE_ENTITY, refusal)
        body = {"batch_reference": f"NWB-{secrets.token_hex(6).upper()}", "accepted": len(items)}
        state.submissions[key] = (fingerprint, HTTPStatus.ACCEPTED, json.dumps(body).encode())
        state.stats["submissions"] += 1
        state.stats["items"] += len(items)
    if callback_url:
        state.work.put((callback_url, items))
    return Answer(HTTPStatus.ACCEPTED, body)


def make_handler(config: Config, state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the platform records every exchange on its side

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            self._send(status, json.dumps(payload).encode())

        def do_GET(self) -> None:
            if self.path == "/health":
                self._json(HTTPStatus.OK, {"status": "ok"})
            elif self.path == "/v1/stats":
                with state.lock:
                    self._json(HTTPStatus.OK, dict(state.stats))
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path != "/v1/endorsements/batch":
                self._json(HTTPStatus.NOT_FOUND, {"error": "not_found"})
                return
            if not hmac.compare_digest(self.headers.get("Authorization", ""), f"Bearer {config.api_key}"):
                self._json(HTTPStatus.UNAUTHORIZED, {"error": "unauthorized"})
                return
            key = self.headers.get("Idempotency-Key", "")
            if not key:
                self._json(HTTPStatus.BAD_REQUEST, {"error": "idempotency_key_required"})
                return
            fingerprint = hashlib.sha256(raw).hexdigest()
            try:
                payload = json.loads(raw)
                items = payload["items"]
                callback_url = str(payload["callback_url"])
                if not isinstance(items, list):
                    raise TypeError("items")
            except (ValueError, KeyError, TypeError):
                payload = None
            if payload is None:
                self._json(HTTPStatus.BAD_REQUEST, {"error": "malformed"})
                return
            answer = submission_take(
                config, state, key=key, fingerprint=fingerprint, items=items, callback_url=callback_url
            )
            self._send(answer.status, json.dumps(answer.body).encode())

    return Handler


def build_server(host: str, port: int, config: Config, state: State | None = None) -> ThreadingHTTPServer:
    """The REST endpoint and the responder threads; pass `state` to share it with SOAP and SFTP."""
    state = state or State()
    server = ThreadingHTTPServer((host, port), make_handler(config, state))
    server.daemon_threads = True
    for _ in range(max(1, config.concurrency)):
        threading.Thread(target=responder, args=(config, state), daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Sandbox insurer for endorsement round trips.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8107, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--secret", action="append", required=True, help="signing secret; repeat to sign with several")
    parser.add_argument("--delay-ms", type=int, default=200)
    parser.add_argument("--reject-prefix", default="REJ", help="member ids starting with this are rejected")
    parser.add_argument("--claim-prefix", default="CLM", help="deletions of these member ids report a claim")
    parser.add_argument("--invalid-prefix", default="", help="refuse submissions holding these member ids (422)")
    parser.add_argument("--fail-first", type=int, default=0, help="answer the first N new submissions with 503")
    parser.add_argument("--callback-base", default="", help="send callbacks to this origin instead")
    parser.add_argument("--reverse-events", action="store_true", help="send activations before confirmations")
    parser.add_argument("--concurrency", type=int, default=1, help="submissions answered at the same time")
    parser.add_argument("--soap-port", type=int, default=-1, help="also serve SOAP (WSDL at /?wsdl); 0 picks a port")
    parser.add_argument("--sftp-port", type=int, default=-1, help="also run the SFTP drop box; 0 picks a port")
    parser.add_argument("--sftp-root", default="var/sandbox-insurer", help="the drop box's inbound/ and outbound/")
    parser.add_argument("--sftp-authorized-key", default="", help="file with the platform's OpenSSH public key")
    args = parser.parse_args(argv)
    config = Config(
        api_key=args.api_key,
        secrets=args.secret,
        delay_ms=args.delay_ms,
        reject_prefix=args.reject_prefix,
        claim_prefix=args.claim_prefix,
        invalid_prefix=args.invalid_prefix,
        fail_first=args.fail_first,
        reverse_events=args.reverse_events,
        callback_base=args.callback_base,
        concurrency=args.concurrency,
    )
    state = State()
    server = build_server(args.host, args.port, config, state)
    print(f"sandbox-insurer listening on http://{args.host}:{server.server_address[1]}", flush=True)
    if args.soap_port >= 0:
        from endorsements.sandbox.soap import serve_soap  # spyne only when SOAP is asked for

        soap = serve_soap(args.host, args.soap_port, config, state)
        print(f"sandbox-insurer SOAP WSDL at http://{args.host}:{soap.server_address[1]}/?wsdl", flush=True)
    if args.sftp_port >= 0:
        from pathlib import Path

        from endorsements.sandbox.sftp import SftpOptions, serve_sftp

        options = SftpOptions(root=Path(args.sftp_root), authorized_key=Path(args.sftp_authorized_key).read_text())
        box = serve_sftp(args.host, args.sftp_port, options, config, state)
        print(f"sandbox-insurer SFTP on {args.host}:{box.port} host key {box.host_key}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
