"""Every write of the audit app. Other apps call `event_record` inside their own transaction."""

from audit.services.anchoring import anchor_confirm, anchor_fail, anchor_prepare, anchor_send
from audit.services.events import event_record
from audit.services.sealing import seal_due, tree_head_sign, tree_seal

__all__ = [
    "anchor_confirm",
    "anchor_fail",
    "anchor_prepare",
    "anchor_send",
    "event_record",
    "seal_due",
    "tree_head_sign",
    "tree_seal",
]
