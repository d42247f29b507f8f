"""Proof bundles and the standalone verifier, including the tampering the issue lists."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from audit import canonical, merkle, signing, verify
from audit.models import AnchorStatus
from audit.services import tree_seal
from tests.audit.conftest import anchor_now, bundle_for, eth_tester_rpc, record_events
from tests.conftest import requires_postgres

pytestmark = pytest.mark.django_db
ROOT = Path(settings.BASE_DIR)


def run_verifier(tmp_path: Path, bundle: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}  # no DJANGO_SETTINGS_MODULE, no DATABASE_URL
    return subprocess.run(
        [sys.executable, "-m", "audit.verify", str(path), *args], capture_output=True, text=True, env=env, cwd=tmp_path
    )


def sealed_anchored_case(n: int = 5) -> dict[str, Any]:
    record_events("other", 3)
    record_events("c1", n)
    tree_seal()
    return bundle_for("c1")


def test_a_sealed_and_anchored_case_verifies_offline_in_a_process_without_django(
    tmp_path: Path, in_process_chain: Any
) -> None:
    record_events("other", 3)
    record_events("c1", 4)
    tree_seal()
    assert anchor_now().status == AnchorStatus.CONFIRMED
    record_events("c1", 2)  # sealed later: proves into a newer head tied to the anchored one
    tree_seal()
    record_events("c1", 1)  # not sealed yet: chain-checked only

    bundle = bundle_for("c1")
    assert [e["seq"] for e in bundle["events"]] == [1, 2, 3, 4, 5, 6, 7]
    assert [h["tree_size"] for h in bundle["tree_heads"]] == [7, 9]
    assert bundle["tree_heads"][0]["anchor"]["tx_hash"].startswith("0x")
    assert bundle["consistency"][0]["first"] == 7

    result = run_verifier(tmp_path, bundle)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS: test_case:c1" in result.stdout
    assert "not sealed into a tree head yet" in result.stdout
    assert "pass --rpc URL" in result.stdout

    report = verify.verify_bundle(bundle, rpc=eth_tester_rpc(in_process_chain))
    assert report.ok, report.failures
    assert report.checked["anchors"] == 1


def test_the_verifier_module_does_not_import_django() -> None:
    code = "import sys, audit.verify; sys.exit(1 if any(m.split('.')[0] == 'django' for m in sys.modules) else 0)"
    result = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(ROOT)}, capture_output=True)
    assert result.returncode == 0, result.stderr


def test_swapped_root_is_named(tmp_path: Path) -> None:
    bundle = sealed_anchored_case()
    bundle["tree_heads"][0]["root_hash"] = merkle.leaf_hash(b"another history").hex()

    result = run_verifier(tmp_path, bundle)
    assert result.returncode == 1
    assert "FAIL: tree head of size 8: signature does not verify" in result.stdout
    assert "inclusion proof" in result.stdout or "missing or unverified" in result.stdout


def test_a_bundle_signed_by_another_key_fails_against_the_pinned_key(tmp_path: Path) -> None:
    bundle = sealed_anchored_case()
    result = run_verifier(tmp_path, bundle, "--key", "00" * 32)
    assert result.returncode == 1
    assert "is not the pinned key" in result.stdout
    assert run_verifier(tmp_path, bundle, "--key", signing.public_key_hex()).returncode == 0


def test_an_event_dropped_from_the_bundle_is_named(tmp_path: Path) -> None:
    bundle = sealed_anchored_case()
    del bundle["events"][2]
    result = run_verifier(tmp_path, bundle)
    assert result.returncode == 1
    assert "case chain: event seq 3 missing" in result.stdout
    assert "the log declares 5 events for this case, the bundle holds 4" in result.stdout


def tamper_sql(*statements: str) -> None:
    """What a rogue operator with superuser SQL could do: switch the guards off, change rows."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # flush deferred FK checks so ALTER TABLE may run
        for table in ("audit_auditevent", "audit_leaf"):
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for statement in statements:
            cursor.execute(statement)
        for table in ("audit_auditevent", "audit_leaf"):
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def delete_event(seq: int) -> None:
    event_id = f"(SELECT id FROM audit_auditevent WHERE subject_id = 'c1' AND seq = {seq})"
    tamper_sql(
        f"DELETE FROM audit_leaf WHERE event_id = {event_id}", f"DELETE FROM audit_auditevent WHERE id = {event_id}"
    )


@requires_postgres
def test_a_payload_edited_in_the_database_is_named(tmp_path: Path) -> None:
    sealed_anchored_case()
    tamper_sql(
        """UPDATE audit_auditevent SET payload = '{"step": 1, "amount": "999999.0000"}'
           WHERE subject_id = 'c1' AND seq = 2"""
    )
    result = run_verifier(tmp_path, bundle_for("c1"))
    assert result.returncode == 1
    assert "FAIL: event seq 2 (escrow.step" in result.stdout
    assert "content does not match its hash" in result.stdout


@requires_postgres
def test_an_event_deleted_in_the_database_is_named(tmp_path: Path) -> None:
    sealed_anchored_case()
    delete_event(3)
    result = run_verifier(tmp_path, bundle_for("c1"))
    assert result.returncode == 1
    assert "event seq 3 missing" in result.stdout
    assert "case chain broken at event seq 4" in result.stdout


@requires_postgres
def test_the_last_event_deleted_in_the_database_is_named(tmp_path: Path) -> None:
    sealed_anchored_case()
    delete_event(5)
    result = run_verifier(tmp_path, bundle_for("c1"))
    assert result.returncode == 1
    assert "the log declares 5 events for this case, the bundle holds 4" in result.stdout


def forge(bundle: dict[str, Any], seq: int, payload: dict[str, Any]) -> dict[str, Any]:
    """The operator rewrites one event and re-issues a self-consistent bundle with the log's own key."""
    forged = copy.deepcopy(bundle)
    prev = canonical.ZERO_HASH
    for event in forged["events"]:
        if event["seq"] == seq:
            event["payload"] = payload
        event["prev_hash"] = prev
        event["event_hash"] = verify.recompute_event_hash(event)
        prev = event["event_hash"]
    forged["subject"]["head_hash"] = prev
    leaves = [bytes.fromhex(e["event_hash"]) for e in forged["events"]]
    subtree = merkle.list_subtree(leaves)
    head = forged["tree_heads"][0]
    head["tree_size"] = len(leaves)
    head["root_hash"] = merkle.root_of(leaves).hex()
    head["signature"] = signing.sign(
        canonical.tree_head_message(
            log_id=head["log_id"], tree_size=len(leaves), root_hash=head["root_hash"], timestamp_ms=head["timestamp_ms"]
        )
    )
    for i, event in enumerate(forged["events"]):
        event["leaf_index"] = i
        event["proof"] = {
            "tree_size": len(leaves),
            "path": [p.hex() for p in merkle.inclusion_path(i, len(leaves), subtree)],
        }
    return forged


def test_history_rewritten_after_anchoring_is_caught_by_the_chain(in_process_chain: Any) -> None:
    record_events("c1", 4)
    tree_seal()
    assert anchor_now().status == AnchorStatus.CONFIRMED
    bundle = bundle_for("c1")

    forged = forge(bundle, 2, {"step": 1, "amount": "1.0000"})
    # Hashes, chain, proofs and signature all hold: only the anchor can tell.
    assert verify.verify_bundle(forged).ok
    report = verify.verify_bundle(forged, rpc=eth_tester_rpc(in_process_chain))
    assert not report.ok
    assert any("on-chain root" in f and "differs from the signed tree head's root" in f for f in report.failures)
    assert verify.verify_bundle(bundle, rpc=eth_tester_rpc(in_process_chain)).ok
