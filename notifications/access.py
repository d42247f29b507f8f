"""Who may watch a subject's live events. Upper apps register a predicate per subject type.

Notifications cannot import the apps that own subjects (escrow transactions, endorsements), so
they register in the kernel's one registry (escrow_project.common.subject_access, shared with the
audit trail) from their AppConfig.ready():

    register_subject_access("escrow", lambda user, subject_id: escrow_visible_to(user, subject_id))

A subject type nobody registered is visible to operators only.
"""

from __future__ import annotations

from typing import Any

# Re-exported: the one registry lives in the kernel.
from escrow_project.common.subject_access import register_subject_access as register_subject_access
from escrow_project.common.subject_access import subject_visible
from escrow_project.common.subject_access import unregister_subject_access as unregister_subject_access
from identity.selectors import user_is_operator


def user_may_watch(user: Any, subject_type: str, subject_id: str) -> bool:
    """Sync (it may query the database): call it through database_sync_to_async from a consumer."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    if user_is_operator(user):
        return True
    return subject_visible(user, subject_type, subject_id)
