"""The committed AuditAnchor bytecode is what the pinned compiler makes of the committed source."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from eth_utils import keccak

from audit import chain, verify

CONTRACTS = Path(chain.ARTIFACT).parent


def test_recompiling_the_source_gives_the_committed_bytecode() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: scripts/ci-system-deps.d/20-audit-node.sh sets it up (CI runs it)")
    if not (CONTRACTS / "node_modules" / "solc").is_dir():
        pytest.skip("the npm package solc is not installed: run `npm ci` in audit/contracts (CI does)")
    result = subprocess.run([node, "compile.js", "--check"], cwd=CONTRACTS, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "matches a fresh compile (0.8.26+" in result.stdout


def test_the_artifact_pins_the_compiler_settings() -> None:
    art = chain.artifact()
    settings = art["compiler"]["settings"]
    assert art["compiler"]["version"].startswith("0.8.26+")
    assert settings["evmVersion"] == "paris"
    assert settings["metadata"] == {"bytecodeHash": "none", "appendCBOR": False}
    assert art["bytecode"].startswith("0x60")


def test_the_verifier_constants_match_the_abi() -> None:
    abi = chain.artifact()["abi"]
    (event,) = [item for item in abi if item.get("type") == "event"]
    signature = f"{event['name']}({','.join(i['type'] for i in event['inputs'])})"
    assert "0x" + keccak(text=signature).hex() == verify.ANCHORED_TOPIC
    assert "0x" + chain.artifact()["methodIdentifiers"]["rootAt(uint256)"] == verify.ROOT_AT_SELECTOR
