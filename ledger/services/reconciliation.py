"""Reconciliation runs and the breaks they open: record a run, then work each break to a resolution.

`reconciliation_run_record` runs the engine (ledger.reconciliation) over our lines and the
counterparty's, writing each result as it comes in chunks, so memory holds our side and one chunk
(issue 17's 100,000-line benchmark). A statement already recorded (same kind, counterparty and
statement key) returns its run and writes nothing: re-importing is idempotent.

Breaks: assign, comment, resolve with a reason code. A write-off waits for a second person
(escrow_project.common.four_eyes). A correction that moves money is an adjustment posted through
`adjustment_record` under a key derived from the break, never an edit. Every resolution step is
announced on `reconciliation_break_changed`; the business app that owns the run records it in the
audit log, and a step nobody recorded is refused (rolled back) rather than left unaudited.
"""

from __future__ import annotations

import datetime
import uuid
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import structlog
from django.db import IntegrityError, connection, transaction
from prometheus_client import Gauge

from escrow_project.common.amounts import clean_amount
from escrow_project.common.bulk import array_cursor, columns_of, unnest
from escrow_project.common.errors import ConflictError, NotFoundError, UnprocessableError
from escrow_project.common.four_eyes import decision_record, second_person_check
from ledger import selectors, signals
from ledger.models import (
    Account,
    BreakComment,
    BreakStatus,
    JournalEntry,
    ReasonCode,
    ReconciliationBreak,
    ReconciliationLine,
    ReconciliationRun,
    Side,
)
from ledger.reconciliation import Line, Result, reconcile_iter
from ledger.services.entries import adjustment_record

logger = structlog.get_logger(__name__)

BREAKS_OPEN = Gauge(
    "ledger_reconciliation_breaks_open",
    "Reconciliation breaks not yet resolved, by business and age in days (refreshed by a task and after each run)",
    ["business", "age"],
    multiprocess_mode="mostrecent",
)

CHUNK = 2000
# Reason codes that may carry a money correction (the others change nothing in the books).
_MOVES_MONEY = {ReasonCode.CORRECTED_INTERNALLY, ReasonCode.WRITE_OFF}


# The line columns in the order `_line_values` produces them, and their PostgreSQL types.
_LINE_FIELDS = (
    "run_id", "position", "outcome", "outcomes", "is_break", "reference", "key", "currency", "our_amount",
    "their_amount", "difference", "our_date", "their_date", "date_delta_days", "our_status", "their_status",
    "our_source", "their_source",
)  # fmt: skip
_LINE_TYPES = (
    "bigint", "integer", "varchar", "varchar", "boolean", "varchar", "varchar", "varchar", "numeric", "numeric",
    "numeric", "date", "date", "integer", "varchar", "varchar", "varchar", "varchar",
)  # fmt: skip


def _line_values(run_id: int, position: int, result: Result) -> tuple[Any, ...]:
    ours, theirs = result.ours, result.theirs
    either = theirs or ours
    assert either is not None  # the engine never yields a result with neither side
    return (
        run_id,
        position,
        result.outcomes[0],
        "," + ",".join(result.outcomes) + ",",
        result.is_break,
        (theirs.reference if theirs and theirs.reference else (ours.reference if ours else ""))[:255],
        " | ".join(either.key)[:255],
        either.currency,
        ours.amount if ours else None,
        theirs.amount if theirs else None,
        result.amount_delta,
        ours.date if ours else None,
        theirs.date if theirs else None,
        result.date_delta_days,
        (ours.status if ours else "")[:32],
        (theirs.status if theirs else "")[:32],
        (ours.source if ours else "")[:255],
        (theirs.source if theirs else "")[:255],
    )


def _flush(run: ReconciliationRun, rows: list[tuple[Any, ...]]) -> int:
    """Write a chunk of lines and a break for each line that is one; returns the breaks written.

    PostgreSQL: one INSERT ... UNNEST per table and chunk (model instances cost more than the SQL:
    this is most of a 100,000-line run). Elsewhere (the embedded SQLite): the ORM's bulk_create.
    """
    if not rows:
        return 0
    if connection.vendor != "postgresql":
        written = ReconciliationLine.objects.bulk_create(
            [ReconciliationLine(**dict(zip(_LINE_FIELDS, row, strict=True))) for row in rows]
        )
        breaks = [
            ReconciliationBreak(line=line, run=run, opened_at=run.created_at) for line in written if line.is_break
        ]
        ReconciliationBreak.objects.bulk_create(breaks)
        return len(breaks)
    columns = ", ".join(f'"{name}"' for name in _LINE_FIELDS)
    with array_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO ledger_reconciliationline ({columns}) SELECT * FROM {unnest(_LINE_TYPES)} "  # noqa: S608 -- constant identifiers, values bound
            "RETURNING id, is_break",
            columns_of(rows, len(_LINE_TYPES)),
        )
        break_lines = [line_id for line_id, is_break in cursor.fetchall() if is_break]
        if break_lines:
            cursor.execute(
                "INSERT INTO ledger_reconciliationbreak (public_id, line_id, run_id, status, opened_at, assignee, "
                "reason_code, note, correction, requested_by, decided_by, reason) "
                "SELECT u.public_id, u.line_id, %b, 'open', %b, '', '', '', '{}'::jsonb, '', '', '' "
                "FROM UNNEST(%b::uuid[], %b::bigint[]) AS u(public_id, line_id)",
                [run.pk, run.created_at, [uuid.uuid4() for _ in break_lines], break_lines],
            )
    return len(break_lines)


@transaction.atomic
def reconciliation_run_record(
    *,
    kind: str,
    business: str,
    counterparty: str,
    statement_key: str,
    ours: Iterable[Line],
    theirs: Iterable[Line],
    tolerance: Decimal = Decimal(0),
    date_window_days: int = 31,
    counterparty_name: str = "",
    statement_name: str = "",
    period_start: datetime.date | None = None,
    period_end: datetime.date | None = None,
    actor: str = "",
) -> tuple[ReconciliationRun, bool]:
    """Reconcile and record; returns (run, created). The same statement again returns its first run.

    `ours` and `theirs` are consumed only when the run is new: pass generators, and a re-import
    reads nothing from the database or the file beyond its key.
    """
    if tolerance < 0:
        raise UnprocessableError("The tolerance cannot be negative.", code="invalid_tolerance")
    identity = {"kind": kind, "counterparty": counterparty, "statement_key": statement_key}
    existing = ReconciliationRun.objects.filter(**identity).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            run = ReconciliationRun.objects.create(
                **identity,
                business=business,
                counterparty_name=counterparty_name[:200],
                statement_name=statement_name[:255],
                period_start=period_start,
                period_end=period_end,
                tolerance=tolerance,
                started_by=actor[:100],
            )
    except IntegrityError:
        # Another import of the same statement committed first: theirs is the run.
        return ReconciliationRun.objects.get(**identity), False

    counts: Counter[str] = Counter()
    rows: list[tuple[Any, ...]] = []
    breaks = 0
    position = 0
    for position, result in enumerate(
        reconcile_iter(ours, theirs, tolerance=tolerance, date_window_days=date_window_days), start=1
    ):
        counts.update(result.outcomes)
        rows.append(_line_values(run.pk, position, result))
        if len(rows) >= CHUNK:
            breaks += _flush(run, rows)
            rows = []
    breaks += _flush(run, rows)
    run.line_count, run.break_count, run.summary = position, breaks, dict(sorted(counts.items()))
    run.save(update_fields=["line_count", "break_count", "summary"])
    logger.info("reconciliation_run_recorded", run=str(run.public_id), kind=kind, lines=position, breaks=breaks)
    signals.reconciliation_run_recorded.send(sender=ReconciliationRun, run=run)
    transaction.on_commit(breaks_gauge_refresh)
    return run, True


def breaks_gauge_refresh() -> dict[str, int]:
    """Set the open-breaks gauge from the table; returns {"business/age": count}."""
    counts = selectors.breaks_open_by_age()
    for (business, age), count in counts.items():
        BREAKS_OPEN.labels(business=business, age=age).set(count)
    return {f"{business}/{age}": count for (business, age), count in counts.items()}


def _locked(break_id: int) -> ReconciliationBreak:
    row = ReconciliationBreak.objects.select_for_update().select_related("run", "line").filter(pk=break_id).first()
    if row is None:
        raise NotFoundError("No such break.")
    return row


def _open(row: ReconciliationBreak) -> None:
    if row.status != BreakStatus.OPEN:
        raise ConflictError(f"This break is already {row.get_status_display().lower()}.", code="break_not_open")


def _comment(row: ReconciliationBreak, author: str, body: str) -> None:
    BreakComment.objects.create(break_row=row, author=author[:100], body=body)


def _announce(row: ReconciliationBreak, event: str, actor: str) -> None:
    """Tell the owning business app; it records the audit event and answers True. Unrecorded is refused."""
    answers = signals.reconciliation_break_changed.send(
        sender=ReconciliationBreak, break_row=row, event=event, actor=actor
    )
    if not any(answer for _receiver, answer in answers):
        raise ConflictError(
            f"No audit receiver recorded this {row.run.business} break; nothing was changed.",
            code="break_not_audited",
        )


def _correction_clean(correction: dict[str, Any] | None, reason_code: str) -> dict[str, Any]:
    if not correction:
        return {}
    if reason_code not in _MOVES_MONEY:
        raise UnprocessableError(
            "Only a correction made internally or a write-off moves money.", code="correction_not_allowed"
        )
    try:
        account = Account.objects.filter(public_id=uuid.UUID(str(correction.get("account")))).first()
    except ValueError:
        account = None
    if account is None:
        raise UnprocessableError("The correction names no known account.", code="correction_account_unknown")
    # The platform's one amount parser: a string in the account's currency, positive, no more
    # decimals than the currency has (it was `Decimal(str(...))`, which took "1e3" and 12.345 USD).
    amount = clean_amount(correction.get("amount"), account.currency, field="correction.amount")
    direction = correction.get("direction")
    if direction not in (Side.DEBIT, Side.CREDIT):
        raise UnprocessableError("direction must be 'credit' or 'debit'.", code="invalid_side")
    return {
        "account": str(account.public_id),
        "amount": str(amount),
        "currency": account.currency,
        "direction": direction,
    }


def _post_correction(row: ReconciliationBreak, actor: str) -> JournalEntry | None:
    if not row.correction:
        return None
    account = Account.objects.get(public_id=row.correction["account"])
    return adjustment_record(
        idempotency_key=f"reconciliation-break:{row.public_id}:correction",
        account_id=account.pk,
        amount=Decimal(row.correction["amount"]),
        currency=row.correction["currency"],
        direction=row.correction["direction"],
        reason=f"Reconciliation break {row.public_id}: {row.note}"[:500],
        actor=actor,
    )


@transaction.atomic
def break_assign(*, break_id: int, assignee: str, actor: str) -> ReconciliationBreak:
    """Give an open break to someone to work."""
    row = _locked(break_id)
    if row.status == BreakStatus.RESOLVED:
        raise ConflictError("This break is already resolved.", code="break_not_open")
    row.assignee = assignee[:100]
    row.save(update_fields=["assignee"])
    _comment(row, actor, f"assigned to {assignee or 'nobody'}")
    return row


@transaction.atomic
def break_comment(*, break_id: int, actor: str, body: str) -> BreakComment:
    """A note on a break (what was found, who was asked)."""
    if not body.strip():
        raise UnprocessableError("A comment needs some text.", code="comment_required")
    row = _locked(break_id)
    return BreakComment.objects.create(break_row=row, author=actor[:100], body=body)


@transaction.atomic
def break_resolve(
    *, break_id: int, actor: str, reason_code: str, note: str, correction: dict[str, Any] | None = None
) -> ReconciliationBreak:
    """Resolve with a reason code; a write-off is only requested here and waits for a second person.

    `correction` ({account: public id, amount, direction}) posts an adjustment of that account
    against the adjustments account, now or (for a write-off) when approved.
    """
    if reason_code not in ReasonCode.values:
        raise UnprocessableError(f"reason_code must be one of {', '.join(ReasonCode.values)}.", code="invalid_reason")
    if not note.strip():
        raise UnprocessableError("A resolution needs a note saying why.", code="note_required")
    row = _locked(break_id)
    _open(row)
    row.reason_code, row.note, row.correction = reason_code, note, _correction_clean(correction, reason_code)
    if reason_code == ReasonCode.WRITE_OFF:
        row.ask_write_off(by=actor[:100])
        row.save(update_fields=["status", "reason_code", "note", "correction", "requested_by"])
        _comment(row, actor, f"write-off requested: {note}")
        _announce(row, "write_off_requested", actor)
        return row
    row.correction_entry = _post_correction(row, actor)
    row.resolve(by=actor[:100])
    row.save(
        update_fields=["status", "reason_code", "note", "correction", "correction_entry", "decided_by", "decided_at"]
    )
    _comment(row, actor, f"resolved ({row.get_reason_code_display()}): {note}")
    _announce(row, "resolved", actor)
    return row


@transaction.atomic
def break_write_off_approve(*, break_id: int, actor: str) -> ReconciliationBreak:
    """The second person approves a write-off: its correction (if any) is posted, the break resolved."""
    row = _locked(break_id)
    second_person_check(row=row, first_person=row.requested_by, actor=actor, closed_code="break_not_pending")
    row.correction_entry = _post_correction(row, row.requested_by)
    decision_record(row, status=BreakStatus.RESOLVED, actor=actor[:100], also=("correction_entry",))
    _comment(row, actor, "write-off approved")
    _announce(row, "write_off_approved", actor)
    return row


@transaction.atomic
def break_write_off_reject(*, break_id: int, actor: str, reason: str) -> ReconciliationBreak:
    """The second person refuses the write-off: the break is open again and nothing was posted."""
    row = _locked(break_id)
    second_person_check(row=row, first_person=row.requested_by, actor=actor, closed_code="break_not_pending")
    row.reject_write_off(reason)
    row.save(update_fields=["status", "reason_code", "correction", "requested_by", "reason"])
    _comment(row, actor, f"write-off rejected: {reason}")
    _announce(row, "write_off_rejected", actor)
    return row
