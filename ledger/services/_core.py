"""The posting engine shared by every ledger service (private to `ledger.services`).

Order of work in every posting, so that concurrent callers never deadlock and never double-post:
0. lock the hold rows it resolves (by id; hold_post, hold_void, batches);
1. claim the idempotency key: INSERT ... ON CONFLICT DO NOTHING. A concurrent duplicate blocks on
   the unique index while holding no account, then sees the committed row and replays it (a batch
   claims the keys of all its operations here, see `Claims`);
2. lock the account rows (by id) with SELECT ... FOR UPDATE;
3. validate against the locked rows (existence, closed, currency, guards);
4. move the four counters in SQL (`x = x + delta`, one statement), never read-modify-write in Python;
5. insert the journal lines with the account's posted counters after each line.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar, cast

from django.db import IntegrityError, connection
from django.db.models import Field, Model
from django.utils import timezone
from prometheus_client import Counter

from escrow_project.common import amounts
from escrow_project.common.bulk import array_cursor, columns_of, db_values, insert_unnest, unnest
from escrow_project.common.errors import DomainError
from escrow_project.common.money import MINOR_UNITS
from ledger.errors import (
    AccountClosedError,
    CurrencyMismatchError,
    IdempotencyConflictError,
    InsufficientFundsError,
    InvalidAmountError,
    UnbalancedEntryError,
    UnknownAccountError,
)
from ledger.models import JournalEntry

ZERO = Decimal(0)
M = TypeVar("M", bound=Model)
POSTINGS = Counter("ledger_postings_total", "Journal entries and holds written (replays excluded)", ["kind"])
_STORAGE = Decimal("0.0001")
MAX_KEY_LENGTH = 255


def amount_clean(value: object, currency: str, *, what: str = "amount") -> Decimal:
    """A strictly positive Decimal in the currency's minor unit (canonical, so 10 and 10.00 fingerprint alike)."""
    currency_clean(currency)
    return amounts.clean_amount(value, currency, field=what, error=InvalidAmountError)


def currency_clean(currency: str) -> str:
    if currency not in MINOR_UNITS:
        raise CurrencyMismatchError(f"Unsupported currency {currency!r}.")
    return currency


def key_clean(key: str) -> str:
    if not isinstance(key, str) or not (1 <= len(key) <= MAX_KEY_LENGTH) or not key.isprintable():
        raise DomainError("The idempotency key must be 1 to 255 printable characters.", code="invalid_idempotency_key")
    return key


def fingerprint(content: dict[str, Any]) -> str:
    """What a key promises: the money-moving content of the request (not descriptions or metadata)."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def conflict(key: str, what: str) -> IdempotencyConflictError:
    return IdempotencyConflictError(
        f"Idempotency key {key!r} was already used for a different {what}; use a new key for a new request."
    )


def _dec(value: Any) -> Decimal:
    # PostgreSQL returns Decimal; SQLite (the embedded default) may return int or float.
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value)).quantize(_STORAGE)


def _col(model: type[Model], name: str) -> str:
    return connection.ops.quote_name(cast(Any, model._meta.get_field(name)).column)


def insert_unless_exists(
    model: type[Model], values: dict[str, Any], conflict_fields: Sequence[str] = ("idempotency_key",)
) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id: the new id, or None when the key exists."""
    fields = [model._meta.get_field(name) for name in values]
    columns = ", ".join(connection.ops.quote_name(cast(Any, f).column) for f in fields)
    params = [f.get_db_prep_save(values[f.name], connection) for f in fields]  # type: ignore[union-attr]
    placeholders = ", ".join(["%s"] * len(params))
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({placeholders}) "  # noqa: S608 -- identifiers from model metadata, values bound
        f"ON CONFLICT ({', '.join(_col(model, name) for name in conflict_fields)}) DO NOTHING RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else int(row[0])


@dataclass(slots=True)
class Locked:
    """An account row as read under its lock; counters mirror the database after each move."""

    id: int
    currency: str
    normal_side: str
    closed: bool
    debits_guard: bool
    credits_guard: bool
    posted_debits: Decimal
    posted_credits: Decimal
    pending_debits: Decimal
    pending_credits: Decimal


@dataclass(slots=True)
class Delta:
    posted_debits: Decimal = ZERO
    posted_credits: Decimal = ZERO
    pending_debits: Decimal = ZERO
    pending_credits: Decimal = ZERO


@dataclass(slots=True)
class Plan:
    """Counter moves per account for one operation, plus the journal lines it writes."""

    deltas: dict[int, Delta] = field(default_factory=dict)
    lines: list[tuple[int, str, Decimal, str]] = field(default_factory=list)  # account, side, amount, currency

    def delta(self, account_id: int) -> Delta:
        if account_id not in self.deltas:
            self.deltas[account_id] = Delta()
        return self.deltas[account_id]

    def line(self, account_id: int, side: str, amount: Decimal, currency: str) -> None:
        self.lines.append((account_id, side, amount, currency))
        if side == "debit":
            self.delta(account_id).posted_debits += amount
        else:
            self.delta(account_id).posted_credits += amount


class Claimed(Exception):
    """Raised in a batch's claim pass once an operation's key is claimed, before any account is locked."""


@dataclass(slots=True)
class Writes:
    """A batch's second pass, buffered: counter moves summed per account, journal lines and hold
    resolutions, written by `writes_flush` in a few set-based statements instead of two to four
    statements per operation. Guards are still checked operation by operation, in order, against
    the locked rows' counters kept in memory (`plan_apply`), so a batch refuses exactly what the
    same operations one at a time would refuse."""

    deltas: dict[int, Delta] = field(default_factory=dict)
    lines: list[tuple[Any, ...]] = field(default_factory=list)
    holds: list[tuple[Any, ...]] = field(default_factory=list)  # id, status, key, at, posted, entry, reason


@dataclass(slots=True)
class Claims:
    """A batch's keys, claimed for every operation before it locks accounts (the engine's order: key, then
    accounts). `claiming` is the first pass: each operation states the row that claims its key
    (`claim`), and `claims_insert` inserts them per table in one statement. The second pass reads each
    operation's claim by its index (`take`: the new id, or None when the key already existed, and the
    values inserted) and buffers its writes in `writes`."""

    claiming: bool = True
    index: int = 0
    slots: dict[int, tuple[int | None, dict[str, Any]]] = field(default_factory=dict)
    wanted: dict[int, tuple[type[Model], dict[str, Any]]] = field(default_factory=dict)
    writes: Writes = field(default_factory=Writes)

    def take(self) -> tuple[int | None, dict[str, Any]]:
        return self.slots[self.index]

    def claim(self, model: type[Model], values: dict[str, Any]) -> None:
        self.wanted[self.index] = (model, values)
        raise Claimed


def claims_insert(claims: Claims) -> None:
    """Insert every claimed row, one statement per table, in operation order."""
    by_model: dict[type[Model], list[int]] = {}
    for index, (model, _values) in claims.wanted.items():
        by_model.setdefault(model, []).append(index)
    for model, indexes in by_model.items():
        ids = insert_many_unless_exist(model, [claims.wanted[i][1] for i in indexes])
        for index, new_id in zip(indexes, ids, strict=True):
            claims.slots[index] = (new_id, claims.wanted[index][1])
    claims.wanted.clear()


def insert_many_unless_exist(model: type[Model], rows: Sequence[dict[str, Any]]) -> list[int | None]:
    """`insert_unless_exists` for many rows in one statement: per row, its new id or None.

    A key repeated inside `rows` is inserted once (the first row) and is None for the later ones,
    just as one-by-one calls would see it.
    """
    if not rows:
        return []
    fields = [cast(Field, model._meta.get_field(name)) for name in rows[0]]
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    key = _col(model, "idempotency_key")
    inserted: dict[str, int] = {}
    if connection.vendor == "postgresql":
        with array_cursor() as cursor:
            cursor.execute(
                insert_unnest(model, fields) + f" ON CONFLICT ({key}) DO NOTHING RETURNING id, {key}",
                [db_values(f, (row[f.name] for row in rows)) for f in fields],
            )
            inserted = {k: int(new_id) for new_id, k in cursor.fetchall()}
        return [inserted.pop(row["idempotency_key"], None) for row in rows]
    # SQLite: no arrays; one statement per row keeps under its parameter limit.
    with connection.cursor() as cursor:
        for row in ([f.get_db_prep_save(r[f.name], connection) for f in fields] for r in rows):
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))}) "  # noqa: S608
                f"ON CONFLICT ({key}) DO NOTHING RETURNING id, {key}",
                row,
            )
            inserted.update({k: int(new_id) for new_id, k in cursor.fetchall()})
    return [inserted.pop(row["idempotency_key"], None) for row in rows]


_ACCOUNT_COLUMNS = (
    "id, currency, normal_side, closed_at, debits_must_not_exceed_credits, credits_must_not_exceed_debits, "
    "posted_debits, posted_credits, pending_debits, pending_credits"
)


def accounts_lock(ids: Iterable[int], locked: dict[int, Locked] | None = None) -> dict[int, Locked]:
    """Lock the accounts in id order (SELECT ... FOR UPDATE); unknown ids raise unknown_account."""
    locked = {} if locked is None else locked
    wanted = sorted({int(i) for i in ids} - set(locked))
    if not wanted:
        return locked
    suffix = " FOR UPDATE" if connection.features.has_select_for_update else ""
    placeholders = ", ".join(["%s"] * len(wanted))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM ledger_account WHERE id IN ({placeholders}) ORDER BY id{suffix}",  # noqa: S608
            wanted,
        )
        for row in cursor.fetchall():
            locked[row[0]] = Locked(
                id=row[0],
                currency=row[1],
                normal_side=row[2],
                closed=row[3] is not None,
                debits_guard=bool(row[4]),
                credits_guard=bool(row[5]),
                posted_debits=_dec(row[6]),
                posted_credits=_dec(row[7]),
                pending_debits=_dec(row[8]),
                pending_credits=_dec(row[9]),
            )
    missing = [i for i in wanted if i not in locked]
    if missing:
        raise UnknownAccountError(f"No account with id {', '.join(map(str, missing))}.")
    return locked


def accounts_validate(
    locked: dict[int, Locked], ids: Sequence[int], currency: str, *, allow_closed: bool = False
) -> None:
    for account_id in ids:
        account = locked[account_id]
        if account.closed and not allow_closed:
            raise AccountClosedError(f"Account {account_id} is closed and accepts no new postings.")
        if account.currency != currency:
            raise CurrencyMismatchError(f"Account {account_id} holds {account.currency}; the amount is in {currency}.")


def _guard_check(account: Locked, delta: Delta) -> None:
    debit_side_up = delta.posted_debits + delta.pending_debits > 0
    credit_side_up = delta.posted_credits + delta.pending_credits > 0
    if account.debits_guard and debit_side_up:
        after_out = account.posted_debits + delta.posted_debits + account.pending_debits + delta.pending_debits
        after_in = account.posted_credits + delta.posted_credits
        if after_out > after_in:
            available = account.posted_credits - account.posted_debits - account.pending_debits
            raise InsufficientFundsError(
                f"Account {account.id} has {available} {account.currency} available; "
                f"this needs {delta.posted_debits + delta.pending_debits - delta.posted_credits} more."
            )
    if account.credits_guard and credit_side_up:
        after_out = account.posted_credits + delta.posted_credits + account.pending_credits + delta.pending_credits
        after_in = account.posted_debits + delta.posted_debits
        if after_out > after_in:
            available = account.posted_debits - account.posted_credits - account.pending_credits
            raise InsufficientFundsError(
                f"Account {account.id} has {available} {account.currency} available; "
                f"this needs {delta.posted_credits + delta.pending_credits - delta.posted_debits} more."
            )


def plan_apply(plan: Plan, locked: dict[int, Locked], *, entry_id: int | None, writes: Writes | None = None) -> None:
    """Check guards on the locked rows, move the counters in SQL, then write the lines.

    With `writes` (a batch) the checks and the in-memory counters advance now and the SQL waits for
    `writes_flush`.
    """
    moving = {aid: d for aid, d in plan.deltas.items() if d != Delta()}
    for account_id, delta in moving.items():
        _guard_check(locked[account_id], delta)
    before = {aid: (locked[aid].posted_debits, locked[aid].posted_credits) for aid in {line[0] for line in plan.lines}}
    if writes is None:
        _counters_move(moving, locked)
    else:
        for account_id, delta in moving.items():
            _delta_add(_writes_delta(writes, account_id), delta)
            _delta_add(locked[account_id], delta)
    if not plan.lines:
        return
    assert entry_id is not None
    now = timezone.now()  # taken under the account locks, so per account time follows posting order
    rows = []
    for account_id, side, amount, currency in plan.lines:
        debits, credits = before[account_id]
        if side == "debit":
            debits += amount
        else:
            credits += amount
        before[account_id] = (debits, credits)
        rows.append((entry_id, account_id, side, amount, currency, debits, credits, now))
    if writes is None:
        _lines_insert(rows)
    else:
        writes.lines.extend(rows)


def _writes_delta(writes: Writes, account_id: int) -> Delta:
    if account_id not in writes.deltas:
        writes.deltas[account_id] = Delta()
    return writes.deltas[account_id]


def _delta_add(target: Delta | Locked, delta: Delta) -> None:
    target.posted_debits += delta.posted_debits
    target.posted_credits += delta.posted_credits
    target.pending_debits += delta.pending_debits
    target.pending_credits += delta.pending_credits


_LINE_COLUMNS = "entry_id, account_id, side, amount, currency, posted_debits_after, posted_credits_after, created_at"
_LINE_TYPES = ["bigint", "bigint", "varchar", "numeric", "varchar", "numeric", "numeric", "timestamptz"]


def _lines_insert(rows: Sequence[tuple[Any, ...]]) -> None:
    if connection.vendor == "postgresql":
        with array_cursor() as cursor:
            cursor.execute(
                f"INSERT INTO ledger_journalline ({_LINE_COLUMNS}) SELECT * FROM {unnest(_LINE_TYPES)}",  # noqa: S608 -- identifiers from model metadata, values bound
                columns_of(rows, len(_LINE_TYPES)),
            )
        return
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 100):  # SQLite's parameter limit
            part = rows[start : start + 100]
            placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(part))
            cursor.execute(
                f"INSERT INTO ledger_journalline ({_LINE_COLUMNS}) VALUES {placeholders}",  # noqa: S608
                [value for row in part for value in row],
            )


def writes_flush(writes: Writes, locked: dict[int, Locked]) -> None:
    """Write a batch's buffered second pass: counters, then lines, then hold resolutions."""
    if writes.deltas:
        if connection.vendor == "postgresql":
            for row in _counters_add(writes.deltas):
                # The rows are locked by us: the database must now hold what the checks saw in memory.
                a = locked[row[0]]
                expected = (a.posted_debits, a.posted_credits, a.pending_debits, a.pending_credits)
                if tuple(map(_dec, row[1:])) != expected:
                    raise AssertionError(f"ledger: account {row[0]} moved under a lock this batch holds")
        else:
            _counters_write({aid: locked[aid] for aid in writes.deltas})
    if writes.lines:
        _lines_insert(writes.lines)
    if writes.holds:
        _holds_resolve(writes.holds)
    writes.deltas.clear()
    writes.lines.clear()
    writes.holds.clear()


def _counters_move(moving: dict[int, Delta], locked: dict[int, Locked]) -> None:
    if not moving:
        return
    if connection.vendor == "postgresql":
        returned = _counters_add(moving)
    else:
        # SQLite keeps decimals as floats, so SQL arithmetic would drift; it also serialises writers
        # (IMMEDIATE transactions), so writing the exact Decimal result computed here is safe.
        for account_id, d in moving.items():
            _delta_add(locked[account_id], d)
        returned = _counters_write({aid: locked[aid] for aid in moving})
    for row in returned:
        account = locked[row[0]]
        account.posted_debits = _dec(row[1])
        account.posted_credits = _dec(row[2])
        account.pending_debits = _dec(row[3])
        account.pending_credits = _dec(row[4])


def _counters_add(moving: dict[int, Delta]) -> list[tuple[Any, ...]]:
    """PostgreSQL: `x = x + delta` for every account in one statement; returns the new counters."""
    values = ", ".join(["(%s::bigint, %s::numeric, %s::numeric, %s::numeric, %s::numeric)"] * len(moving))
    params: list[Any] = []
    for account_id, d in moving.items():
        params.extend((account_id, d.posted_debits, d.posted_credits, d.pending_debits, d.pending_credits))
    with connection.cursor() as cursor, _guard_refusals():
        cursor.execute(
            "UPDATE ledger_account AS a SET posted_debits = a.posted_debits + v.pd, "  # noqa: S608 -- identifiers from model metadata, values bound
            "posted_credits = a.posted_credits + v.pc, pending_debits = a.pending_debits + v.qd, "
            "pending_credits = a.pending_credits + v.qc "
            f"FROM (VALUES {values}) AS v(id, pd, pc, qd, qc) WHERE a.id = v.id "
            "RETURNING a.id, a.posted_debits, a.posted_credits, a.pending_debits, a.pending_credits",
            params,
        )
        return cursor.fetchall()


def _counters_write(after: dict[int, Locked]) -> list[tuple[Any, ...]]:
    """SQLite: write the counters computed in Python (exact Decimals) for each account."""
    returned: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for account_id, a in after.items():
            values = (a.posted_debits, a.posted_credits, a.pending_debits, a.pending_credits)
            cursor.execute(
                "UPDATE ledger_account SET posted_debits = %s, posted_credits = %s, pending_debits = %s, "
                "pending_credits = %s WHERE id = %s",
                [*(str(v) for v in values), account_id],
            )
            returned.append((account_id, *values))
    return returned


_RESOLUTION_TYPES = ["bigint", "varchar", "varchar", "timestamptz", "numeric", "bigint", "varchar"]


def _holds_resolve(rows: Sequence[tuple[Any, ...]]) -> None:
    """Write many hold resolutions (post or void): one UPDATE ... FROM UNNEST on PostgreSQL."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            for hold_id, status, key, at, posted, entry_id, reason in rows:
                cursor.execute(
                    "UPDATE ledger_hold SET status = %s, resolution_key = %s, resolved_at = %s, posted_amount = %s, "
                    "post_entry_id = %s, void_reason = %s WHERE id = %s",
                    [status, key, at, None if posted is None else str(posted), entry_id, reason, hold_id],
                )
        return
    with array_cursor() as cursor:
        cursor.execute(
            "UPDATE ledger_hold AS h SET status = v.status, resolution_key = v.key, resolved_at = v.at, "  # noqa: S608 -- identifiers from model metadata, values bound
            "posted_amount = v.posted, post_entry_id = v.entry_id, void_reason = v.reason "
            f"FROM {unnest(_RESOLUTION_TYPES)} AS v(id, status, key, at, posted, entry_id, reason) WHERE h.id = v.id",
            columns_of(rows, len(_RESOLUTION_TYPES)),
        )


def lines_balance_check(lines: Sequence[tuple[int, str, Decimal, str]]) -> None:
    """Debits equal credits per currency, at least one of each; else unbalanced_entry."""
    if len(lines) < 2:
        raise UnbalancedEntryError("An entry needs at least one debit line and one credit line.")
    net: dict[str, Decimal] = {}
    for _account, side, amount, currency in lines:
        net[currency] = net.get(currency, ZERO) + (amount if side == "debit" else -amount)
    uneven = {c: n for c, n in net.items() if n != 0}
    if uneven:
        detail = ", ".join(f"{c} debits exceed credits by {n}" for c, n in sorted(uneven.items()))
        raise UnbalancedEntryError(f"The entry is unbalanced: {detail}.")


def _entry_values(
    *,
    key: str,
    kind: str,
    content: dict[str, Any],
    description: str,
    metadata: dict[str, Any] | None,
    reverses_id: int | None,
    batch_id: int | None,
) -> dict[str, Any]:
    key_clean(key)
    return {
        "public_id": uuid.uuid4(),
        "idempotency_key": key,
        "fingerprint": fingerprint({"kind": kind, **content}),
        "kind": kind,
        "description": description[:500],
        "metadata": metadata or {},
        "reverses": reverses_id,
        "batch": batch_id,
        "created_at": timezone.now(),
    }


class ClaimRefused(Exception):
    """`post_combined`'s `claim_if` was false: nothing was written (the caller's cached fact was stale)."""


def _entry_existing(values: dict[str, Any]) -> JournalEntry:
    existing = JournalEntry.objects.filter(idempotency_key=values["idempotency_key"]).first()
    if existing is None:
        raise ClaimRefused
    if existing.fingerprint != values["fingerprint"]:
        raise conflict(values["idempotency_key"], "entry")
    existing.replayed = True
    return existing


def written(model: type[M], row_id: int, values: dict[str, Any]) -> M:
    """The instance of a row just written from `values` (keyed by field name; absent fields are NULL).

    Built positionally, as the ORM builds rows it reads: Django's keyword `__init__` cost a quarter
    of a 500-hold batch's Python time.
    """
    by_attname = {cast(Any, model._meta.get_field(name)).attname: value for name, value in values.items()}
    by_attname["id"] = row_id
    attnames = [f.attname for f in model._meta.concrete_fields]
    return model.from_db("default", attnames, [by_attname.get(name) for name in attnames])


def _entry_instance(entry_id: int, values: dict[str, Any]) -> JournalEntry:
    return written(JournalEntry, entry_id, values)


def entry_claim(
    *,
    key: str,
    kind: str,
    content: dict[str, Any],
    description: str,
    metadata: dict[str, Any] | None,
    reverses_id: int | None = None,
    batch_id: int | None = None,
) -> tuple[JournalEntry, bool]:
    """Insert the entry header under its key, or return the existing one (raising on other content)."""
    values = _entry_values(
        key=key,
        kind=kind,
        content=content,
        description=description,
        metadata=metadata,
        reverses_id=reverses_id,
        batch_id=batch_id,
    )
    entry_id = insert_unless_exists(JournalEntry, values)
    if entry_id is None:
        return _entry_existing(values), False
    return _entry_instance(entry_id, values), True


def entry_post(
    *,
    key: str,
    kind: str,
    content: dict[str, Any],
    lines: Sequence[tuple[int, str, Decimal, str]],
    description: str = "",
    metadata: dict[str, Any] | None = None,
    reverses_id: int | None = None,
    batch_id: int | None = None,
    locked: dict[int, Locked] | None = None,
    extra: Plan | None = None,
    allow_closed: bool = False,
    then: tuple[str, list[Any]] | None = None,
    claims: Claims | None = None,
    claim_if: tuple[str, list[Any]] | None = None,
) -> tuple[JournalEntry, bool]:
    """Post a balanced entry (and optional extra pending moves); returns (entry, created).

    `then` and `claim_if` (PostgreSQL fast path only, i.e. when `locked` is None) ride along in the
    same statement; when `claim_if` is false and the key is new, nothing is written and `ClaimRefused`
    is raised.
    `claims` (batches, with `locked`): the first pass only claims the key, the second posts under it.
    """
    lines_balance_check(lines)
    plan = extra or Plan()
    for account_id, side, amount, currency in lines:
        plan.line(account_id, side, amount, currency)
    entry_fields: dict[str, Any] = {
        "key": key,
        "kind": kind,
        "content": content,
        "description": description,
        "metadata": metadata,
        "reverses_id": reverses_id,
        "batch_id": batch_id,
    }
    if locked is None and connection.vendor == "postgresql":
        values = _entry_values(**entry_fields)
        entry_id = post_combined(
            plan=plan,
            currencies=_line_currencies(lines),
            allow_closed=allow_closed,
            entry_values=values,
            then=then,
            claim_if=claim_if,
        )
        if entry_id is None:
            return _entry_existing(values), False
        POSTINGS.labels(kind=kind).inc()
        return _entry_instance(entry_id, values), True
    if claims is None:
        entry, created = entry_claim(**entry_fields)
    else:
        if claims.claiming:
            claims.claim(JournalEntry, _entry_values(**entry_fields))  # raises Claimed
        entry_id, values = claims.take()
        if entry_id is None:
            entry, created = _entry_existing(values), False
        else:
            entry, created = _entry_instance(entry_id, values), True
    if not created:
        return entry, False
    locked = accounts_lock([line[0] for line in lines], locked)
    for account_id, _side, _amount, currency in lines:
        accounts_validate(locked, [account_id], currency, allow_closed=allow_closed)
    plan_apply(plan, locked, entry_id=entry.id, writes=None if claims is None else claims.writes)
    POSTINGS.labels(kind=kind).inc()
    return entry, True


def _line_currencies(lines: Sequence[tuple[int, str, Decimal, str]]) -> dict[int, str]:
    currencies: dict[int, str] = {}
    for account_id, _side, _amount, currency in lines:
        if currencies.setdefault(account_id, currency) != currency:
            raise CurrencyMismatchError(f"Account {account_id} appears in the entry with two currencies.")
    return currencies


def post_combined(
    *,
    plan: Plan,
    currencies: dict[int, str],
    allow_closed: bool,
    entry_values: dict[str, Any] | None = None,
    claim_model: type[Model] = JournalEntry,
    then: tuple[str, list[Any]] | None = None,
    claim_if: tuple[str, list[Any]] | None = None,
) -> int | None:
    """PostgreSQL fast path: claim the key, lock, check, move and write lines in ONE statement.

    Same order as the slow path (claim, then SELECT ... ORDER BY id FOR UPDATE, then `x = x + delta`),
    in data-modifying CTEs, so a posting is one round trip instead of four. Returns the new entry id,
    None when the key already exists (nothing was touched), or 0 for an entry-less move (holds).
    Raises the specific error when an account is unknown, closed, in another currency or would overdraw.
    `claim_model` is the table the key is claimed in (journal entries, or holds for hold_create); `then`
    is one more data-modifying CTE `t AS (...)` run only when every account moved (the hold's own update).
    `claim_if` is a SQL condition the key is claimed under (false: nothing happens, as for an existing key).
    """
    ids = sorted(plan.deltas)
    params: list[Any] = []
    parts: list[str] = []
    claim_guard = ""
    if entry_values is not None:
        fields = [claim_model._meta.get_field(name) for name in entry_values]
        columns = ", ".join(cast(Any, f).column for f in fields)
        params.extend(cast(Any, f).get_db_prep_save(entry_values[f.name], connection) for f in fields)
        table = claim_model._meta.db_table
        condition = ""
        if claim_if is not None:
            condition = f" WHERE {claim_if[0]}"
            params.extend(claim_if[1])
        parts.append(
            f"e AS (INSERT INTO {table} ({columns}) SELECT {', '.join(['%s'] * len(fields))}{condition} "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id)"
        )
        claim_guard = " AND EXISTS (SELECT 1 FROM e)"
    deltas_sql = ", ".join(["(%s::bigint, %s::numeric, %s::numeric, %s::numeric, %s::numeric, %s::varchar)"] * len(ids))
    for account_id in ids:
        d = plan.deltas[account_id]
        params.extend(
            (account_id, d.posted_debits, d.posted_credits, d.pending_debits, d.pending_credits, currencies[account_id])
        )
    parts.append(f"v(id, pd, pc, qd, qc, cur) AS (VALUES {deltas_sql})")
    parts.append(
        "l AS MATERIALIZED (SELECT a.id FROM ledger_account a "  # noqa: S608
        f"WHERE a.id IN (SELECT id FROM v){claim_guard} ORDER BY a.id FOR UPDATE)"
    )
    # The overdraft guard is the CHECK constraint, evaluated on the row actually written (the latest
    # version, under our lock); a WHERE on values read earlier in the statement could be stale.
    parts.append(
        "u AS (UPDATE ledger_account a SET posted_debits = a.posted_debits + v.pd, "
        "posted_credits = a.posted_credits + v.pc, pending_debits = a.pending_debits + v.qd, "
        "pending_credits = a.pending_credits + v.qc FROM v "
        "WHERE a.id = v.id AND a.id IN (SELECT id FROM l) AND a.currency = v.cur "
        "AND (%s OR a.closed_at IS NULL) RETURNING a.id, a.posted_debits, a.posted_credits, v.pd, v.pc)"
    )
    params.append(allow_closed)
    if entry_values is not None and plan.lines and claim_model is JournalEntry:
        lines_sql = ", ".join(["(%s::int, %s::bigint, %s::varchar, %s::numeric, %s::varchar)"] * len(plan.lines))
        parts.append(f"ln(ord, account_id, side, amount, currency) AS (VALUES {lines_sql})")
        for ordinal, (account_id, side, amount, currency) in enumerate(plan.lines):
            params.extend((ordinal, account_id, side, amount, currency))
        # Running counters per line: the value before this entry plus its lines on the account so far.
        parts.append(
            "ins AS (INSERT INTO ledger_journalline (entry_id, account_id, side, amount, currency, "
            "posted_debits_after, posted_credits_after, created_at) "
            "SELECT e.id, ln.account_id, ln.side, ln.amount, ln.currency, "
            "u.posted_debits - u.pd + SUM(CASE WHEN ln.side = 'debit' THEN ln.amount ELSE 0 END) OVER w, "
            "u.posted_credits - u.pc + SUM(CASE WHEN ln.side = 'credit' THEN ln.amount ELSE 0 END) OVER w, "
            "clock_timestamp() FROM ln JOIN u ON u.id = ln.account_id CROSS JOIN e "
            "WHERE (SELECT count(*) FROM u) = %s "
            "WINDOW w AS (PARTITION BY ln.account_id ORDER BY ln.ord ROWS UNBOUNDED PRECEDING))"
        )
        params.append(len(ids))
    if then is not None:
        parts.append(then[0])
        params.extend(then[1])
        params.append(len(ids))
    entry_column = "(SELECT id FROM e)" if entry_values is not None else "0"
    sql = "WITH " + ", ".join(parts) + f" SELECT {entry_column}, (SELECT count(*) FROM u)"  # noqa: S608
    with connection.cursor() as cursor:
        with _guard_refusals():
            cursor.execute(sql, params)
        entry_id, moved = cursor.fetchone()
    if entry_values is not None and entry_id is None:
        return None  # the key exists; nothing was locked or moved
    if moved == len(ids):
        return int(entry_id)
    # An account is unknown, closed or in another currency: read the rows again and name the problem.
    locked = accounts_lock(ids)
    for account_id in ids:
        accounts_validate(locked, [account_id], currencies[account_id], allow_closed=allow_closed)
    raise AssertionError("ledger: an account refused the move for no known reason")  # pragma: no cover


# A negative counter (ledger_account_counters_non_negative) would be a bug, not a refusal: it stays an error.
_GUARD_CONSTRAINTS = ("ledger_account_debits_within_credits", "ledger_account_credits_within_debits")


@contextmanager
def _guard_refusals() -> Iterator[None]:
    """An overdraft guard's CHECK violation becomes `insufficient_funds` naming the account. The
    transaction is aborted: the atomic block the service runs in rolls it back."""
    try:
        yield
    except IntegrityError as exc:
        failing = _failing_account(exc)
        if failing is None:
            raise
        raise InsufficientFundsError(
            f"Account {failing} has too little available for this operation (pending holds count)."
        ) from None


def _failing_account(exc: IntegrityError) -> int | None:
    """The account id of a guard CHECK violation (its failing row starts with the id), else None."""
    diag = getattr(exc.__cause__, "diag", None)
    if diag is None or getattr(diag, "constraint_name", None) not in _GUARD_CONSTRAINTS:
        return None
    match = re.search(r"Failing row contains \((\d+),", getattr(diag, "message_detail", "") or "")
    return int(match.group(1)) if match else 0
