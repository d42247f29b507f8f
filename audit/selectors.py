"""Reads of the audit log, permission-scoped: a caller without access gets a 404."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from audit import canonical, chain, signing, verify
from audit.access import user_may_see_subject
from audit.models import Anchor, AnchorStatus, AuditEvent, PendingEvent, SubjectHead, TreeHead
from audit.services.events import canonical_time
from audit.tiles import TileStore
from escrow_project.common.errors import NotFoundError


def _require_access(user: Any, subject_type: str, subject_id: str) -> None:
    if not user_may_see_subject(user, subject_type, subject_id):
        raise NotFoundError("No such audit trail.", code="audit_trail_not_found")


def events_for_subject(
    user: Any,
    subject_type: str,
    subject_id: str,
    *,
    kind: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[AuditEvent]:
    """The subject's events in chain order, filtered by kind and occurred_at range."""
    _require_access(user, subject_type, subject_id)
    events = (
        AuditEvent.objects.filter(subject_type=subject_type, subject_id=str(subject_id))
        .select_related("leaf")
        .order_by("seq")
    )
    if kind:
        events = events.filter(kind=kind)
    if since:
        events = events.filter(occurred_at__gte=since)
    if until:
        events = events.filter(occurred_at__lt=until)
    return events


def event_as_record(event: AuditEvent) -> dict[str, Any]:
    """The event exactly as hashed, plus its hash and leaf index."""
    return {
        "kind": event.kind,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "seq": event.seq,
        "prev_hash": event.prev_hash,
        "actor": event.actor,
        "occurred_at": canonical_time(event.occurred_at),
        "request_id": event.request_id,
        "payload": event.payload,
        "salt": event.salt,
        "event_hash": event.event_hash,
        "leaf_index": event.leaf_index,
    }


def anchor_as_dict(anchor: Anchor | None) -> dict[str, Any] | None:
    if anchor is None or anchor.status != AnchorStatus.CONFIRMED:
        return None
    return {
        "chain_id": anchor.chain_id,
        "contract_address": anchor.contract_address,
        "tx_hash": anchor.tx_hash,
        "block_number": anchor.block_number,
        "block_hash": anchor.block_hash,
        "confirmations_required": anchor.confirmations_required,
    }


def tree_head_as_dict(head: TreeHead) -> dict[str, Any]:
    return {
        "tree_size": head.tree_size,
        "root_hash": head.root_hash,
        "timestamp_ms": head.timestamp_ms,
        "log_id": head.log_id,
        "signature": head.signature,
        "anchor": anchor_as_dict(getattr(head, "anchor", None)),
    }


def _heads() -> tuple[TreeHead | None, TreeHead | None]:
    """(latest tree head, latest tree head with a confirmed anchor)."""
    latest = TreeHead.objects.select_related("anchor").order_by("-tree_size").first()
    anchored = (
        TreeHead.objects.select_related("anchor")
        .filter(anchor__status=AnchorStatus.CONFIRMED)
        .order_by("-tree_size")
        .first()
    )
    return latest, anchored


def _proofs(
    events: Sequence[AuditEvent],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], TreeHead | None, TreeHead | None]:
    """Records with inclusion proofs, the tree heads, the consistency proof, and (latest, anchored) heads.

    Events inside the latest anchored tree prove into that anchored head directly; later ones
    prove into the latest head, which a consistency proof ties to the anchored one. Both heads are
    always included: the signed coverage names them, so removing either is detected.
    """
    latest, anchored = _heads()
    store = TileStore()
    records, used = [], {}
    for event in events:
        record = event_as_record(event)
        record["proof"] = None
        index = event.leaf_index
        if index is not None and latest is not None and index < latest.tree_size:
            head = anchored if anchored is not None and index < anchored.tree_size else latest
            path = store.inclusion(index, head.tree_size)
            record["proof"] = {"tree_size": head.tree_size, "path": [p.hex() for p in path]}
        records.append(record)
    for needed in (latest, anchored):
        if needed is not None:
            used[needed.tree_size] = needed
    consistency = []
    if anchored is not None and latest is not None and anchored.tree_size < latest.tree_size:
        path = store.consistency(anchored.tree_size, latest.tree_size)
        consistency.append({"first": anchored.tree_size, "second": latest.tree_size, "path": [p.hex() for p in path]})
    heads = [tree_head_as_dict(h) for _, h in sorted(used.items())]
    return records, heads, consistency, latest, anchored


def _log_info() -> dict[str, Any]:
    return {"log_id": settings.AUDIT_LOG_ID, "public_key": signing.public_key_hex()}


def _coverage(
    subject_type: str,
    subject_id: str,
    head: SubjectHead,
    sealed_through_seq: int,
    latest: TreeHead | None,
    anchored: TreeHead | None,
) -> dict[str, Any]:
    """The log's signed statement of what a bundle holds (canonical.coverage_message)."""
    coverage: dict[str, Any] = {
        "log_id": settings.AUDIT_LOG_ID,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "first_seq": 1,
        # From the head row, not from the events read: a deleted event then shows as missing.
        "last_seq": head.length,
        "count": head.length,
        "head_hash": head.head_hash,
        "tree_size": latest.tree_size if latest else 0,
        "sealed_through_seq": sealed_through_seq,
        "anchored_tree_size": anchored.tree_size if anchored else 0,
        "generated_at": canonical_time(timezone.now()),
    }
    coverage["signature"] = signing.sign(canonical.coverage_message(coverage))
    return coverage


def bundle_for_subject(user: Any, subject_type: str, subject_id: str) -> dict[str, Any]:
    """The proof bundle of one case: every event, the signed coverage, proofs, tree heads, anchors."""
    _require_access(user, subject_type, subject_id)
    # The head first: events committed after it are left out, so the coverage matches the events.
    head = SubjectHead.objects.filter(subject_type=subject_type, subject_id=str(subject_id)).first()
    if head is None:
        raise NotFoundError("No such audit trail.", code="audit_trail_not_found")
    # Queued or not in the same statement as the leaves: a seal committing in between cannot make
    # an event look sealed without its leaf.
    queued = PendingEvent.objects.filter(event_id=OuterRef("pk"))
    events = list(
        events_for_subject(user, subject_type, subject_id).filter(seq__lte=head.length).annotate(pending=Exists(queued))
    )
    records, heads, consistency, latest, anchored = _proofs(events)
    # Every event no longer queued for sealing is in the tree: one whose leaf row has gone (or whose
    # proof is stripped) then shows as a missing proof, not as "not sealed yet".
    sealed_through = max((e.seq for e in events if not e.pending), default=0)
    return {
        "format": verify.BUNDLE_FORMAT,
        "generated_at": canonical_time(timezone.now()),
        "log": _log_info(),
        "subject": {"type": subject_type, "id": str(subject_id), "length": head.length, "head_hash": head.head_hash},
        "coverage": _coverage(subject_type, str(subject_id), head, sealed_through, latest, anchored),
        "events": records,
        "tree_heads": heads,
        "consistency": consistency,
    }


def event_proof(user: Any, event_hash: str) -> dict[str, Any]:
    """One event's inclusion proof, tree head(s), anchor and the verifier's verdict, anchors checked on chain."""
    event = AuditEvent.objects.filter(event_hash=str(event_hash).lower()).select_related("leaf").first()
    if event is None or not user_may_see_subject(user, event.subject_type, event.subject_id):
        raise NotFoundError("No such audit event.", code="audit_event_not_found")
    records, heads, consistency, _, _ = _proofs([event])
    bundle = {
        "format": verify.BUNDLE_FORMAT,
        "log": _log_info(),
        "subject": {"type": event.subject_type, "id": event.subject_id},
        "events": records,
        "tree_heads": heads,
        "consistency": consistency,
    }
    rpc, why_not = chain.verifier_rpc({h["anchor"]["contract_address"] for h in heads if h["anchor"]})
    # The platform's own key is pinned: the verdict then says what a party pinning it would see.
    report = verify.verify_bundle(bundle, rpc=rpc, pinned_key=signing.public_key_hex(), complete_chain=False)
    if why_not and any(h["anchor"] for h in heads):
        report.unproven.append(why_not)
    sealed = records[0]["proof"] is not None
    return {
        "event": records[0],
        "tree_heads": heads,
        "consistency": consistency,
        "log": bundle["log"],
        "verdict": {
            "valid": report.ok,
            "level": report.level,
            "sealed": sealed,
            "anchored": any(h["anchor"] for h in heads),
            "anchor_verified_on_chain": bool(report.anchors),
            "failures": [{"reason": f.reason, "message": f.message} for f in report.failures],
            "proven": report.proven,
            "not_proven": report.unproven,
            "notes": report.notes,
        },
    }
