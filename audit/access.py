"""Who may read a subject's audit trail.

Audit sits below the apps that own the subjects (escrow transactions, employers' endorsements),
so it cannot ask them; they register a predicate in the kernel's one registry
(escrow_project.common.subject_access) at start-up, in their AppConfig.ready.
Auditors and operators may read every subject; a subject type nobody registered is visible only
to them.
"""

from __future__ import annotations

from typing import Any

# Re-exported: the one registry lives in the kernel.
from escrow_project.common.subject_access import register_subject_access as register_subject_access
from escrow_project.common.subject_access import subject_visible
from escrow_project.common.subject_access import unregister_subject_access as unregister_subject_access
from identity.models import Role
from identity.selectors import user_has_role, user_is_operator


def user_sees_everything(user: Any) -> bool:
    return user_is_operator(user) or user_has_role(user, Role.AUDITOR)


def user_may_see_subject(user: Any, subject_type: str, subject_id: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if user_sees_everything(user):
        return True
    return subject_visible(user, subject_type, subject_id)
