"""Sealing: append unsealed events to the Merkle tree in order and sign a tree head."""

from __future__ import annotations

import time

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from prometheus_client import Counter, Gauge, Histogram

from audit import canonical, signing
from audit.models import AuditEvent, Leaf, PendingEvent, TreeHead, TreeState
from audit.tiles import TileStore

logger = structlog.get_logger(__name__)

SEALED_EVENTS = Counter("audit_sealed_events_total", "Events appended to the Merkle tree.")
SEAL_SECONDS = Histogram("audit_seal_seconds", "Time to seal one tree head.")
TREE_SIZE = Gauge(
    "audit_tree_size", "Leaves in the audit Merkle tree at the latest tree head.", multiprocess_mode="mostrecent"
)

# PostgreSQL: one statement takes the oldest waiting events off the queue, numbers them as leaves
# and returns their hashes. Event rows are only read.
_PG_SEAL_SQL = """
WITH taken AS (
    DELETE FROM audit_pendingevent
    WHERE event_id IN (SELECT event_id FROM audit_pendingevent ORDER BY event_id LIMIT %s)
    RETURNING event_id
), numbered AS (
    INSERT INTO audit_leaf (leaf_index, event_id)
    SELECT %s + ROW_NUMBER() OVER (ORDER BY event_id) - 1, event_id FROM taken
    RETURNING leaf_index, event_id
)
SELECT numbered.leaf_index, e.event_hash FROM numbered JOIN audit_auditevent e ON e.id = numbered.event_id
"""


def _take_waiting(limit: int, base: int) -> list[tuple[int, str]]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_PG_SEAL_SQL, [limit, base])
            return sorted(cursor.fetchall())
    # Other databases (SQLite, the embedded default): the same steps through the ORM.
    ids = list(PendingEvent.objects.order_by("event_id").values_list("event_id", flat=True)[:limit])
    if not ids:
        return []
    Leaf.objects.bulk_create([Leaf(leaf_index=base + i, event_id=eid) for i, eid in enumerate(ids)], batch_size=2000)
    PendingEvent.objects.filter(event_id__in=ids).delete()
    hashes = dict(AuditEvent.objects.filter(id__in=ids).values_list("id", "event_hash"))
    return [(base + i, hashes[eid]) for i, eid in enumerate(ids)]


def _lock_state() -> TreeState:
    TreeState.objects.bulk_create([TreeState(pk=1, size=0)], ignore_conflicts=True)
    return TreeState.objects.select_for_update().get(pk=1)


def tree_head_sign(*, tree_size: int, root_hash: str) -> TreeHead:
    """Sign and store a tree head for the given size and root."""
    timestamp_ms = int(time.time() * 1000)
    message = canonical.tree_head_message(
        log_id=settings.AUDIT_LOG_ID, tree_size=tree_size, root_hash=root_hash, timestamp_ms=timestamp_ms
    )
    return TreeHead.objects.create(
        tree_size=tree_size,
        root_hash=root_hash,
        timestamp_ms=timestamp_ms,
        log_id=settings.AUDIT_LOG_ID,
        signature=signing.sign(message),
        public_key=signing.public_key_hex(),
    )


@transaction.atomic
def tree_seal(*, max_events: int | None = None) -> TreeHead | None:
    """Append waiting events to the tree and sign a head; None when nothing waited."""
    started = time.perf_counter()
    state = _lock_state()  # serialises sealers; event writers never take this lock
    limit = max_events or settings.AUDIT_SEAL_MAX_BATCH
    rows = _take_waiting(limit, state.size)
    if not rows:
        return None
    if rows[0][0] != state.size or rows[-1][0] != state.size + len(rows) - 1:
        raise RuntimeError("leaf indexes are not contiguous; refusing to seal")
    store = TileStore()
    store.append(state.size, [bytes.fromhex(h) for _, h in rows])
    new_size = state.size + len(rows)
    root = store.root(new_size)
    store.flush()
    TreeState.objects.filter(pk=1).update(size=new_size)
    head = tree_head_sign(tree_size=new_size, root_hash=root.hex())
    SEALED_EVENTS.inc(len(rows))
    TREE_SIZE.set(new_size)
    SEAL_SECONDS.observe(time.perf_counter() - started)
    logger.info("audit.sealed", tree_size=new_size, appended=len(rows), root=root.hex())
    return head


def seal_due() -> bool:
    """Whether enough events wait, or the oldest has waited long enough, to seal now."""
    waiting = PendingEvent.objects.order_by("event_id")
    first = waiting.values_list("event_id", flat=True).first()
    if first is None:
        return False
    oldest = AuditEvent.objects.filter(pk=first).values_list("recorded_at", flat=True).get()
    if (timezone.now() - oldest).total_seconds() >= settings.AUDIT_SEAL_EVERY_SECONDS:
        return True
    return waiting[: settings.AUDIT_SEAL_EVERY_EVENTS].count() >= settings.AUDIT_SEAL_EVERY_EVENTS
