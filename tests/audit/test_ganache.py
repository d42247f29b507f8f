"""Anchoring and verification against a real JSON-RPC node (ganache from npm) on 127.0.0.1."""

from __future__ import annotations

import copy
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from audit import breaker, chain, signing
from audit.models import AnchorStatus
from audit.services import anchor_confirm, tree_seal
from tests.audit.conftest import anchor_now, bundle_for, record_events
from tests.audit.test_bundle_and_verifier import rewrite_and_resign, run_verifier

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

GANACHE = Path(chain.ARTIFACT).parent / "node_modules" / "ganache" / "dist" / "node" / "cli.js"
KEY = "0x" + "5a" * 32


def _rpc(url: str, method: str, params: list[Any]) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())["result"]


@pytest.fixture
def ganache_url() -> Iterator[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed, so no real JSON-RPC node (ganache) can run here")
    if not GANACHE.is_file():
        pytest.skip("ganache is not installed: run `npm ci` in audit/contracts (scripts/ci-system-deps.d does)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [node, str(GANACHE), "--server.host", "127.0.0.1", "--server.port", str(port), "--logging.quiet",
         "--chain.chainId", "1337", "--wallet.accounts", f"{KEY},1000000000000000000000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _rpc(url, "eth_chainId", [])
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("ganache did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_anchoring_and_verification_against_a_real_node(ganache_url: str, settings: Any, tmp_path: Path) -> None:
    from eth_account import Account
    from web3 import HTTPProvider, Web3

    address = chain.deploy_contract(Web3(HTTPProvider(ganache_url)), Account.from_key(KEY))
    settings.CHAIN_RPC_URL = ganache_url
    settings.AUDIT_CHAIN_PRIVATE_KEY = KEY
    settings.AUDIT_ANCHOR_CONTRACT_ADDRESS = address
    settings.AUDIT_CHAIN_CONFIRMATIONS = 2
    chain.reset_client()
    breaker.record_success()
    try:
        record_events("c1", 4)
        tree_seal()
        # Ganache mines the anchor at once: one confirmation, and two are required.
        anchor = anchor_now()
        assert anchor.status == AnchorStatus.SENT
        _rpc(ganache_url, "evm_mine", [])
        anchor = anchor_confirm(anchor_id=anchor.pk)
        assert anchor.status == AnchorStatus.CONFIRMED
        assert (anchor.chain_id, anchor.contract_address) == (1337, address)

        bundle = bundle_for("c1")
        key = signing.public_key_hex()
        result = run_verifier(tmp_path, bundle, "--rpc", ganache_url, "--key", key, "--strict", "--chain-id", "1337")
        assert result.returncode == 0, result.stdout
        assert "1 anchors" in result.stdout
        assert result.stdout.splitlines()[-1].startswith("PASS [anchored]: ")

        forged = copy.deepcopy(bundle)
        rewrite_and_resign(forged)
        assert run_verifier(tmp_path, forged, "--key", key).returncode == 0  # self-consistent without the chain
        result = run_verifier(tmp_path, forged, "--rpc", ganache_url, "--key", key)
        assert result.returncode == 1
        assert "FAIL [anchor_root_mismatch]" in result.stdout
    finally:
        chain.reset_client()
