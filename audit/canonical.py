"""The canonical byte form of an audit event and of a signed tree head.

No Django here: the standalone verifier recomputes these bytes from a bundle. Keys sorted, no
whitespace, UTF-8, no floats (money is never a float, and float text is not canonical across
languages), so any party can recompute a hash with any JSON library that sorts keys.
"""

from __future__ import annotations

import json
from typing import Any

from audit.merkle import leaf_hash

RECORD_VERSION = 1
ZERO_HASH = "0" * 64
STH_CONTEXT = "escrow-platform/audit/tree-head/v1"


def dumps(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def event_record(
    *,
    kind: str,
    subject_type: str,
    subject_id: str,
    seq: int,
    prev_hash: str,
    actor: str,
    occurred_at: str,
    request_id: str,
    payload: Any,
    salt: str,
) -> dict[str, Any]:
    return {
        "v": RECORD_VERSION,
        "kind": kind,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "seq": seq,
        "prev_hash": prev_hash,
        "actor": actor,
        "occurred_at": occurred_at,
        "request_id": request_id,
        "payload": payload,
        "salt": salt,
    }


def event_hash(record: dict[str, Any]) -> str:
    """The event's RFC 9162 leaf hash; the per-event salt inside makes it unguessable."""
    return leaf_hash(dumps(record)).hex()


def tree_head_message(*, log_id: str, tree_size: int, root_hash: str, timestamp_ms: int) -> bytes:
    """What the log signs for a tree head (the role of RFC 9162's TreeHeadDataV2)."""
    return dumps(
        {
            "context": STH_CONTEXT,
            "log_id": log_id,
            "tree_size": tree_size,
            "root_hash": root_hash,
            "timestamp_ms": timestamp_ms,
        }
    )


COVERAGE_CONTEXT = "escrow-platform/audit/bundle-coverage/v1"
COVERAGE_FIELDS = (
    "log_id",
    "subject_type",
    "subject_id",
    "first_seq",
    "last_seq",
    "count",
    "head_hash",
    "tree_size",
    "sealed_through_seq",
    "anchored_tree_size",
    "generated_at",
)


def coverage_message(coverage: dict[str, Any]) -> bytes:
    """What the log signs for a bundle: which events of which subject it holds, and how far they are sealed.

    Without it a bundle's length, head and tree size are the bundle's own say-so: dropping the last
    events, or the proofs and tree heads of rewritten ones, would leave nothing to contradict.
    """
    return dumps({"context": COVERAGE_CONTEXT, **{name: coverage.get(name) for name in COVERAGE_FIELDS}})


def event_record_parts(
    *,
    kind: str,
    subject_type: str,
    subject_id: str,
    actor: str,
    occurred_at: str,
    request_id: str,
    payload: Any,
    salt: str,
) -> tuple[str, str, str]:
    """The canonical record as text around its two chain fields: `a + prev_hash + b + str(seq) + c`.

    Lets the database hash an event in the same statement that advances the subject's head, where
    seq and prev_hash are known, instead of a round trip to read them first. Keys sort as
    actor, kind, occurred_at, payload < prev_hash < request_id, salt < seq < subject_id,
    subject_type, v; tests compare the joined text with `dumps(event_record(...))`.
    """
    head = dumps({"actor": actor, "kind": kind, "occurred_at": occurred_at, "payload": payload}).decode()
    a = head[:-1] + ',"prev_hash":"'
    b = f'","request_id":{dumps(request_id).decode()},"salt":{dumps(salt).decode()},"seq":'
    subject = f'"subject_id":{dumps(subject_id).decode()},"subject_type":{dumps(subject_type).decode()}'
    c = f',{subject},"v":{RECORD_VERSION}}}'
    return a, b, c
