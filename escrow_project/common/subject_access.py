"""Who may see a subject (an escrow transaction, an employer's endorsements): one registry.

The apps that read subjects they do not own (audit trails, live notifications) sit below the apps
that own them, so they cannot ask; the owners register a predicate here at start-up
(AppConfig.ready): `register_subject_access("escrow_transaction", predicate)` with
`predicate(user, subject_id) -> bool`. Each reader adds its own "sees everything" rule on top
(audit: operators and auditors; live pages: operators); a subject type nobody registered is
visible only through that rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SubjectPredicate = Callable[[Any, str], bool]

_PREDICATES: dict[str, SubjectPredicate] = {}


def register_subject_access(subject_type: str, predicate: SubjectPredicate) -> None:
    """Declare who may see subjects of `subject_type`: predicate(user, subject_id) -> bool."""
    _PREDICATES[subject_type] = predicate


def unregister_subject_access(subject_type: str) -> None:
    _PREDICATES.pop(subject_type, None)


def subject_visible(user: Any, subject_type: str, subject_id: str) -> bool:
    """The registered predicate's answer; False for a subject type nobody registered."""
    predicate = _PREDICATES.get(subject_type)
    return bool(predicate is not None and predicate(user, str(subject_id)))
