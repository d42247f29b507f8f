"""The rail's own statement for a day against the books: the bank side of escrow's three-way check.

Stripe's balance transactions for the day (charges in, transfers out, reversals back) are matched
to what the ledger booked on that rail: deposits (by PaymentIntent) and succeeded payouts (by
transfer id). Every line that does not match is a break, with both amounts and the signed
difference. The matching engine with classes and tolerances is the reconciliation issue's; this
provides its rail statement and a daily check operators can run or schedule;
`rail_statement_reconcile` records the same comparison as a reconciliation run through that engine.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import structlog
from prometheus_client import Gauge

from ledger.models import Business, EntryKind, JournalEntry, PayoutIntent, ReconciliationRun, RunKind
from ledger.rails import rail_get
from ledger.reconciliation import Line
from ledger.states import PayoutStatus

logger = structlog.get_logger(__name__)

STATEMENT_BREAKS = Gauge(
    "ledger_rail_statement_breaks", "Breaks in the last rail statement check", ["rail"], multiprocess_mode="mostrecent"
)

# Stripe balance-transaction types, read as money in or out of the platform balance.
_IN = {"charge", "payment"}
_OUT = {"transfer"}
_BACK = {"transfer_refund", "transfer_cancel"}


@dataclass(frozen=True)
class StatementLine:
    reference: str  # what the books know it by: PaymentIntent or transfer id
    kind: str  # in | out | back
    amount: Decimal  # signed, as the rail's balance moved
    currency: str


@dataclass(frozen=True)
class StatementBreak:
    reference: str
    kind: str
    problem: str  # missing_in_books | missing_at_rail | amount_differs
    rail_amount: Decimal | None
    book_amount: Decimal | None
    currency: str

    @property
    def difference(self) -> Decimal:
        return (self.rail_amount or Decimal(0)) - (self.book_amount or Decimal(0))


@dataclass
class RailStatementReport:
    rail: str
    day: datetime.date
    rail_lines: list[StatementLine] = field(default_factory=list)
    book_lines: list[StatementLine] = field(default_factory=list)
    matched: int = 0
    breaks: list[StatementBreak] = field(default_factory=list)

    def net(self, lines: list[StatementLine]) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for line in lines:
            totals[line.currency] = totals.get(line.currency, Decimal(0)) + line.amount
        return totals

    def as_dict(self) -> dict[str, Any]:
        return {
            "rail": self.rail,
            "day": self.day.isoformat(),
            "matched": self.matched,
            "rail_net": {c: str(v) for c, v in self.net(self.rail_lines).items()},
            "book_net": {c: str(v) for c, v in self.net(self.book_lines).items()},
            "breaks": [
                {
                    "reference": b.reference,
                    "kind": b.kind,
                    "problem": b.problem,
                    "rail_amount": None if b.rail_amount is None else str(b.rail_amount),
                    "book_amount": None if b.book_amount is None else str(b.book_amount),
                    "difference": str(b.difference),
                    "currency": b.currency,
                }
                for b in self.breaks
            ],
        }


def _day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)
    return start, start + datetime.timedelta(days=1)


def _rail_lines(rail: str, day: datetime.date) -> list[StatementLine]:
    start, end = _day_bounds(day)
    rows = rail_get(rail).balance_transactions(  # type: ignore[attr-defined]
        created_from=int(start.timestamp()), created_to=int(end.timestamp())
    )
    lines = []
    for row in rows:
        kind = "in" if row["type"] in _IN else "out" if row["type"] in _OUT else "back" if row["type"] in _BACK else ""
        if not kind:
            continue  # fees, adjustments, bank payouts: not money the books move per escrow
        lines.append(StatementLine(row.get("payment_intent") or row["source"], kind, row["amount"], row["currency"]))
    return lines


def _book_lines(rail: str, day: datetime.date) -> list[StatementLine]:
    start, end = _day_bounds(day)
    lines = []
    deposits = JournalEntry.objects.filter(
        kind=EntryKind.DEPOSIT, metadata__rail=rail, created_at__gte=start, created_at__lt=end
    ).prefetch_related("lines")
    for entry in deposits:
        credit = next(line for line in entry.lines.all() if line.side == "credit")
        lines.append(StatementLine(str(entry.metadata.get("provider_reference", "")), "in", credit.amount,
                                   credit.currency))  # fmt: skip
    paid = PayoutIntent.objects.filter(
        rail=rail, status=PayoutStatus.SUCCEEDED, updated_at__gte=start, updated_at__lt=end
    ).exclude(provider_reference="")
    for payout in paid:
        lines.append(StatementLine(payout.provider_reference, "out", -payout.amount, payout.currency))
    return lines


def rail_has_statement(rail: str) -> bool:
    """Whether the rail can list its balance transactions (Stripe can; the simulated rail keeps none)."""
    return hasattr(rail_get(rail), "balance_transactions")


def rail_statement_lines(*, rail: str, day: datetime.date) -> list[StatementLine]:
    """The rail's own statement lines for `day` (UTC), signed as its balance moved."""
    return _rail_lines(rail, day)


def _engine_lines(lines: list[StatementLine], day: datetime.date, side: str) -> list[Line]:
    # No natural key: a rail's line is matched by its reference alone (two charges of one day are
    # not the same charge). The kind (in, out, back) is the status, so a reference booked as money
    # in but out at the rail is a STATUS_DELTA.
    return [Line(amount=line.amount, currency=line.currency, date=day, reference=line.reference, status=line.kind,
                 source=f"{side} {line.kind} {line.reference}") for line in lines]  # fmt: skip


def rail_statement_reconcile(*, rail: str, day: datetime.date, actor: str = "system") -> ReconciliationRun:
    """The day's rail statement against the books as a recorded run (breaks to work, reports).

    Matched by the rail's reference; a reference on one side only is missing on the other. The
    same statement content for the day again returns its run; a statement that changed since (a
    late balance transaction) is a new run.
    """
    from ledger.services.reconciliation import reconciliation_run_record

    report = RailStatementReport(
        rail=rail, day=day, rail_lines=_rail_lines(rail, day), book_lines=_book_lines(rail, day)
    )
    digest = hashlib.sha256(json.dumps(report.as_dict()["rail_net"], sort_keys=True).encode())
    for line in report.rail_lines:
        digest.update(f"{line.kind}|{line.reference}|{line.amount}|{line.currency}".encode())
    run, _created = reconciliation_run_record(
        kind=RunKind.RAIL_STATEMENT,
        business=Business.ESCROW,
        counterparty=f"rail:{rail}",
        counterparty_name=rail,
        statement_key=f"{day.isoformat()}:{digest.hexdigest()[:32]}",
        statement_name=f"{rail} balance transactions {day.isoformat()}",
        period_start=day,
        period_end=day,
        ours=_engine_lines(report.book_lines, day, "books"),
        theirs=_engine_lines(report.rail_lines, day, "rail"),
        actor=actor,
    )
    return run


def rail_statement_compare(*, rail: str, day: datetime.date) -> RailStatementReport:
    """Match the rail's statement for `day` (UTC) to the books; list every difference."""
    report = RailStatementReport(
        rail=rail, day=day, rail_lines=_rail_lines(rail, day), book_lines=_book_lines(rail, day)
    )
    books: dict[tuple[str, str], StatementLine] = {(line.kind, line.reference): line for line in report.book_lines}
    for line in report.rail_lines:
        booked = books.pop((line.kind, line.reference), None)
        if booked is None:
            report.breaks.append(StatementBreak(line.reference, line.kind, "missing_in_books", line.amount, None,
                                                line.currency))  # fmt: skip
        elif booked.amount != line.amount or booked.currency != line.currency:
            report.breaks.append(StatementBreak(line.reference, line.kind, "amount_differs", line.amount,
                                                booked.amount, line.currency))  # fmt: skip
        else:
            report.matched += 1
    for booked in books.values():
        report.breaks.append(StatementBreak(booked.reference, booked.kind, "missing_at_rail", None, booked.amount,
                                            booked.currency))  # fmt: skip
    STATEMENT_BREAKS.labels(rail=rail).set(len(report.breaks))
    logger.info("rail_statement_compared", rail=rail, day=day.isoformat(), matched=report.matched,
                breaks=len(report.breaks))  # fmt: skip
    return report
