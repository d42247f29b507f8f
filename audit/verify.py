"""Standalone verifier of an audit proof bundle: `python -m audit.verify bundle.json [--rpc URL]`.

Needs only the bundle (and, with --rpc, any Ethereum JSON-RPC endpoint). It imports neither
Django nor the database: a party can copy this module, audit/merkle.py and audit/canonical.py
and run them anywhere with Python 3.11 and `cryptography`.

Checks: every event's hash against its content; the per-case chain (order, links, nothing
missing, the head the log declared); every inclusion proof against its signed tree head; every
tree head signature; consistency between tree heads; and with --rpc each anchor transaction.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from audit import canonical, merkle

BUNDLE_FORMAT = "escrow-platform/audit-bundle/v1"
# keccak256("Anchored(uint256,bytes32,uint256)") and the selector of rootAt(uint256); the
# contract tests recompute both from the compiled ABI.
ANCHORED_TOPIC = "0x770041f1a960bfc5b73fb4938dd18b041e2e22692a6230c82927bf60734173ed"
ROOT_AT_SELECTOR = "0xca2869a0"


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def count(self, what: str) -> None:
        self.checked[what] = self.checked.get(what, 0) + 1


def _hex32(value: Any) -> bytes | None:
    try:
        raw = bytes.fromhex(str(value).removeprefix("0x"))
    except ValueError:
        return None
    return raw if len(raw) == 32 else None


def _verify_signature(public_key_hex: str, signature_hex: str, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex)).verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def event_label(event: dict[str, Any]) -> str:
    return f"event seq {event.get('seq')} ({event.get('kind')}, hash {str(event.get('event_hash'))[:16]}…)"


def recompute_event_hash(event: dict[str, Any]) -> str:
    record = canonical.event_record(
        kind=event["kind"],
        subject_type=event["subject_type"],
        subject_id=event["subject_id"],
        seq=event["seq"],
        prev_hash=event["prev_hash"],
        actor=event["actor"],
        occurred_at=event["occurred_at"],
        request_id=event["request_id"],
        payload=event["payload"],
        salt=event["salt"],
    )
    return canonical.event_hash(record)


def check_events(bundle: dict[str, Any], report: Report, *, complete_chain: bool) -> None:
    subject = bundle.get("subject") or {}
    events = sorted(bundle.get("events") or [], key=lambda e: int(e.get("seq") or 0))
    for event in events:
        report.count("events")
        try:
            actual = recompute_event_hash(event)
        except (KeyError, TypeError, ValueError) as exc:
            report.fail(f"{event_label(event)}: record is malformed ({exc})")
            continue
        if actual != event.get("event_hash"):
            report.fail(
                f"{event_label(event)}: content does not match its hash (recomputed {actual[:16]}…); "
                "the payload or another field was altered"
            )
        if event.get("subject_type") != subject.get("type") or event.get("subject_id") != subject.get("id"):
            report.fail(f"{event_label(event)}: belongs to another subject")
    if not complete_chain:
        return
    # The chain: seq 1..n without gaps, each event pointing at the previous one's hash.
    prev_hash, expected_seq = canonical.ZERO_HASH, 1
    for event in events:
        seq = event.get("seq")
        if seq != expected_seq:
            missing = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}..{int(seq or 0) - 1}"
            report.fail(f"case chain: event seq {missing} missing before {event_label(event)}")
        if event.get("prev_hash") != prev_hash:
            report.fail(
                f"case chain broken at {event_label(event)}: prev_hash {str(event.get('prev_hash'))[:16]}… "
                f"does not point at the preceding event ({prev_hash[:16]}…)"
            )
        prev_hash, expected_seq = str(event.get("event_hash")), int(seq or 0) + 1
    declared = int(subject.get("length") or 0)
    if declared != len(events):
        report.fail(f"case chain: the log declares {declared} events for this case, the bundle holds {len(events)}")
    if declared and subject.get("head_hash") != prev_hash:
        report.fail("case chain: the last event is not the head the log declares; events are missing at the end")
    report.count("chains")


def check_tree_heads(bundle: dict[str, Any], report: Report, pinned_key: str | None) -> dict[int, bytes]:
    log = bundle.get("log") or {}
    key = log.get("public_key", "")
    if pinned_key and pinned_key.lower() != str(key).lower():
        report.fail(f"log key: the bundle's public key {str(key)[:16]}… is not the pinned key {pinned_key[:16]}…")
        key = pinned_key
    roots: dict[int, bytes] = {}
    for head in bundle.get("tree_heads") or []:
        report.count("tree_heads")
        size = int(head.get("tree_size") or 0)
        root = _hex32(head.get("root_hash"))
        message = canonical.tree_head_message(
            log_id=str(head.get("log_id")),
            tree_size=size,
            root_hash=str(head.get("root_hash")),
            timestamp_ms=int(head.get("timestamp_ms") or 0),
        )
        if root is None or not _verify_signature(str(key), str(head.get("signature", "")), message):
            report.fail(f"tree head of size {size}: signature does not verify (root or size altered, or wrong key)")
            continue
        roots[size] = root
    for item in bundle.get("consistency") or []:
        report.count("consistency_proofs")
        first, second = int(item.get("first") or 0), int(item.get("second") or 0)
        path = [_hex32(p) for p in item.get("path") or []]
        if first not in roots or second not in roots:
            report.fail(f"consistency {first}->{second}: a tree head is missing or unverified")
        elif None in path or not merkle.verify_consistency(first, second, roots[first], roots[second], path):  # type: ignore[arg-type]
            report.fail(
                f"consistency {first}->{second}: the larger tree does not extend the smaller one (history rewritten)"
            )
    return roots


def check_inclusion(bundle: dict[str, Any], roots: dict[int, bytes], report: Report) -> None:
    for event in bundle.get("events") or []:
        proof = event.get("proof")
        if event.get("leaf_index") is None or proof is None:
            report.notes.append(f"{event_label(event)} is not sealed into a tree head yet (chain-checked only)")
            continue
        report.count("inclusion_proofs")
        size = int(proof.get("tree_size") or 0)
        leaf = _hex32(event.get("event_hash"))
        path = [_hex32(p) for p in proof.get("path") or []]
        if size not in roots:
            report.fail(f"{event_label(event)}: its tree head (size {size}) is missing or unverified")
        elif leaf is None or None in path:
            report.fail(f"{event_label(event)}: malformed inclusion proof")
        elif not merkle.verify_inclusion(int(event["leaf_index"]), size, leaf, path, roots[size]):  # type: ignore[arg-type]
            report.fail(f"{event_label(event)}: inclusion proof does not lead to the signed root of tree size {size}")


def _rpc(url: str, method: str, params: list[Any], timeout: float) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (the operator-given RPC URL)
        reply = json.loads(response.read())
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply.get("result")


Rpc = Callable[[str, list[Any]], Any]


def http_rpc(url: str, timeout: float = 10) -> Rpc:
    return lambda method, params: _rpc(url, method, params, timeout)


def check_anchors(bundle: dict[str, Any], roots: dict[int, bytes], report: Report, rpc: Rpc | None) -> None:
    heads = [h for h in bundle.get("tree_heads") or [] if h.get("anchor")]
    if not heads:
        report.notes.append("no tree head of this bundle is anchored on chain yet")
        return
    if rpc is None:
        report.notes.append(f"{len(heads)} anchor(s) not checked on chain: pass --rpc URL to check them")
        return
    try:
        latest = int(rpc("eth_blockNumber", []), 16)
    except (OSError, RuntimeError, ValueError) as exc:
        report.fail(f"chain: the node could not be asked for its latest block ({exc})")
        return
    for head in heads:
        report.count("anchors")
        anchor, size = head["anchor"], int(head["tree_size"])
        label = f"anchor of tree size {size} (tx {str(anchor.get('tx_hash'))[:18]}…)"
        try:
            receipt = rpc("eth_getTransactionReceipt", [anchor.get("tx_hash")])
        except (OSError, RuntimeError) as exc:
            report.fail(f"{label}: the node could not be asked ({exc})")
            continue
        if not receipt:
            report.fail(f"{label}: transaction not found on chain")
            continue
        if receipt.get("status") != "0x1":
            report.fail(f"{label}: transaction reverted")
            continue
        if int(receipt["blockNumber"], 16) != int(anchor.get("block_number") or -1) or (
            str(receipt.get("blockHash")).lower() != str(anchor.get("block_hash")).lower()
        ):
            report.fail(f"{label}: mined in another block than the bundle says (reorganised?)")
        contract = str(anchor.get("contract_address")).lower()
        logged = [
            log
            for log in receipt.get("logs") or []
            if str(log.get("address")).lower() == contract and (log.get("topics") or [None])[0] == ANCHORED_TOPIC
        ]
        if not logged:
            report.fail(f"{label}: the transaction emitted no Anchored event of contract {contract}")
            continue
        log = logged[0]
        chain_size = int(log["topics"][1], 16)
        chain_root = bytes.fromhex(log["data"][2:66])
        if chain_size != size:
            report.fail(f"{label}: on chain the anchored tree size is {chain_size}")
        elif size in roots and chain_root != roots[size]:
            report.fail(
                f"{label}: on-chain root {chain_root.hex()[:16]}… differs from the signed tree head's root "
                f"{roots[size].hex()[:16]}… (the log was rewritten after anchoring, or a root was swapped)"
            )
        try:
            stored = rpc("eth_call", [{"to": contract, "data": ROOT_AT_SELECTOR + f"{size:064x}"}, "latest"])
        except (OSError, RuntimeError) as exc:
            report.fail(f"{label}: the contract could not be read ({exc})")
            continue
        if size in roots and _hex32(stored) != roots[size]:
            report.fail(f"{label}: the contract's root for tree size {size} differs from the signed tree head's root")
        depth = latest - int(receipt["blockNumber"], 16) + 1
        wanted = int(anchor.get("confirmations_required") or 1)
        if depth < wanted:
            report.fail(f"{label}: only {depth} confirmation(s), {wanted} required")


def verify_bundle(
    bundle: dict[str, Any],
    *,
    rpc_url: str | None = None,
    rpc: Rpc | None = None,
    pinned_key: str | None = None,
    complete_chain: bool = True,
) -> Report:
    """Check everything in the bundle; with an RPC endpoint also its anchors on chain."""
    report = Report()
    if bundle.get("format") != BUNDLE_FORMAT:
        report.fail(f"not an audit bundle of format {BUNDLE_FORMAT}")
        return report
    check_events(bundle, report, complete_chain=complete_chain)
    roots = check_tree_heads(bundle, report, pinned_key)
    check_inclusion(bundle, roots, report)
    check_anchors(bundle, roots, report, rpc or (http_rpc(rpc_url) if rpc_url else None))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit.verify", description=__doc__.splitlines()[0])
    parser.add_argument("bundle", help="the proof bundle (JSON) downloaded from the platform")
    parser.add_argument("--rpc", help="an Ethereum JSON-RPC URL to check the anchors on chain")
    parser.add_argument("--key", help="the log's Ed25519 public key (hex) to pin, instead of trusting the bundle's")
    args = parser.parse_args(argv)
    try:
        with open(args.bundle, encoding="utf-8") as handle:
            bundle = json.load(handle)
    except (OSError, ValueError) as exc:
        print(f"FAIL: cannot read the bundle: {exc}")
        return 2
    report = verify_bundle(bundle, rpc_url=args.rpc, pinned_key=args.key)
    subject = bundle.get("subject") or {}
    checked = ", ".join(f"{n} {what}" for what, n in sorted(report.checked.items()))
    for note in report.notes:
        print(f"note: {note}")
    if report.ok:
        print(f"PASS: {subject.get('type')}:{subject.get('id')}: {checked}")
        return 0
    for failure in report.failures:
        print(f"FAIL: {failure}")
    print(f"VERDICT: FAILED ({len(report.failures)} problem(s)) for {subject.get('type')}:{subject.get('id')}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
