"""Stripe peers for tests: a real localstripe process, and Stripe's own example objects replayed.

localstripe is a Stripe-compatible server (customers, PaymentIntents, refunds, signed webhooks) that
runs as a separate local process. It lacks Connect: accounts, transfers, reversals, payouts and
balance transactions. `StripeReplay` answers those through the SDK's own HTTP-client seam, built from
Stripe's published example objects (fixtures3.json; the resources needed are copied unchanged to
`tests/fixtures/stripe_examples.json`): every answer is the example object with only the fields the
request sets (id, amount, currency, destination, group, metadata, times) filled in, so no field is
invented. Everything else is forwarded to localstripe over HTTP.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe

ROOT = Path(__file__).resolve().parent.parent
LOCALSTRIPE = ROOT / "var" / "localstripe-venv" / "bin" / "localstripe"
# Stripe's published example objects (fixtures3.json), the resources the replay needs, copied unchanged.
FIXTURES = ROOT / "tests" / "fixtures" / "stripe_examples.json"
SECRET_KEY = "sk_test_platform"
WEBHOOK_SECRET = "whsec_localstripe_test"


def _fixtures() -> dict[str, Any]:
    return json.loads(FIXTURES.read_text())["resources"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    """A localstripe process for the session (installed by scripts/ci-system-deps.d/40-localstripe.sh)."""
    if not LOCALSTRIPE.is_file():
        if os.environ.get("CI"):
            pytest.fail("localstripe is missing in CI: scripts/ci-system-deps.d/40-localstripe.sh installs it")
        pytest.skip("localstripe is not installed: run scripts/ci-system-deps.d/40-localstripe.sh")
    port = free_port()
    process = subprocess.Popen(
        [str(LOCALSTRIPE), "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/v1/customers", timeout=2).close()
                break
            except urllib.error.HTTPError:
                break  # it answers (401 without a key): it is up
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("localstripe did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def localstripe_webhook(base: str, *, url: str, secret: str = WEBHOOK_SECRET) -> None:
    """Tell localstripe to deliver its signed events to `url` (its own configuration endpoint)."""
    body = json.dumps({"url": url, "secret": secret}).encode()
    request = urllib.request.Request(
        f"{base}/_config/webhooks/{secrets.token_hex(4)}", data=body, headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=5).close()


def _nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`metadata[key]=v`, `created[gte]=1`) back into nested dicts."""
    out: dict[str, Any] = {}
    for name, value in pairs:
        parts = name.replace("]", "").split("[")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


class StripeReplay(stripe.HTTPClient):
    """Connect, transfers, reversals, payouts and balance transactions from Stripe's example objects.

    `lose_answers` makes the next N transfer creations happen at "Stripe" while the answer is lost
    (a timeout), as a flaky network does; `forget_keys()` prunes idempotency keys as Stripe does
    after 24 hours. `created` counts the transfers that really exist.
    """

    name = "replay"
    _OWN = ("/v1/transfers", "/v1/accounts", "/v1/balance_transactions", "/v1/payouts")

    def __init__(self, *, forward_to: str | None = None) -> None:
        super().__init__()
        self.examples = _fixtures()
        self.forward = stripe.RequestsClient(timeout=10) if forward_to else None
        self.transfers: dict[str, dict[str, Any]] = {}
        self.accounts: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.balance: list[dict[str, Any]] = []
        self.keys: dict[str, tuple[str, int]] = {}
        self.lose_answers = 0
        self.calls: list[tuple[str, str]] = []

    # --- the test's levers -------------------------------------------------------------------

    def account_open(self, *, payouts_enabled: bool = True) -> str:
        account = copy.deepcopy(self.examples["account"])
        account.update(id=f"acct_{secrets.token_hex(8)}", payouts_enabled=payouts_enabled, type="express")
        self.accounts[account["id"]] = account
        return account["id"]

    def charge_settled(self, *, amount: int, currency: str, payment_intent: str, created: int | None = None) -> str:
        """A card payment settling into the platform balance (localstripe keeps no balance)."""
        charge = copy.deepcopy(self.examples["charge"])
        charge.update(id=f"ch_{secrets.token_hex(8)}", amount=amount, amount_captured=amount, currency=currency,
                      payment_intent=payment_intent, created=created or int(time.time()))  # fmt: skip
        self.charges[charge["id"]] = charge
        return self._balance_line("charge", amount, currency, charge["id"], created)

    def forget_keys(self) -> None:
        self.keys.clear()

    # --- the SDK's HTTP seam ------------------------------------------------------------------

    def request(self, method: str, url: str, headers: Any, post_data: Any = None, *, _usage: Any = None) -> Any:
        parts = urlsplit(url)
        path = parts.path
        self.calls.append((method.upper(), path))
        if not path.startswith(self._OWN):
            if self.forward is None:
                raise AssertionError(f"no localstripe to forward {method} {path} to")
            return self.forward.request(method, url, headers, post_data)
        form = post_data.decode() if isinstance(post_data, bytes) else (post_data or "")
        params = _nested(parse_qsl(form or parts.query, keep_blank_values=True))
        key = (headers or {}).get("Idempotency-Key", "")
        if method.upper() == "POST" and key and key in self.keys:
            body, status = self.keys[key]  # Stripe answers a repeated key with the first answer
        else:
            status, answer = self._answer(method.upper(), path, params)
            body = json.dumps(answer)
            if method.upper() == "POST" and key:
                self.keys[key] = (body, status)
        if path == "/v1/transfers" and method.upper() == "POST" and self.lose_answers > 0:
            self.lose_answers -= 1
            raise stripe.APIConnectionError(
                "Request timed out (the transfer was made; the answer was lost)", should_retry=True
            )
        return body, status, {"Request-Id": f"req_{secrets.token_hex(6)}"}

    def request_stream(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - never streamed
        raise NotImplementedError

    def close(self) -> None:
        if self.forward is not None:
            self.forward.close()

    # --- the resources ------------------------------------------------------------------------

    def _answer(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        segments = path.strip("/").split("/")[1:]
        if segments[0] == "transfers":
            if len(segments) == 1:
                return (200, self._transfer_create(params)) if method == "POST" else (200, self._list_transfers(params))
            transfer = self.transfers.get(segments[1])
            if transfer is None:
                return self._missing("transfer", segments[1])
            if len(segments) == 3 and segments[2] == "reversals" and method == "POST":
                return self._reverse(transfer, params)
            return 200, transfer
        if segments[0] == "accounts" and len(segments) == 2:
            account = self.accounts.get(segments[1])
            return (200, account) if account else self._missing("account", segments[1])
        if segments[0] == "balance_transactions":
            rows = self._in_period(self.balance, params.get("created", {}))
            if "data.source" in (params.get("expand") or {}).values():
                rows = [{**row, "source": self._source(row["source"])} for row in rows]
            return 200, self._list(rows, params, "/v1/balance_transactions")
        if segments[0] == "payouts":
            return 200, self._list([], params, "/v1/payouts")
        return self._missing("resource", path)

    def _source(self, name: str) -> Any:
        if name in self.charges:
            return self.charges[name]
        if name in self.transfers:
            return self.transfers[name]
        for transfer in self.transfers.values():
            for reversal in transfer["reversals"]["data"]:
                if reversal["id"] == name:
                    return reversal
        return name

    def _transfer_create(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("destination") not in self.accounts:
            raise AssertionError(f"transfer to an account Stripe does not know: {params.get('destination')}")
        transfer = copy.deepcopy(self.examples["transfer"])
        transfer.update(
            id=f"tr_{secrets.token_hex(8)}",
            amount=int(params["amount"]),
            currency=params["currency"],
            destination=params["destination"],
            transfer_group=params.get("transfer_group"),
            metadata=params.get("metadata", {}),
            created=int(time.time()),
        )
        transfer["reversals"]["url"] = f"/v1/transfers/{transfer['id']}/reversals"
        transfer["balance_transaction"] = self._balance_line(
            "transfer", -transfer["amount"], transfer["currency"], transfer["id"]
        )
        self.transfers[transfer["id"]] = transfer
        return transfer

    def _reverse(self, transfer: dict[str, Any], params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        amount = int(params.get("amount", transfer["amount"] - transfer["amount_reversed"]))
        if amount > transfer["amount"] - transfer["amount_reversed"]:
            return 400, {"error": {"type": "invalid_request_error", "message": "Reversal exceeds the transfer."}}
        reversal = copy.deepcopy(self.examples["transfer_reversal"])
        reversal.update(
            id=f"trr_{secrets.token_hex(8)}", amount=amount, currency=transfer["currency"], transfer=transfer["id"]
        )
        reversal["balance_transaction"] = self._balance_line(
            "transfer_refund", amount, transfer["currency"], reversal["id"]
        )
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        transfer["reversals"]["data"].append(reversal)
        return 200, reversal

    def _balance_line(self, kind: str, amount: int, currency: str, source: str, created: int | None = None) -> str:
        line = copy.deepcopy(self.examples["balance_transaction"])
        when = created if created is not None else int(time.time())
        line.update(
            id=f"txn_{secrets.token_hex(8)}",
            type=kind,
            reporting_category=kind,
            amount=amount,
            net=amount,
            fee=0,
            currency=currency,
            source=source,
            created=when,
            available_on=when,
            description=None,
        )
        self.balance.append(line)
        return str(line["id"])

    def _list_transfers(self, params: dict[str, Any]) -> dict[str, Any]:
        rows = list(self.transfers.values())
        if "transfer_group" in params:
            rows = [t for t in rows if t["transfer_group"] == params["transfer_group"]]
        return self._list(rows, params, "/v1/transfers")

    @staticmethod
    def _in_period(rows: list[dict[str, Any]], created: dict[str, Any]) -> list[dict[str, Any]]:
        low, high = int(created.get("gte", 0)), int(created.get("lt", 2**62))
        return [row for row in rows if low <= row["created"] < high]

    @staticmethod
    def _list(rows: list[dict[str, Any]], params: dict[str, Any], url: str) -> dict[str, Any]:
        ordered = sorted(rows, key=lambda row: (row["created"], row["id"]), reverse=True)  # Stripe: newest first
        if "starting_after" in params:
            ids = [row["id"] for row in ordered]
            ordered = ordered[ids.index(params["starting_after"]) + 1 :]
        limit = int(params.get("limit", 10))
        return {"object": "list", "data": ordered[:limit], "has_more": len(ordered) > limit, "url": url}

    @staticmethod
    def _missing(kind: str, name: str) -> tuple[int, dict[str, Any]]:
        error = {"type": "invalid_request_error", "code": "resource_missing", "message": f"No such {kind}: {name}"}
        return 404, {"error": error}


def stripe_rail_for(replay: StripeReplay, *, base: str) -> Any:
    """The platform's own StripeRail on the real SDK, its HTTP going through `replay`."""
    from ledger.rails.stripe import CircuitBreaker, StripeRail

    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": base}, max_network_retries=2, http_client=replay)
    return StripeRail(client=client, breaker=CircuitBreaker(failures=50, window=60))


@pytest.fixture
def stripe_platform(settings: Any, localstripe_url: str) -> Iterator[StripeReplay]:
    """The platform on the Stripe rail: PaymentIntents at localstripe, Connect replayed."""
    from django.conf import settings as django_settings

    from escrow_project.celery import app as celery_app
    from ledger.rails import rail_register
    from ledger.rails.stripe import StripeRail

    peer = StripeReplay(forward_to=localstripe_url)
    rail_register(stripe_rail_for(peer, base=localstripe_url))
    settings.PAYMENT_RAIL = "stripe"
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_WEBHOOK_SECRETS = ["whsec_rotated_in", WEBHOOK_SECRET]  # rotation: either verifies
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True  # on-commit tasks run here, as a worker would run them
    yield peer
    celery_app.conf.task_always_eager = eager
    rail_register(StripeRail())
    if django_settings.REDIS_URL:
        celery_app.control.purge()  # nothing this test queued may reach a later test's real worker


def stripe_signed(body: dict[str, Any], *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> tuple[bytes, str]:
    """An event body and its `Stripe-Signature` header, signed as Stripe signs (HMAC-SHA256 of `t.payload`)."""
    payload = json.dumps(body).encode()
    stamp = at if at is not None else int(time.time())
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return payload, f"t={stamp},v1={mac}"


def pay_at_stripe(base: str, intent_id: str, *, balance: StripeReplay | None = None) -> None:
    """What Stripe.js does with the client secret: attach the payer's card and confirm. With
    `balance`, the charge also settles into the replayed platform balance (localstripe keeps none)."""
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": base})
    card = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031, "cvc": "123"}}
    )
    client.v1.payment_intents.update(intent_id, params={"payment_method": card.id})
    intent = client.v1.payment_intents.confirm(intent_id)
    assert intent.status == "succeeded"
    if balance is not None:
        balance.charge_settled(amount=intent.amount, currency=intent.currency, payment_intent=intent.id)
