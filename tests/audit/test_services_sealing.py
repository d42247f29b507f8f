from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit import canonical, merkle
from audit.models import AuditEvent, TreeHead
from audit.services import event_record, tree_seal
from audit.tiles import TileStore

pytestmark = pytest.mark.django_db


def add(n: int, subject: str = "c1") -> None:
    for i in range(n):
        event_record(
            kind="escrow.updated", subject_type="test_case", subject_id=subject, actor="system:test", payload={"i": i}
        )


def test_sealing_numbers_events_in_order_and_signs_the_rfc_root() -> None:
    assert tree_seal() is None
    add(3)
    add(2, "c2")
    head = tree_seal()
    assert head is not None
    leaves = [
        bytes.fromhex(h) for h in AuditEvent.objects.order_by("leaf__leaf_index").values_list("event_hash", flat=True)
    ]
    assert list(AuditEvent.objects.order_by("id").values_list("leaf__leaf_index", flat=True)) == [0, 1, 2, 3, 4]
    assert head.tree_size == 5
    assert head.root_hash == merkle.root_of(leaves).hex()
    message = canonical.tree_head_message(
        log_id=head.log_id, tree_size=5, root_hash=head.root_hash, timestamp_ms=head.timestamp_ms
    )
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(head.public_key)).verify(bytes.fromhex(head.signature), message)
    assert tree_seal() is None
    assert TreeHead.objects.count() == 1


def test_tiles_give_the_same_roots_and_proofs_as_the_plain_tree_across_tile_boundaries() -> None:
    # 600 leaves cross two level-0 tiles; seal in uneven batches to exercise partial tiles.
    for batch in (1, 254, 2, 300, 43):
        add(batch)
        tree_seal()
    leaves = [
        bytes.fromhex(h) for h in AuditEvent.objects.order_by("leaf__leaf_index").values_list("event_hash", flat=True)
    ]
    assert len(leaves) == 600
    store = TileStore()
    plain = merkle.list_subtree(leaves)
    for size in (1, 255, 256, 257, 512, 599, 600):
        assert store.root(size) == merkle.root_of(leaves[:size])
        for index in (0, size // 2, size - 1):
            assert store.inclusion(index, size) == merkle.inclusion_path(index, size, plain)
        assert store.consistency(size // 3 or 1, size) == merkle.consistency_path(size // 3 or 1, size, plain)
    assert [h.tree_size for h in TreeHead.objects.order_by("tree_size")] == [1, 255, 257, 557, 600]


def test_the_database_refuses_to_renumber_a_leaf() -> None:
    from django.db import DatabaseError, IntegrityError, transaction

    from audit.models import Leaf

    add(2)
    tree_seal()
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        Leaf.objects.filter(leaf_index=0).update(leaf_index=7)
    assert sorted(Leaf.objects.values_list("leaf_index", flat=True)) == [0, 1]


def test_sealing_is_due_after_n_events_or_t_seconds(settings) -> None:
    import datetime as dt

    from django.utils import timezone

    from audit.services import seal_due
    from audit.tasks import seal_tree_head

    settings.AUDIT_SEAL_EVERY_EVENTS = 3
    settings.AUDIT_SEAL_EVERY_SECONDS = 60
    assert not seal_due()
    add(2)
    assert not seal_due()
    assert seal_tree_head() == 0
    add(1)
    assert seal_due()
    assert seal_tree_head() == 3

    add(1)
    assert not seal_due()
    with pytest.MonkeyPatch.context() as patch:
        later = timezone.now() + dt.timedelta(seconds=61)
        patch.setattr("audit.services.sealing.timezone.now", lambda: later)
        assert seal_due()
