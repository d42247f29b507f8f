"""The reconciliation engine: our lines against a counterparty's statement, every line classified.

Pure and money-exact (Decimal, signed the counterparty's way: refunds negative), so both businesses
use it: an insurer's monthly statement against confirmed endorsements, the payment rail's balance
transactions against the ledger. Each app turns its records and the counterparty's file into
`Line`s; the engine only matches and classifies (groundwork for issue 17; runs, breaks and their
workflow come on top of it).

Matching, in order: the counterparty's reference (ours, echoed back, or theirs when we stored it);
then the natural key with the date (member + action + effective date); then the natural key alone,
taking the nearest date within `date_window_days` (a DATE_DELTA). What is left over is missing on
one side. A statement line whose reference or key repeats one already seen is a DUPLICATE.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


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


@dataclass
class _Pool:
    """Our lines not yet matched, findable by reference, by key and date, and by key alone."""

    by_reference: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_key_date: dict[tuple[tuple[str, ...], datetime.date | None], list[int]] = field(
        default_factory=lambda: defaultdict(list)
    )
    by_key: dict[tuple[str, ...], list[int]] = field(default_factory=lambda: defaultdict(list))
    taken: set[int] = field(default_factory=set)

    def first(self, candidates: list[int]) -> int | None:
        return next((i for i in candidates if i not in self.taken), None)


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
    pool = _Pool()
    for index, line in enumerate(mine):
        if line.reference:
            pool.by_reference[line.reference].append(index)
        if line.key:
            pool.by_key_date[(line.key, line.date)].append(index)
            pool.by_key[line.key].append(index)

    seen_references: set[str] = set()
    seen_keys: set[tuple[tuple[str, ...], datetime.date | None]] = set()
    for line in theirs:
        identity = (line.key, line.date)
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
        match = pool.first(pool.by_reference.get(line.reference, [])) if line.reference else None
        if match is None and line.key:
            match = pool.first(pool.by_key_date.get(identity, []))
        if match is None and line.key and line.date is not None:
            near = [
                i
                for i in pool.by_key.get(line.key, [])
                if i not in pool.taken
                and mine[i].date is not None
                and abs((mine[i].date - line.date).days) <= date_window_days  # type: ignore[operator]
            ]
            match = min(near, key=lambda i: abs((mine[i].date - line.date).days), default=None)  # type: ignore[operator]
        if match is None:
            yield Result((Outcome.MISSING_INTERNAL,), None, line)
            continue
        pool.taken.add(match)
        yield Result(_compare(mine[match], line, tolerance), mine[match], line)
    for index, line in enumerate(mine):
        if index not in pool.taken:
            yield Result((Outcome.MISSING_AT_COUNTERPARTY,), line, None)
