"""Who may read a subject's audit trail.

Audit sits below the apps that own the subjects (escrow transactions, employers' endorsements),
so it cannot ask them; they register a predicate here at start-up (in their AppConfig.ready).
Auditors and operators may read every subject; a subject type nobody registered is visible only
to them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from identity.models import Role
from identity.selectors import user_has_role, user_is_operator

SubjectPredicate = Callable[[Any, str], bool]

_predicates: dict[str, SubjectPredicate] = {}


def register_subject_access(subject_type: str, predicate: SubjectPredicate) -> None:
    """Declare who may see subjects of `subject_type`: predicate(user, subject_id) -> bool."""
    _predicates[subject_type] = predicate


def unregister_subject_access(subject_type: str) -> None:
    _predicates.pop(subject_type, None)


def user_sees_everything(user: Any) -> bool:
    return user_is_operator(user) or user_has_role(user, Role.AUDITOR)


def user_may_see_subject(user: Any, subject_type: str, subject_id: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if user_sees_everything(user):
        return True
    predicate = _predicates.get(subject_type)
    return bool(predicate is not None and predicate(user, str(subject_id)))
