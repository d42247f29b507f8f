"""Periodic tasks of the audit app (merged into Celery beat by escrow_project.celery)."""

from __future__ import annotations

import os

BEAT_SCHEDULE = {
    # Cheap when nothing is due: it only looks at the oldest unsealed event.
    "audit-seal-tree-head": {"task": "audit.tasks.seal_tree_head", "schedule": 5.0},
    "audit-anchor-tree-head": {
        "task": "audit.tasks.anchor_tree_head",
        "schedule": float(os.environ.get("AUDIT_ANCHOR_EVERY_SECONDS", "300")),
    },
}
