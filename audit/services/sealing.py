"""Sealing: append unsealed events to the Merkle tree in order and sign a tree head."""

from __future__ import annotations

import time

import structlog
from django.conf import settings
from django.db import connection, transaction
from prometheus_client import Counter, Gauge, Histogram

from audit import canonical, signing
from audit.models import AuditEvent, TreeHead, TreeState
from audit.tiles import TileStore

logger = structlog.get_logger(__name__)

SEALED_EVENTS = Counter("audit_sealed_events_total", "Events appended to the Merkle tree.")
SEAL_SECONDS = Histogram("audit_seal_seconds", "Time to seal one tree head.")
TREE_SIZE = Gauge("audit_tree_size", "Leaves in the audit Merkle tree at the latest tree head.")

# One statement numbers the oldest unsealed events and returns their hashes: the trigger lets an
# UPDATE through only when it sets a NULL leaf_index and changes nothing else.
_ASSIGN_SQL = """
WITH batch AS (
    SELECT id FROM audit_auditevent WHERE leaf_index IS NULL ORDER BY id LIMIT %s
), numbered AS (
    SELECT id AS event_id, %s + ROW_NUMBER() OVER (ORDER BY id) - 1 AS idx FROM batch
)
UPDATE audit_auditevent SET leaf_index = numbered.idx FROM numbered
WHERE audit_auditevent.id = numbered.event_id
RETURNING leaf_index, event_hash
"""


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
    with connection.cursor() as cursor:
        cursor.execute(_ASSIGN_SQL, [limit, state.size])
        rows = sorted(cursor.fetchall())
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
    waiting = AuditEvent.objects.filter(leaf_index__isnull=True)
    oldest = waiting.order_by("id").values_list("recorded_at", flat=True).first()
    if oldest is None:
        return False
    from django.utils import timezone

    if (timezone.now() - oldest).total_seconds() >= settings.AUDIT_SEAL_EVERY_SECONDS:
        return True
    return waiting[: settings.AUDIT_SEAL_EVERY_EVENTS].count() >= settings.AUDIT_SEAL_EVERY_EVENTS
