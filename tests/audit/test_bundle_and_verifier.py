"""Proof bundles and the standalone verifier: every way of tampering we know of, each refused for its reason."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.db import connection

from audit import canonical, merkle, signing, verify
from audit.models import AnchorStatus
from audit.services import tree_seal
from tests.audit.conftest import anchor_now, bundle_for, eth_tester_rpc, record_events
from tests.conftest import requires_postgres

pytestmark = pytest.mark.django_db
ROOT = Path(settings.BASE_DIR)
Bundle = dict[str, Any]


def run_verifier(tmp_path: Path, bundle: Bundle, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}  # no DJANGO_SETTINGS_MODULE, no DATABASE_URL
    return subprocess.run(
        [sys.executable, "-m", "audit.verify", str(path), *args], capture_output=True, text=True, env=env, cwd=tmp_path
    )


def anchored_case() -> Bundle:
    """c1: seq 1-4 in the anchored tree (size 7), 5-30 in a later head (33) tied to it, 31 not sealed."""
    record_events("other", 3)
    record_events("c1", 4)
    tree_seal()
    assert anchor_now().status == AnchorStatus.CONFIRMED
    record_events("c1", 26)
    tree_seal()
    record_events("c1", 1)
    return bundle_for("c1")


# --- what a tamperer does to a bundle ---------------------------------------------------------------


def event(bundle: Bundle, seq: int) -> dict[str, Any]:
    return next(e for e in bundle["events"] if e["seq"] == seq)


def head(bundle: Bundle, size: int) -> dict[str, Any]:
    return next(h for h in bundle["tree_heads"] if h["tree_size"] == size)


def rechain(bundle: Bundle) -> None:
    """Recompute every event hash and link after an edit, as a tamperer who knows the format would."""
    prev = canonical.ZERO_HASH
    for item in bundle["events"]:
        item["prev_hash"] = prev
        item["event_hash"] = verify.recompute_event_hash(item)
        prev = item["event_hash"]


def strip_proofs(bundle: Bundle, from_seq: int) -> None:
    for item in bundle["events"]:
        if item["seq"] >= from_seq:
            item["proof"] = item["leaf_index"] = None


def declare(bundle: Bundle, **fields: Any) -> None:
    """Edit the coverage (and the unsigned subject summary) without the log key."""
    bundle["coverage"].update(fields)
    bundle["subject"].update({k: v for k, v in fields.items() if k in ("head_hash",)})


def drop_last(bundle: Bundle, n: int, *, declare_it: bool) -> None:
    del bundle["events"][-n:]
    if declare_it:
        last = bundle["events"][-1]
        declare(bundle, last_seq=last["seq"], count=last["seq"], head_hash=last["event_hash"])
        bundle["subject"]["length"] = last["seq"]


def settle_at_one(bundle: Bundle, *, strip_heads: bool = False, declare_head: bool = True) -> None:
    """The issue's rewrite: the settled total becomes 1.00, the chain is recomputed, later proofs are stripped."""
    event(bundle, 2)["payload"]["amount"] = "1.00"
    rechain(bundle)
    strip_proofs(bundle, 1 if strip_heads else 2)
    if declare_head:
        declare(bundle, head_hash=bundle["events"][-1]["event_hash"])
    if strip_heads:
        bundle["tree_heads"], bundle["consistency"] = [], []


def resign(bundle: Bundle, key: Ed25519PrivateKey | None = None) -> None:
    """The log operator (holding the log key, or a key of their own) rebuilds a self-consistent bundle."""
    sign = signing.private_key().sign if key is None else key.sign
    if key is not None:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        bundle["log"]["public_key"] = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    leaves = [bytes.fromhex(e["event_hash"]) for e in bundle["events"]]
    subtree, anchored = merkle.list_subtree(leaves), bundle["coverage"]["anchored_tree_size"]
    sizes = [s for s in (anchored, len(leaves)) if s]
    for h in bundle["tree_heads"]:
        h["tree_size"] = sizes[0] if h["tree_size"] == anchored else sizes[-1]
        h["root_hash"] = merkle.root_of(leaves[: h["tree_size"]]).hex()
        h["signature"] = sign(
            canonical.tree_head_message(**{k: h[k] for k in ("log_id", "tree_size", "root_hash", "timestamp_ms")})
        ).hex()
    bundle["consistency"] = (
        [
            {
                "first": sizes[0],
                "second": sizes[-1],
                "path": [p.hex() for p in merkle.consistency_path(sizes[0], sizes[-1], subtree)],
            }
        ]
        if len(sizes) == 2
        else []
    )
    for i, item in enumerate(bundle["events"]):
        size = sizes[0] if i < sizes[0] else sizes[-1]
        item["leaf_index"] = i
        item["proof"] = {"tree_size": size, "path": [p.hex() for p in merkle.inclusion_path(i, size, subtree)]}
    coverage = bundle["coverage"]
    coverage.update(head_hash=leaves[-1].hex(), tree_size=sizes[-1], sealed_through_seq=len(leaves))
    coverage["signature"] = sign(canonical.coverage_message(coverage)).hex()


def rewrite_and_resign(bundle: Bundle) -> None:
    event(bundle, 2)["payload"]["amount"] = "1.00"
    rechain(bundle)
    resign(bundle)


def rewrite_unanchor_and_resign(bundle: Bundle) -> None:
    for h in bundle["tree_heads"]:
        h["anchor"] = None
    bundle["coverage"]["anchored_tree_size"] = 0
    rewrite_and_resign(bundle)


def insert_foreign_event(bundle: Bundle) -> None:
    foreign = bundle_for("other")["events"][0]
    bundle["events"].insert(1, foreign)


def split_view(bundle: Bundle) -> None:
    """A second head of the latest size, with another root, properly signed: the log showing two histories."""
    other = copy.deepcopy(head(bundle, 33))
    other["root_hash"] = merkle.leaf_hash(b"another history").hex()
    fields = {k: other[k] for k in ("log_id", "tree_size", "root_hash", "timestamp_ms")}
    other["signature"] = signing.sign(canonical.tree_head_message(**fields))
    bundle["tree_heads"].insert(0, other)


def move_anchor_to_latest(bundle: Bundle) -> None:
    head(bundle, 33)["anchor"], head(bundle, 7)["anchor"] = head(bundle, 7)["anchor"], None


def set_field(getter: Callable[[Bundle], dict[str, Any]], **fields: Any) -> Callable[[Bundle], None]:
    return lambda bundle: getter(bundle).update(fields)


def flip(value: str) -> str:
    return ("1" if value[0] != "1" else "2") + value[1:]


@dataclass
class Case:
    tamper: Callable[[Bundle], None]
    reasons: dict[str, int]  # reason -> how many times it is named
    key: str | None = "pinned"  # "pinned": the log's real key; None: no --key; else that hex
    rpc: bool = True
    strict: bool = False
    pins: verify.ChainPins = field(default_factory=verify.ChainPins)


def _noop(bundle: Bundle) -> None:
    pass


CASES: dict[str, Case] = {
    # The rewrites the issue found passing.
    "settled total rewritten, chain recomputed, later proofs stripped, head re-declared": Case(
        settle_at_one, {"coverage_signature_invalid": 1, "inclusion_proof_missing": 29}
    ),
    "same, head not re-declared": Case(
        lambda b: settle_at_one(b, declare_head=False), {"chain_head_mismatch": 1, "inclusion_proof_missing": 29}
    ),
    "same, every proof and tree head stripped too": Case(
        lambda b: settle_at_one(b, strip_heads=True),
        {"coverage_signature_invalid": 1, "inclusion_proof_missing": 30, "tree_head_missing": 2},
    ),
    "last event dropped, length and head re-declared": Case(
        lambda b: drop_last(b, 1, declare_it=True), {"coverage_signature_invalid": 1}
    ),
    "last 28 events dropped, length and head re-declared": Case(
        lambda b: drop_last(b, 28, declare_it=True), {"coverage_signature_invalid": 1}
    ),
    "last event dropped": Case(lambda b: drop_last(b, 1, declare_it=False), {"chain_truncated": 1}),
    "last 28 events dropped": Case(lambda b: drop_last(b, 28, declare_it=False), {"chain_truncated": 1}),
    "anchor removed": Case(set_field(lambda b: head(b, 7), anchor=None), {"anchor_missing": 1}),
    "consistency proof removed": Case(lambda b: b.update(consistency=[]), {"consistency_proof_missing": 1}),
    "anchor chain id changed": Case(
        set_field(lambda b: head(b, 7)["anchor"], chain_id=1), {"anchor_chain_mismatch": 1}
    ),
    "event duplicated": Case(lambda b: b["events"].insert(3, copy.deepcopy(event(b, 3))), {"event_duplicated": 1}),
    "event dropped from the middle (a gap)": Case(lambda b: b["events"].remove(event(b, 3)), {"event_missing": 1}),
    "entries reordered": Case(lambda b: b["events"].insert(1, b["events"].pop(2)), {"events_out_of_order": 1}),
    # The rewrites that were refused already, now each with its reason.
    "payload edited": Case(set_field(lambda b: event(b, 2)["payload"], amount="1.00"), {"event_hash_mismatch": 1}),
    "salt edited": Case(set_field(lambda b: event(b, 2), salt="00" * 16), {"event_hash_mismatch": 1}),
    "prev_hash edited": Case(
        set_field(lambda b: event(b, 3), prev_hash="ab" * 32), {"event_hash_mismatch": 1, "chain_broken": 1}
    ),
    "event of another case inserted": Case(insert_foreign_event, {"event_other_subject": 1, "event_duplicated": 1}),
    "coverage removed": Case(lambda b: b.pop("coverage"), {"coverage_missing": 1}),
    "coverage's sealed range shortened": Case(
        lambda b: declare(b, sealed_through_seq=1), {"coverage_signature_invalid": 1, "coverage_mismatch": 29}
    ),
    "format changed": Case(lambda b: b.update(format="escrow-platform/audit-bundle/v1"), {"format_unsupported": 1}),
    "one sealed event's proof stripped": Case(lambda b: strip_proofs(b, 30), {"inclusion_proof_missing": 1}),
    "inclusion path edited": Case(
        lambda b: event(b, 2)["proof"]["path"].__setitem__(0, flip(event(b, 2)["proof"]["path"][0])),
        {"inclusion_proof_invalid": 1},
    ),
    "leaf index edited": Case(
        lambda b: event(b, 2).update(leaf_index=event(b, 2)["leaf_index"] + 1), {"inclusion_proof_invalid": 1}
    ),
    "consistency path edited": Case(
        lambda b: b["consistency"][0]["path"].__setitem__(0, flip(b["consistency"][0]["path"][0])),
        {"consistency_proof_invalid": 1, "consistency_proof_missing": 1},
    ),
    "root of the anchored head swapped": Case(
        set_field(lambda b: head(b, 7), root_hash=merkle.leaf_hash(b"another history").hex()),
        # Its signature fails: the 4 proofs, the consistency proof and the anchor into it have no root.
        {"tree_head_signature_invalid": 1, "tree_head_missing": 6},
    ),
    "size of the latest head changed": Case(
        set_field(lambda b: head(b, 33), tree_size=34),
        {"tree_head_signature_invalid": 1, "tree_head_missing": 28},
    ),
    "anchor transaction swapped": Case(
        set_field(lambda b: head(b, 7)["anchor"], tx_hash="0x" + "12" * 32), {"anchor_tx_not_found": 1}
    ),
    "anchor block changed": Case(
        lambda b: head(b, 7)["anchor"].update(block_number=head(b, 7)["anchor"]["block_number"] + 1),
        {"anchor_block_mismatch": 1},
    ),
    "anchor names another contract (not pinned)": Case(
        set_field(lambda b: head(b, 7)["anchor"], contract_address="0x" + "00" * 20), {"anchor_event_missing": 1}
    ),
    "anchor moved to another tree head": Case(move_anchor_to_latest, {"anchor_missing": 1, "anchor_size_mismatch": 1}),
    "two signed heads of one size (split view)": Case(split_view, {"tree_head_conflict": 1}),
    "event field removed": Case(lambda b: event(b, 2).pop("salt"), {"event_malformed": 1}),
    "events not a list": Case(lambda b: b.update(events="none"), {"bundle_malformed": 1}),
    "anchor confirmations raised": Case(
        set_field(lambda b: head(b, 7)["anchor"], confirmations_required=1000), {"anchor_unconfirmed": 1}
    ),
    "history rewritten and re-signed with the log key after anchoring": Case(
        rewrite_and_resign, {"anchor_root_mismatch": 1}
    ),
    "same, anchors dropped too, under --strict": Case(
        rewrite_unanchor_and_resign, {"strict_not_anchored": 1}, strict=True
    ),
    "re-signed with another key, that key not pinned, under --strict": Case(
        lambda b: resign(b, Ed25519PrivateKey.generate()),
        {"anchor_root_mismatch": 1, "strict_key_required": 1, "strict_not_anchored": 1},
        key=None,
        strict=True,
    ),
    "re-signed with another key against the pinned key": Case(
        lambda b: resign(b, Ed25519PrivateKey.generate()),
        # No root verifies: 31 proofs, the consistency proof, the coverage's head and the anchor lack one.
        {"key_mismatch": 1, "coverage_signature_invalid": 1, "tree_head_signature_invalid": 2, "tree_head_missing": 34},
    ),
    "subject renamed": Case(
        lambda b: b["subject"].update(id="c2"), {"coverage_mismatch": 1, "event_other_subject": 31}
    ),
    # What the party pins.
    "anchor on another chain than the pinned one": Case(
        _noop, {"anchor_chain_mismatch": 1}, pins=verify.ChainPins(chain_id=1)
    ),
    "anchor names another contract than the pinned one": Case(
        _noop, {"anchor_contract_mismatch": 1}, pins=verify.ChainPins(contract="0x" + "00" * 20)
    ),
    "--strict without --key": Case(_noop, {"strict_key_required": 1}, key=None, strict=True),
    "--strict without --rpc": Case(_noop, {"strict_chain_required": 1}, rpc=False, strict=True),
}


def test_every_tampering_is_refused_for_its_own_reason(in_process_chain: Any) -> None:
    bundle = anchored_case()
    rpc = eth_tester_rpc(in_process_chain)
    genuine = verify.verify_bundle(bundle, rpc=rpc, pinned_key=signing.public_key_hex(), strict=True)
    assert (genuine.level, genuine.failures) == ("anchored", [])

    found, expected = {}, {}
    for name, case in CASES.items():
        tampered = copy.deepcopy(bundle)
        case.tamper(tampered)
        key = signing.public_key_hex() if case.key == "pinned" else case.key
        report = verify.verify_bundle(
            tampered, rpc=rpc if case.rpc else None, pinned_key=key, pins=case.pins, strict=case.strict
        )
        found[name] = dict(Counter(report.reasons))
        expected[name] = case.reasons
    assert found == expected


def test_the_tamper_suite_expects_every_reason_the_verifier_has() -> None:
    expected = {reason for case in CASES.values() for reason in case.reasons}
    # chain_unreachable: the next test. anchor_reverted: the contract refuses at gas estimation, so
    # a reverted anchor transaction cannot be made on the test chain; the check is one comparison.
    assert set(verify.REASONS) - expected == {"chain_unreachable", "anchor_reverted"}


def test_the_documented_reasons_are_the_verifiers() -> None:
    doc = (ROOT / "docs" / "decisions" / "0203-audit-verifier.md").read_text()
    assert {reason for reason in verify.REASONS if f"| `{reason}` |" in doc} == set(verify.REASONS)


def test_a_failing_rpc_node_is_named_and_not_a_pass(in_process_chain: Any) -> None:
    bundle = anchored_case()

    def down(method: str, params: list[Any]) -> Any:
        raise OSError("connection refused")

    assert verify.verify_bundle(bundle, rpc=down, pinned_key=signing.public_key_hex()).reasons == ["chain_unreachable"]


def test_the_pass_says_what_it_proved_and_what_not(tmp_path: Path, in_process_chain: Any) -> None:
    bundle = anchored_case()
    key = signing.public_key_hex()

    bare = run_verifier(tmp_path, bundle)
    assert bare.returncode == 0, bare.stdout + bare.stderr
    assert bare.stdout.splitlines()[-1].startswith("PASS [chain_intact]: test_case:c1: ")
    assert (
        "NOT proven: no key pinned (--key): the signatures were checked against the key inside the bundle"
        in bare.stdout
    )
    assert "NOT proven: event seq 31 not sealed into a tree head yet: only their chain is checked" in bare.stdout
    assert "NOT proven: 2 anchor(s) not checked on chain: pass --rpc URL" not in bare.stdout  # one head is anchored
    assert "NOT proven: 1 anchor(s) not checked on chain: pass --rpc URL to check them" in bare.stdout

    pinned = run_verifier(tmp_path, bundle, "--key", key, "--json")
    assert pinned.returncode == 0
    verdict = json.loads(pinned.stdout)
    assert (verdict["verdict"], verdict["level"], verdict["failures"]) == ("PASS", "signed", [])
    assert verdict["proven"][1] == (
        f"included in signed tree heads by the pinned key {key[:16]}…: events up to seq 30 in tree size 33"
    )

    strict = run_verifier(tmp_path, bundle, "--key", key, "--strict", "--json")
    assert strict.returncode == 1
    assert [f["reason"] for f in json.loads(strict.stdout)["failures"]] == ["strict_chain_required"]

    report = verify.verify_bundle(bundle, rpc=eth_tester_rpc(in_process_chain), pinned_key=key, strict=True)
    assert report.level == "anchored"
    assert report.proven[2].startswith(f"anchored on chain {in_process_chain.chain_id} at block ")


def test_a_tampered_bundle_fails_in_text_and_json(tmp_path: Path) -> None:
    record_events("c1", 5)
    tree_seal()
    bundle = bundle_for("c1")
    drop_last(bundle, 1, declare_it=False)

    text = run_verifier(tmp_path, bundle)
    assert text.returncode == 1
    assert text.stdout.splitlines() == [
        "FAIL [chain_truncated] case chain: the log signed events 1..5; event seq 5 missing at the end",
        "VERDICT: FAIL (1 problem(s)) for test_case:c1",
    ]
    as_json = json.loads(run_verifier(tmp_path, bundle, "--json").stdout)
    assert (as_json["verdict"], as_json["level"]) == ("FAIL", None)
    assert as_json["failures"] == [
        {
            "reason": "chain_truncated",
            "message": "case chain: the log signed events 1..5; event seq 5 missing at the end",
        }
    ]


def test_the_verifier_module_does_not_import_django() -> None:
    code = "import sys, audit.verify; sys.exit(1 if any(m.split('.')[0] == 'django' for m in sys.modules) else 0)"
    result = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(ROOT)}, capture_output=True)
    assert result.returncode == 0, result.stderr


def test_an_unreadable_bundle_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_text("{not json")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "audit.verify", str(path)], capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert result.stdout.startswith("FAIL: cannot read the bundle: ")


# --- tampering in the database (a rogue operator with superuser SQL) -------------------------------------


def tamper_sql(*statements: str) -> None:
    """Switch the append-only guards off, change rows, switch them on again."""
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


def sealed_case(n: int = 5) -> None:
    record_events("other", 3)
    record_events("c1", n)
    tree_seal()


@requires_postgres
def test_a_payload_edited_in_the_database_is_named() -> None:
    sealed_case()
    tamper_sql(
        """UPDATE audit_auditevent SET payload = '{"step": 1, "amount": "999999.0000"}'
           WHERE subject_id = 'c1' AND seq = 2"""
    )
    assert verify.verify_bundle(bundle_for("c1")).reasons == ["event_hash_mismatch"]


@requires_postgres
def test_an_event_deleted_in_the_database_is_named() -> None:
    sealed_case()
    delete_event(3)
    assert verify.verify_bundle(bundle_for("c1")).reasons == ["event_missing"]


@requires_postgres
def test_the_last_event_deleted_in_the_database_is_named() -> None:
    sealed_case()
    delete_event(5)
    assert verify.verify_bundle(bundle_for("c1")).reasons == ["chain_truncated"]


@requires_postgres
def test_a_sealed_event_unsealed_in_the_database_is_named() -> None:
    sealed_case()
    tamper_sql(
        "DELETE FROM audit_leaf WHERE event_id = (SELECT id FROM audit_auditevent WHERE subject_id = 'c1' AND seq = 2)"
    )
    assert verify.verify_bundle(bundle_for("c1")).reasons == ["inclusion_proof_missing"]
