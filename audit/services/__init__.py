"""Every write of the audit app. Other apps call `event_record` inside their own transaction."""

from audit.services.events import event_record
from audit.services.sealing import seal_due, tree_head_sign, tree_seal

__all__ = ["event_record", "seal_due", "tree_head_sign", "tree_seal"]
