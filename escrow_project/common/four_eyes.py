"""Four eyes: a decision on something a first person asked for is taken by a second person, once.

Used by every request that waits for a second person (bank-details changes, wires entered by hand,
ledger entries recorded by hand), so the rule and its refusals read the same everywhere.

Each such model has a django-fsm machine (its app's `states.py`) with a transition `decide(status)`
from `pending` to the decided states; `decision_record` runs it, so a closed request cannot be
decided twice even by a caller that skipped `second_person_check`.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from escrow_project.common.errors import ConflictError, PermissionDeniedError


def second_person_check(*, row: models.Model, first_person: Any, actor: Any, closed_code: str) -> None:
    """Refuse a decision on a closed request, or by the person who asked for it."""
    status = getattr(row, "status")  # noqa: B009 - every four-eyes model names it so
    if status != "pending":
        raise ConflictError(f"This request is already {status}.", code=closed_code)
    if first_person == actor:
        raise PermissionDeniedError(
            "A second person must decide this: not the one who asked for it.", code="four_eyes_required"
        )


def decision_record(
    row: models.Model, *, status: str, actor: Any, reason: str | None = None, also: tuple[str, ...] = ()
) -> None:
    """Write the decision on the row: who, when, why (when a reason is given), and the `also` fields
    the caller set on it."""
    fields = ["status", "decided_by", "decided_at", *also]
    row.decide(status)  # type: ignore[attr-defined]
    row.decided_by, row.decided_at = actor, timezone.now()  # type: ignore[attr-defined]
    if reason is not None:
        row.reason = reason[:300]  # type: ignore[attr-defined]
        fields.append("reason")
    row.save(update_fields=fields)
