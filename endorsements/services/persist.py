"""The one save path for endorsement request transitions made in memory.

Each transition declares the columns it changes (`custom=writes(...)` in endorsements/states.py);
this writes the state, exactly those columns, the caller's `also` and `updated_at`, so no caller
keeps its own list of columns that can drift from what a transition sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from endorsements.models import EndorsementRequest
from escrow_project.common.bulk import rows_update
from escrow_project.common.fsm import transition_columns


def requests_save(
    requests: Sequence[EndorsementRequest], *, transitions: Sequence[str], also: Sequence[str] = ()
) -> None:
    """Write the rows the named transitions moved: one UPDATE per new state, a plain one when the
    rows of a state share every value, else one UPDATE ... FROM UNNEST (common.bulk.rows_update)."""
    columns = [*transition_columns(EndorsementRequest, *transitions), *also]
    now = timezone.now()
    groups: dict[str, list[EndorsementRequest]] = {}
    for request in requests:
        groups.setdefault(request.state, []).append(request)
    for group in groups.values():
        for request in group:
            request.updated_at = now
        shared: dict[str, Any] = {"updated_at": now}
        varying = False
        for name in columns:
            values = {getattr(r, name) for r in group}
            if len(values) == 1:
                shared[name] = values.pop()
            else:
                varying = True
        # One statement either way: a second UPDATE of the same rows in this transaction would make
        # PostgreSQL re-check their foreign keys (FOR KEY SHARE on the batch and policy rows), which
        # can wait for a file intake holding those rows while it waits for a lock we hold.
        if varying:
            rows_update(EndorsementRequest, group, [*columns, "updated_at"])
        else:
            EndorsementRequest.objects.filter(pk__in=[r.pk for r in group]).update(**shared)
