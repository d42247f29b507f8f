"""Standalone verifier of an audit proof bundle: `python -m audit.verify bundle.json [--key HEX] [--rpc URL]`.

Needs only the bundle (and, with --rpc, any Ethereum JSON-RPC endpoint). It imports neither
Django nor the database: a party can copy this module, audit/merkle.py and audit/canonical.py
and run them anywhere with Python 3.11 and `cryptography`.

Checks: the log's signed coverage of the bundle (subject, first and last seq, count, head hash,
tree size, how far the subject is sealed and anchored); every event's hash against its content;
the subject's chain (order, links, no duplicate, gap or missing end); an inclusion proof for every
event the coverage says is sealed, against a signed tree head; every signature; consistency
between the tree heads; and with --rpc each anchor on chain (chain id, transaction, block, root).
Every failure has a stable reason code. A PASS says what it proved: `chain_intact` (hashes and
links only), `signed` (tree heads and coverage signed by the key pinned with --key) or
`anchored` (that, and a tree head's root found on chain through --rpc). `--strict` fails
anything short of `anchored`.
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

BUNDLE_FORMAT = "escrow-platform/audit-bundle/v2"
# keccak256("Anchored(uint256,bytes32,uint256)") and the selector of rootAt(uint256); the
# contract tests recompute both from the compiled ABI.
ANCHORED_TOPIC = "0x770041f1a960bfc5b73fb4938dd18b041e2e22692a6230c82927bf60734173ed"
ROOT_AT_SELECTOR = "0xca2869a0"

LEVELS = ("chain_intact", "signed", "anchored")

# Every reason a bundle can be refused for; tests assert these codes, so they never change meaning.
REASONS = {
    "format_unsupported": "not a bundle of this format (v1 bundles carry no signed coverage: download a new one)",
    "bundle_malformed": "a field has the wrong type or shape",
    "coverage_missing": "the bundle does not carry the log's signed statement of what it covers",
    "coverage_signature_invalid": "the coverage statement is not signed by the log key (edited)",
    "coverage_mismatch": "the bundle contradicts its own signed coverage",
    "key_mismatch": "the bundle's public key is not the pinned one",
    "event_malformed": "an event record lacks a field or has one of the wrong type",
    "event_hash_mismatch": "an event's content does not match its hash (altered)",
    "event_other_subject": "an event belongs to another subject",
    "event_duplicated": "two entries claim the same position in the chain",
    "events_out_of_order": "the entries are not in chain order",
    "event_missing": "a gap: events inside the covered range are absent",
    "chain_broken": "an event does not point at the hash of the event before it",
    "chain_truncated": "events at the end of the covered range are absent",
    "chain_head_mismatch": "the last event is not the head the log signed",
    "tree_head_signature_invalid": "a tree head's signature does not verify (size or root altered, or wrong key)",
    "tree_head_missing": "a tree head the coverage or a proof needs is absent",
    "tree_head_conflict": "two signed tree heads of one size disagree (a split view)",
    "inclusion_proof_missing": "an event inside a signed tree size carries no inclusion proof",
    "inclusion_proof_invalid": "an inclusion proof does not lead to its signed root",
    "consistency_proof_missing": "two tree heads of the bundle are not tied by a consistency proof",
    "consistency_proof_invalid": "a consistency proof fails: the larger tree does not extend the smaller",
    "anchor_missing": "the coverage says a tree size is anchored, but its anchor was removed",
    "anchor_chain_mismatch": "the anchor's chain id is not the chain asked (or not the pinned one)",
    "anchor_contract_mismatch": "the anchor names another contract than the pinned one",
    "anchor_tx_not_found": "the anchor transaction is not on the chain",
    "anchor_reverted": "the anchor transaction reverted",
    "anchor_block_mismatch": "the anchor was mined in another block than the bundle says",
    "anchor_event_missing": "the transaction emitted no Anchored event of the contract",
    "anchor_size_mismatch": "the chain anchored another tree size",
    "anchor_root_mismatch": "the root on chain differs from the signed tree head's root (history rewritten)",
    "anchor_unconfirmed": "the anchor has fewer confirmations than required",
    "chain_unreachable": "the Ethereum node could not be asked",
    "strict_key_required": "--strict needs the log key pinned with --key",
    "strict_chain_required": "--strict needs --rpc to check anchors on chain",
    "strict_not_anchored": "--strict needs at least one anchor verified on chain",
}


@dataclass(frozen=True)
class Failure:
    reason: str
    message: str

    def __str__(self) -> str:
        return f"[{self.reason}] {self.message}"


@dataclass
class Report:
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    proven: list[str] = field(default_factory=list)
    unproven: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    key_pinned: bool = False
    anchors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def reasons(self) -> list[str]:
        return [f.reason for f in self.failures]

    @property
    def level(self) -> str | None:
        """None on FAIL; otherwise how much the PASS proves (see LEVELS)."""
        if self.failures:
            return None
        if self.key_pinned and self.anchors:
            return "anchored"
        return "signed" if self.key_pinned else "chain_intact"

    def fail(self, reason: str, message: str) -> None:
        if reason not in REASONS:  # a typo would hide a reason from the tests
            raise ValueError(f"unknown reason {reason}")
        self.failures.append(Failure(reason, message))

    def count(self, what: str, n: int = 1) -> None:
        self.checked[what] = self.checked.get(what, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": "PASS" if self.ok else "FAIL",
            "level": self.level,
            "failures": [{"reason": f.reason, "message": f.message} for f in self.failures],
            "proven": self.proven,
            "not_proven": self.unproven,
            "notes": self.notes,
            "checked": self.checked,
            "anchors": self.anchors,
        }


def _hex32(value: Any) -> bytes | None:
    try:
        raw = bytes.fromhex(str(value).removeprefix("0x"))
    except ValueError:
        return None
    return raw if len(raw) == 32 else None


def _hex_path(items: Any) -> list[bytes] | None:
    """A proof's path as bytes, or None when any node is not 32 bytes of hex."""
    path = [_hex32(p) for p in items or []]
    return None if None in path else [p for p in path if p is not None]


def _int(value: Any) -> int | None:
    """An integer field; None for a missing one, or for a bool, float or text that only looks like one."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _verify_signature(public_key_hex: str, signature_hex: str, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex)).verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError, TypeError):
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


def _seq_range(first: int, last: int) -> str:
    return f"{first}" if first == last else f"{first}..{last}"


def _ordered_events(events: list[dict[str, Any]], report: Report) -> list[dict[str, Any]]:
    """The entries in chain order, one per seq; duplicates and reordering are named, not repaired silently."""
    by_seq: dict[int, dict[str, Any]] = {}
    previous: int | None = None
    out_of_order = False
    for event in events:
        seq = _int(event.get("seq"))
        if seq is None or seq < 1:
            report.fail("event_malformed", f"{event_label(event)}: seq is not a positive integer")
            continue
        if seq in by_seq:
            same = by_seq[seq].get("event_hash") == event.get("event_hash")
            report.fail(
                "event_duplicated",
                f"event seq {seq} appears twice" + ("" if same else " with different content (a forked chain)"),
            )
            continue
        if previous is not None and seq < previous and not out_of_order:
            out_of_order = True
            report.fail("events_out_of_order", f"event seq {seq} comes after seq {previous} in the bundle")
        by_seq[seq] = event
        previous = seq
    return [by_seq[s] for s in sorted(by_seq)]


def check_events(bundle: dict[str, Any], report: Report, *, complete_chain: bool) -> list[dict[str, Any]]:
    """Hashes and subject of every entry; with complete_chain, the chain against the signed coverage."""
    subject = bundle.get("subject") or {}
    raw = bundle.get("events")
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        report.fail("bundle_malformed", "events is not a list of objects")
        return []
    for event in raw:
        report.count("events")
        try:
            actual = recompute_event_hash(event)
        except (KeyError, TypeError, ValueError) as exc:
            report.fail("event_malformed", f"{event_label(event)}: record is malformed ({exc})")
            continue
        if actual != event.get("event_hash"):
            report.fail(
                "event_hash_mismatch",
                f"{event_label(event)}: content does not match its hash (recomputed {actual[:16]}…); "
                "the payload or another field was altered",
            )
        if event.get("subject_type") != subject.get("type") or event.get("subject_id") != subject.get("id"):
            report.fail("event_other_subject", f"{event_label(event)}: belongs to another subject")
    events = _ordered_events(raw, report)
    if complete_chain:
        _check_chain(events, bundle.get("coverage") or {}, report)
    return events


def _check_chain(events: list[dict[str, Any]], coverage: dict[str, Any], report: Report) -> None:
    if not coverage:  # already refused as coverage_missing; still name what the entries themselves show
        last_seq = int(events[-1]["seq"]) if events else 0
        coverage = {
            "first_seq": 1,
            "last_seq": last_seq,
            "count": last_seq,
            "head_hash": events[-1].get("event_hash") if events else None,
        }
    first, last = _int(coverage.get("first_seq")), _int(coverage.get("last_seq"))
    count, head_hash = _int(coverage.get("count")), coverage.get("head_hash")
    if first is None or last is None or count is None or first < 1 or last < first - 1 or count != last - first + 1:
        report.fail("coverage_mismatch", "the coverage's first_seq, last_seq and count do not describe a range")
        return
    prev_hash: str | None = canonical.ZERO_HASH if first == 1 else None  # before first_seq the bundle holds nothing
    expected = first
    for event in events:
        seq = int(event["seq"])
        if seq < first or seq > last:
            report.fail("coverage_mismatch", f"{event_label(event)} lies outside the signed range {first}..{last}")
            continue
        if seq > expected:
            report.fail(
                "event_missing",
                f"case chain: event seq {_seq_range(expected, seq - 1)} missing before {event_label(event)}",
            )
        elif prev_hash is not None and event.get("prev_hash") != prev_hash:
            report.fail(
                "chain_broken",
                f"case chain broken at {event_label(event)}: prev_hash {str(event.get('prev_hash'))[:16]}… "
                f"does not point at the preceding event ({prev_hash[:16]}…)",
            )
        prev_hash, expected = str(event.get("event_hash")), seq + 1
    if expected <= last:
        report.fail(
            "chain_truncated",
            f"case chain: the log signed events {first}..{last}; "
            f"event seq {_seq_range(expected, last)} missing at the end",
        )
    elif last >= first and prev_hash != head_hash:
        report.fail("chain_head_mismatch", "case chain: the last event is not the head the log signed")
    report.count("chains")


def _pinned_or_bundle_key(bundle: dict[str, Any], report: Report, pinned_key: str | None) -> str:
    key = str((bundle.get("log") or {}).get("public_key", ""))
    if pinned_key:
        report.key_pinned = True
        if pinned_key.lower() != key.lower():
            report.fail(
                "key_mismatch", f"log key: the bundle's public key {key[:16]}… is not the pinned key {pinned_key[:16]}…"
            )
        return pinned_key
    return key


def check_coverage(bundle: dict[str, Any], key: str, report: Report) -> dict[str, Any]:
    """The log's signed statement of what the bundle covers; its fields bind the other checks."""
    coverage = bundle.get("coverage")
    if not isinstance(coverage, dict):
        report.fail("coverage_missing", "the bundle carries no signed coverage: its length and head are unproven")
        return {}
    if not _verify_signature(key, str(coverage.get("signature", "")), canonical.coverage_message(coverage)):
        report.fail(
            "coverage_signature_invalid",
            "the coverage (subject, seq range, count, head hash, tree size) is not signed by the log key: edited",
        )
    subject = bundle.get("subject") or {}
    if coverage.get("subject_type") != subject.get("type") or coverage.get("subject_id") != subject.get("id"):
        report.fail("coverage_mismatch", "the coverage is signed for another subject than the bundle's")
    if coverage.get("log_id") != (bundle.get("log") or {}).get("log_id"):
        report.fail("coverage_mismatch", "the coverage is signed for another log than the bundle's")
    report.count("coverage")
    return coverage


def check_tree_heads(bundle: dict[str, Any], key: str, report: Report) -> dict[int, bytes]:
    roots: dict[int, bytes] = {}
    for head in bundle.get("tree_heads") or []:
        report.count("tree_heads")
        size = _int(head.get("tree_size"))
        root = _hex32(head.get("root_hash"))
        timestamp = _int(head.get("timestamp_ms"))
        message = canonical.tree_head_message(
            log_id=str(head.get("log_id")),
            tree_size=size or 0,
            root_hash=str(head.get("root_hash")),
            timestamp_ms=timestamp or 0,
        )
        if (
            size is None
            or root is None
            or timestamp is None
            or not _verify_signature(key, str(head.get("signature", "")), message)
        ):
            report.fail(
                "tree_head_signature_invalid",
                f"tree head of size {head.get('tree_size')}: signature does not verify "
                "(root or size altered, or wrong key)",
            )
            continue
        if size in roots and roots[size] != root:
            report.fail("tree_head_conflict", f"two signed tree heads of size {size} have different roots")
        roots[size] = root
    return roots


def check_consistency(bundle: dict[str, Any], roots: dict[int, bytes], report: Report) -> None:
    """Every consistency proof holds, and they tie all tree heads of the bundle into one history."""
    linked: dict[int, int] = {size: size for size in roots}  # union-find over tree sizes

    def find(size: int) -> int:
        while linked[size] != size:
            size = linked[size]
        return size

    for item in bundle.get("consistency") or []:
        report.count("consistency_proofs")
        first, second = _int(item.get("first")), _int(item.get("second"))
        path = _hex_path(item.get("path"))
        label = f"consistency {item.get('first')}->{item.get('second')}"
        if first is None or second is None or first not in roots or second not in roots:
            report.fail("tree_head_missing", f"{label}: a tree head is missing or unverified")
        elif path is None or not merkle.verify_consistency(first, second, roots[first], roots[second], path):
            report.fail(
                "consistency_proof_invalid",
                f"{label}: the larger tree does not extend the smaller one (history rewritten)",
            )
        else:
            linked[find(first)] = find(second)
    if roots:
        largest = max(roots)
        for size in sorted(roots):
            if find(size) != find(largest):
                report.fail(
                    "consistency_proof_missing",
                    f"tree heads of size {size} and {largest} are not tied by a consistency proof (removed?)",
                )


def check_inclusion(
    events: list[dict[str, Any]], coverage: dict[str, Any] | None, roots: dict[int, bytes], report: Report
) -> None:
    """Each event the coverage says is sealed proves into a signed root; others are only chain-checked."""
    sealed_through = _int((coverage or {}).get("sealed_through_seq")) or 0
    tree_size = _int((coverage or {}).get("tree_size")) or 0
    unsealed: list[int] = []
    for event in events:
        seq = int(event["seq"])
        proof = event.get("proof")
        sealed = coverage is not None and seq <= sealed_through
        if proof is None:
            if sealed:
                report.fail(
                    "inclusion_proof_missing",
                    f"{event_label(event)}: inside the signed tree size {tree_size} but carries no inclusion proof",
                )
            else:
                unsealed.append(seq)
            continue
        report.count("inclusion_proofs")
        size, index = _int(proof.get("tree_size")), _int(event.get("leaf_index"))
        leaf = _hex32(event.get("event_hash"))
        path = _hex_path(proof.get("path"))
        if size is None or size not in roots:
            report.fail(
                "tree_head_missing",
                f"{event_label(event)}: its tree head (size {proof.get('tree_size')}) is missing or unverified",
            )
        elif (
            index is None
            or leaf is None
            or path is None
            or not merkle.verify_inclusion(index, size, leaf, path, roots[size])
        ):
            report.fail(
                "inclusion_proof_invalid",
                f"{event_label(event)}: inclusion proof does not lead to the signed root of tree size {size}",
            )
        elif coverage is not None and not sealed:
            report.fail(
                "coverage_mismatch",
                f"{event_label(event)} proves into tree size {size}, the coverage says it is not sealed",
            )
    if unsealed:
        report.unproven.append(
            f"event seq {_seq_range(unsealed[0], unsealed[-1])} not sealed into a tree head yet: "
            "only their chain is checked"
        )


def check_coverage_heads(
    bundle: dict[str, Any], coverage: dict[str, Any], roots: dict[int, bytes], report: Report
) -> None:
    """The tree heads the coverage names are present, and the anchored one still carries its anchor."""
    tree_size = _int(coverage.get("tree_size")) or 0
    anchored = _int(coverage.get("anchored_tree_size")) or 0
    sealed_through = _int(coverage.get("sealed_through_seq")) or 0
    if tree_size and tree_size not in roots:
        report.fail("tree_head_missing", f"the coverage names tree size {tree_size}; its signed tree head is absent")
    if sealed_through and not tree_size:
        report.fail("coverage_mismatch", "the coverage says events are sealed but names no tree size")
    if not anchored:
        return
    if anchored > tree_size:
        report.fail("coverage_mismatch", f"the coverage's anchored size {anchored} exceeds its tree size {tree_size}")
    heads = [h for h in bundle.get("tree_heads") or [] if _int(h.get("tree_size")) == anchored]
    if anchored not in roots and not heads:
        report.fail("tree_head_missing", f"the coverage says tree size {anchored} is anchored; its tree head is absent")
    elif not any(h.get("anchor") for h in heads):
        report.fail(
            "anchor_missing", f"the coverage says tree size {anchored} is anchored; the bundle carries no anchor for it"
        )


def _rpc(url: str, method: str, params: list[Any], timeout: float) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (the operator-given RPC URL)
        reply = json.loads(response.read())
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply.get("result")


Rpc = Callable[[str, list[Any]], Any]
_RPC_ERRORS = (OSError, RuntimeError, ValueError, TypeError, KeyError)


def http_rpc(url: str, timeout: float = 10) -> Rpc:
    return lambda method, params: _rpc(url, method, params, timeout)


@dataclass(frozen=True)
class ChainPins:
    """What the party knows independently of the bundle; None means "take the bundle's word"."""

    chain_id: int | None = None
    contract: str | None = None


def check_anchors(
    bundle: dict[str, Any], roots: dict[int, bytes], report: Report, rpc: Rpc | None, pins: ChainPins = ChainPins()
) -> None:
    heads = [h for h in bundle.get("tree_heads") or [] if h.get("anchor")]
    if not heads:
        report.unproven.append("no tree head of this bundle is anchored on chain yet")
        return
    if rpc is None:
        report.unproven.append(f"{len(heads)} anchor(s) not checked on chain: pass --rpc URL to check them")
        return
    try:
        latest = int(rpc("eth_blockNumber", []), 16)
        node_chain = int(rpc("eth_chainId", []), 16)
    except _RPC_ERRORS as exc:
        report.fail(
            "chain_unreachable", f"chain: the node could not be asked for its latest block and chain id ({exc})"
        )
        return
    for head in heads:
        _check_anchor(head, roots, report, rpc, latest=latest, node_chain=node_chain, pins=pins)


def _check_anchor(
    head: dict[str, Any],
    roots: dict[int, bytes],
    report: Report,
    rpc: Rpc,
    *,
    latest: int,
    node_chain: int,
    pins: ChainPins,
) -> None:
    report.count("anchors")
    anchor, size = head["anchor"], _int(head.get("tree_size"))
    label = f"anchor of tree size {size} (tx {str(anchor.get('tx_hash'))[:18]}…)"
    chain_id, contract = _int(anchor.get("chain_id")), str(anchor.get("contract_address")).lower()
    if chain_id != node_chain:
        report.fail(
            "anchor_chain_mismatch",
            f"{label}: made on chain {anchor.get('chain_id')}, the node asked is chain {node_chain}",
        )
        return
    if pins.chain_id is not None and chain_id != pins.chain_id:
        report.fail("anchor_chain_mismatch", f"{label}: made on chain {chain_id}, not the pinned chain {pins.chain_id}")
        return
    if pins.contract is not None and contract != pins.contract.lower():
        report.fail("anchor_contract_mismatch", f"{label}: names contract {contract}, not the pinned {pins.contract}")
        return
    try:
        receipt = rpc("eth_getTransactionReceipt", [anchor.get("tx_hash")])
    except _RPC_ERRORS as exc:
        report.fail("chain_unreachable", f"{label}: the node could not be asked ({exc})")
        return
    if not receipt:
        report.fail("anchor_tx_not_found", f"{label}: transaction not found on chain {node_chain}")
        return
    if receipt.get("status") != "0x1":
        report.fail("anchor_reverted", f"{label}: transaction reverted")
        return
    block = int(receipt["blockNumber"], 16)
    if (
        block != _int(anchor.get("block_number"))
        or str(receipt.get("blockHash")).lower() != str(anchor.get("block_hash")).lower()
    ):
        report.fail("anchor_block_mismatch", f"{label}: mined in another block than the bundle says (reorganised?)")
        return
    logged = [
        log
        for log in receipt.get("logs") or []
        if str(log.get("address")).lower() == contract and (log.get("topics") or [None])[0] == ANCHORED_TOPIC
    ]
    if not logged:
        report.fail(
            "anchor_event_missing", f"{label}: the transaction emitted no Anchored event of contract {contract}"
        )
        return
    chain_size, chain_root = int(logged[0]["topics"][1], 16), bytes.fromhex(logged[0]["data"][2:66])
    if chain_size != size:
        report.fail("anchor_size_mismatch", f"{label}: on chain the anchored tree size is {chain_size}")
        return
    if size not in roots:
        report.fail("tree_head_missing", f"{label}: its tree head is not verified, so the anchor proves nothing")
        return
    if chain_root != roots[size]:
        report.fail(
            "anchor_root_mismatch",
            f"{label}: on-chain root {chain_root.hex()[:16]}… differs from the signed tree head's root "
            f"{roots[size].hex()[:16]}… (the log was rewritten after anchoring, or a root was swapped)",
        )
        return
    try:
        stored = rpc("eth_call", [{"to": contract, "data": ROOT_AT_SELECTOR + f"{size:064x}"}, "latest"])
    except _RPC_ERRORS as exc:
        report.fail("chain_unreachable", f"{label}: the contract could not be read ({exc})")
        return
    if _hex32(stored) != roots[size]:
        report.fail(
            "anchor_root_mismatch",
            f"{label}: the contract's root for tree size {size} differs from the signed tree head's root",
        )
        return
    depth, wanted = latest - block + 1, _int(anchor.get("confirmations_required")) or 1
    if depth < wanted:
        report.fail("anchor_unconfirmed", f"{label}: only {depth} confirmation(s), {wanted} required")
        return
    report.anchors.append(
        {
            "tree_size": size,
            "chain_id": chain_id,
            "contract": contract,
            "block_number": block,
            "tx_hash": anchor.get("tx_hash"),
        }
    )


def _summarise(report: Report, coverage: dict[str, Any] | None, key: str, rpc_given: bool) -> None:
    if coverage:
        first, last = coverage.get("first_seq"), coverage.get("last_seq")
        report.proven.append(
            f"chain intact: events {first}..{last} ({coverage.get('count')}) hash and link up to head "
            f"{str(coverage.get('head_hash'))[:16]}…, as the coverage states"
        )
    if report.key_pinned:
        sealed = (coverage or {}).get("sealed_through_seq")
        scope = f": events up to seq {sealed} in tree size {coverage.get('tree_size')}" if coverage and sealed else ""
        report.proven.append(f"included in signed tree heads by the pinned key {key[:16]}…{scope}")
    else:
        report.unproven.append(
            "no key pinned (--key): the signatures were checked against the key inside the bundle, which proves "
            "nothing (anyone can re-sign a rewritten bundle with a key of their own)"
        )
    for anchor in report.anchors:
        report.proven.append(
            f"anchored on chain {anchor['chain_id']} at block {anchor['block_number']}: tree size "
            f"{anchor['tree_size']} (contract {anchor['contract']}, tx {anchor['tx_hash']})"
        )
    if rpc_given and not report.anchors and not report.failures:
        report.unproven.append("nothing in this bundle is anchored yet, so no root was found on chain")


def verify_bundle(
    bundle: dict[str, Any],
    *,
    rpc_url: str | None = None,
    rpc: Rpc | None = None,
    pinned_key: str | None = None,
    pins: ChainPins = ChainPins(),
    complete_chain: bool = True,
    strict: bool = False,
) -> Report:
    """Check everything in the bundle; with an RPC endpoint also its anchors on chain.

    complete_chain=False checks single events out of a chain (the API's per-event proof): no
    coverage, no chain links, only hashes, proofs, tree heads and anchors.
    """
    report = Report()
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        report.fail("format_unsupported", f"not an audit bundle of format {BUNDLE_FORMAT}")
        return report
    rpc = rpc or (http_rpc(rpc_url) if rpc_url else None)
    try:
        key = _pinned_or_bundle_key(bundle, report, pinned_key)
        coverage = (check_coverage(bundle, key, report) or None) if complete_chain else None
        events = check_events(bundle, report, complete_chain=complete_chain)
        roots = check_tree_heads(bundle, key, report)
        check_consistency(bundle, roots, report)
        check_inclusion(events, coverage, roots, report)
        if coverage:
            check_coverage_heads(bundle, coverage, roots, report)
        check_anchors(bundle, roots, report, rpc, pins)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        report.fail("bundle_malformed", f"the bundle is malformed ({type(exc).__name__}: {exc})")
        return report
    if strict:
        if not report.key_pinned:
            report.fail("strict_key_required", "--strict: pin the log's public key with --key")
        if rpc is None:
            report.fail("strict_chain_required", "--strict: pass --rpc URL so the anchors are checked on chain")
        elif not report.anchors:
            report.fail("strict_not_anchored", "--strict: no anchor of this bundle was verified on chain")
    _summarise(report, coverage, key, rpc is not None)
    return report


def _print_text(report: Report, subject: dict[str, Any]) -> None:
    name = f"{subject.get('type')}:{subject.get('id')}"
    for note in report.notes:
        print(f"note: {note}")
    if not report.ok:
        for failure in report.failures:
            print(f"FAIL {failure}")
        print(f"VERDICT: FAIL ({len(report.failures)} problem(s)) for {name}")
        return
    checked = ", ".join(f"{n} {what}" for what, n in sorted(report.checked.items()))
    for line in report.proven:
        print(f"proven: {line}")
    for line in report.unproven:
        print(f"NOT proven: {line}")
    print(f"PASS [{report.level}]: {name}: {checked}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit.verify", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("bundle", help="the proof bundle (JSON) downloaded from the platform")
    parser.add_argument("--rpc", help="an Ethereum JSON-RPC URL to check the anchors on chain")
    parser.add_argument("--key", help="the log's Ed25519 public key (hex) to pin, instead of trusting the bundle's")
    parser.add_argument("--chain-id", type=int, help="the chain id the anchors must be on")
    parser.add_argument("--contract", help="the AuditAnchor contract address the anchors must name")
    parser.add_argument("--strict", action="store_true", help="FAIL unless the key is pinned and an anchor verified")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    args = parser.parse_args(argv)
    try:
        with open(args.bundle, encoding="utf-8") as handle:
            bundle = json.load(handle)
    except (OSError, ValueError) as exc:
        if args.json:
            print(
                json.dumps(
                    {"verdict": "FAIL", "level": None, "failures": [{"reason": "unreadable", "message": str(exc)}]}
                )
            )
        else:
            print(f"FAIL: cannot read the bundle: {exc}")
        return 2
    report = verify_bundle(
        bundle,
        rpc_url=args.rpc,
        pinned_key=args.key,
        pins=ChainPins(chain_id=args.chain_id, contract=args.contract),
        strict=args.strict,
    )
    if args.json:
        print(
            json.dumps(
                {"subject": (bundle.get("subject") if isinstance(bundle, dict) else None), **report.as_dict()}, indent=1
            )
        )
    else:
        _print_text(report, (bundle.get("subject") if isinstance(bundle, dict) else None) or {})
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
