"""The reconciliation engine: our lines against a counterparty's statement, every line classified.

Pure and money-exact (Decimal, signed the counterparty's way: refunds negative), so both businesses
use it: an insurer's monthly statement against confirmed endorsements, the payment rail's balance
transactions against the ledger. Each app turns its records and the counterparty's file into
`Line`s; the engine only matches and classifies. Runs, lines and breaks are recorded by
`ledger.services.reconciliation` (docs/decisions/0103).

Matching, in order: the counterparty's reference (ours, echoed back, or theirs when we stored it);
then the natural key with the date (member + action + effective date); then the natural key alone,
taking the nearest date within `date_window_days` (a DATE_DELTA). What is left over is missing on
one side. A statement line whose reference or key repeats one already seen is a DUPLICATE.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    MATCHED = "matched"
    MATCHED_WITHIN_TOLERANCE = "matched_within_tolerance"
    AMOUNT_DELTA = "amount_delta"
    DATE_DELTA = "date_delta"
    STATUS_DELTA = "status_delta"
    MISSING_INTERNAL = "missing_internal"  # they have it, we don't
    MISSING_AT_COUNTERPARTY = "missing_at_counterparty"  # we have it (confirmed), they don't
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class Line:
    """One record on either side. `key` is the natural key without the date (member, action)."""

    amount: Decimal
    currency: str
    key: tuple[str, ...] = ()
    date: datetime.date | None = None
    reference: str = ""
    status: str = ""
    source: str = ""  # where it came from: a statement row number, a request's tracking id


@dataclass(frozen=True, slots=True)
class Result:
    outcomes: tuple[Outcome, ...]
    ours: Line | None
    theirs: Line | None

    @property
    def amount_delta(self) -> Decimal:
        """Theirs minus ours, signed: positive when the counterparty shows more."""
        return (self.theirs.amount if self.theirs else Decimal(0)) - (self.ours.amount if self.ours else Decimal(0))

    @property
    def date_delta_days(self) -> int | None:
        if self.ours is None or self.theirs is None or self.ours.date is None or self.theirs.date is None:
            return None
        return (self.theirs.date - self.ours.date).days

    @property
    def is_break(self) -> bool:
        return not set(self.outcomes) <= {Outcome.MATCHED, Outcome.MATCHED_WITHIN_TOLERANCE}


class _Pool:
    """Our lines not yet matched, findable by reference and by key (then by date among the few lines
    of one key). Sized for 100,000s of lines: one index per line, a bare int where a reference or key
    has one line (nearly always) and a list only where it has several, and `taken` as one byte a line."""

    def __init__(self, mine: list[Line]) -> None:
        self.mine = mine
        self.by_reference: dict[str, int | list[int]] = {}
        self.by_key: dict[tuple[str, ...], int | list[int]] = {}
        self.taken = bytearray(len(mine))
        for index, line in enumerate(mine):
            if line.reference:
                _add(self.by_reference, line.reference, index)
            if line.key:
                _add(self.by_key, line.key, index)

    def _free(self, found: int | list[int] | None) -> list[int]:
        if found is None:
            return []
        return [i for i in ((found,) if isinstance(found, int) else found) if not self.taken[i]]

    def by_ref(self, reference: str) -> int | None:
        return next(iter(self._free(self.by_reference.get(reference))), None)

    def same_date(self, key: tuple[str, ...], date: datetime.date | None) -> int | None:
        return next((i for i in self._free(self.by_key.get(key)) if self.mine[i].date == date), None)

    def nearest(self, key: tuple[str, ...], date: datetime.date, window: int) -> int | None:
        near = [
            (abs((day - date).days), i)
            for i in self._free(self.by_key.get(key))
            if (day := self.mine[i].date) is not None and abs((day - date).days) <= window
        ]
        return min(near)[1] if near else None


def _add(index: dict[Any, int | list[int]], name: Any, position: int) -> None:
    found = index.get(name)
    if found is None:
        index[name] = position
    elif isinstance(found, int):
        index[name] = [found, position]
    else:
        found.append(position)


def _compare(ours: Line, theirs: Line, tolerance: Decimal) -> tuple[Outcome, ...]:
    outcomes: list[Outcome] = []
    delta = abs(theirs.amount - ours.amount)
    if ours.currency != theirs.currency or delta > tolerance:
        outcomes.append(Outcome.AMOUNT_DELTA)
    if ours.date is not None and theirs.date is not None and ours.date != theirs.date:
        outcomes.append(Outcome.DATE_DELTA)
    if ours.status and theirs.status and ours.status != theirs.status:
        outcomes.append(Outcome.STATUS_DELTA)
    if outcomes:
        return tuple(outcomes)
    return (Outcome.MATCHED,) if delta == 0 else (Outcome.MATCHED_WITHIN_TOLERANCE,)


def reconcile(
    ours: Iterable[Line],
    theirs: Iterable[Line],
    *,
    tolerance: Decimal = Decimal(0),
    date_window_days: int = 31,
) -> list[Result]:
    """Classify every line of both sides exactly once (statement order, then our unmatched lines)."""
    return list(reconcile_iter(ours, theirs, tolerance=tolerance, date_window_days=date_window_days))


def reconcile_iter(
    ours: Iterable[Line],
    theirs: Iterable[Line],
    *,
    tolerance: Decimal = Decimal(0),
    date_window_days: int = 31,
) -> Iterator[Result]:
    """`reconcile`, streamed: our side is held (it must be searchable), the statement is read one line
    at a time and each result is handed on at once, so a caller writing results in chunks holds only
    our lines, the keys seen so far and one chunk, never both sides' results (issue 17's benchmark)."""
    mine = list(ours)
    pool = _Pool(mine)
    seen_references: set[str] = set()
    # Hashes, not the (key, date) tuples: the statement's lines are not kept alive by this set. Two
    # different lines with equal 64-bit hashes (odds about 1 in 10^9 at 100,000 lines) would show
    # the second as a DUPLICATE break for a person to look at: never a silent match.
    seen_keys: set[int] = set()
    for line in theirs:
        identity = hash((line.key, line.date))
        repeated = (line.reference and line.reference in seen_references) or (
            not line.reference and line.key and identity in seen_keys
        )
        if line.reference:
            seen_references.add(line.reference)
        if line.key:
            seen_keys.add(identity)
        if repeated:
            yield Result((Outcome.DUPLICATE,), None, line)
            continue
        match = pool.by_ref(line.reference) if line.reference else None
        if match is None and line.key:
            match = pool.same_date(line.key, line.date)
        if match is None and line.key and line.date is not None:
            match = pool.nearest(line.key, line.date, date_window_days)
        if match is None:
            yield Result((Outcome.MISSING_INTERNAL,), None, line)
            continue
        pool.taken[match] = 1
        yield Result(_compare(mine[match], line, tolerance), mine[match], line)
    for index, line in enumerate(mine):
        if not pool.taken[index]:
            yield Result((Outcome.MISSING_AT_COUNTERPARTY,), line, None)
