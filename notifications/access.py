"""Who may watch a subject's live events. Upper apps register a predicate per subject type.

Notifications cannot import the apps that own subjects (escrow transactions, endorsements), so
they register here from their AppConfig.ready():

    register_subject_access("escrow", lambda user, subject_id: escrow_visible_to(user, subject_id))

A subject type nobody registered is visible to operators only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from identity.selectors import user_is_operator

SubjectPredicate = Callable[[Any, str], bool]

_PREDICATES: dict[str, SubjectPredicate] = {}


def register_subject_access(subject_type: str, predicate: SubjectPredicate) -> None:
    """Declare who may watch subjects of `subject_type`; operators always may."""
    _PREDICATES[subject_type] = predicate


def unregister_subject_access(subject_type: str) -> None:
    _PREDICATES.pop(subject_type, None)


def user_may_watch(user: Any, subject_type: str, subject_id: str) -> bool:
    """Sync (it may query the database): call it through database_sync_to_async from a consumer."""
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    if user_is_operator(user):
        return True
    predicate = _PREDICATES.get(subject_type)
    return bool(predicate(user, subject_id)) if predicate is not None else False
