"""Insurers' statements against our endorsements: the monthly statement (CSV) and the 834 audit file.

Both are read as a stream and handed to the ledger's reconciliation engine as `Line`s, against
what we hold confirmed for that insurer (docs/decisions/0103 names the CSV columns):

- monthly statement: every endorsement the insurer confirmed or activated with an effective date in
  the period, keyed by member (blind index of the member id) and action, signed the insurer's way
  (a refund negative), referenced by our tracking id (which insurers echo back);
- 834 030 full-file audit: who the insurer says is covered (plan and start date) against our open
  coverages. No money: plan differences are STATUS_DELTAs, start dates DATE_DELTAs.

The same file again is the same run (its SHA-256 is the statement key), recorded once.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import IO

from django.conf import settings

from endorsements.files import FileFormatError, iter_csv, iter_x12
from endorsements.models import Coverage, Direction, EndorsementKind, EndorsementRequest
from endorsements.states import RequestState
from endorsements.validation import member_index
from escrow_project.common.errors import UnprocessableError
from escrow_project.common.input_guard import text_refusal
from identity.models import Organization
from ledger import services as ledger
from ledger.models import Business, ReconciliationRun, RunKind
from ledger.reconciliation import Line

STATEMENT_COLUMNS = ("reference", "member_id", "action", "effective_date", "amount", "currency", "status")
_REQUIRED = ("member_id", "action", "effective_date", "amount", "currency")
# The insurer's words for an action -> ours (the engine's key), and for a line's status.
_ACTIONS = {
    "add": EndorsementKind.ADDITION,
    "addition": EndorsementKind.ADDITION,
    "delete": EndorsementKind.DELETION,
    "deletion": EndorsementKind.DELETION,
    "term": EndorsementKind.DELETION,
    "change": EndorsementKind.MODIFICATION,
    "modification": EndorsementKind.MODIFICATION,
}
_STATUSES = {"": "", "active": "active", "confirmed": "active", "in force": "active", "cancelled": "cancelled",
             "canceled": "cancelled", "rejected": "rejected", "pending": "pending"}  # fmt: skip
_CONFIRMED = (RequestState.CONFIRMED, RequestState.ACTIVE)
# What the line tables hold (numeric(20, 4)): larger or finer amounts are refused, not rounded.
_LARGEST = Decimal(10) ** 15
_CENTS_OF_A_CENT = Decimal("0.0001")


def counterparty_of(insurer: Organization) -> str:
    return f"organization:{insurer.pk}"


def _sha256(handle: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 16), b""):
        digest.update(block)
    handle.seek(0)
    return digest.hexdigest()


def _refuse(row_number: int, detail: str) -> UnprocessableError:
    return UnprocessableError(f"Statement row {row_number}: {detail}", code="statement_row_invalid")


def statement_lines(handle: IO[bytes]) -> Iterator[Line]:
    """The statement's rows as engine lines, one at a time; a bad row refuses the whole file."""
    try:
        for number, row in iter_csv(handle, required=_REQUIRED, known=STATEMENT_COLUMNS):
            refusal = next((why for value in row.values() if (why := text_refusal(str(value)))), None)
            if refusal:
                raise _refuse(number, f"a value {refusal}.")
            action = _ACTIONS.get(str(row.get("action", "")).strip().lower())
            if action is None:
                raise _refuse(number, f"action must be one of {', '.join(sorted(_ACTIONS))}.")
            status = _STATUSES.get(str(row.get("status", "")).strip().lower())
            if status is None:
                raise _refuse(number, f"status must be one of {', '.join(sorted(s for s in _STATUSES if s))}.")
            try:
                amount = Decimal(str(row.get("amount", "")).strip().replace(",", ""))
                effective = datetime.date.fromisoformat(str(row.get("effective_date", "")).strip())
            except (InvalidOperation, ValueError):
                raise _refuse(number, "amount must be a number and effective_date YYYY-MM-DD.") from None
            if not amount.is_finite() or abs(amount) >= _LARGEST or amount != amount.quantize(_CENTS_OF_A_CENT):
                raise _refuse(number, "amount must be a number of at most 4 decimals below 10^15.")
            currency = str(row.get("currency", "")).strip().upper()
            member_id = str(row.get("member_id", "")).strip()
            if not (len(currency) == 3 and currency.isalpha() and currency.isascii()):
                raise _refuse(number, "currency must be a 3-letter ISO 4217 code.")
            if not member_id:
                raise _refuse(number, "member_id is empty.")
            yield Line(
                amount=amount,
                currency=currency,
                key=(member_index(member_id), action),
                date=effective,
                reference=str(row.get("reference", "")).strip(),
                status=status,
                source=f"row {number}",
            )
    except FileFormatError as exc:
        raise UnprocessableError(str(exc), code="statement_unreadable") from None


def confirmed_lines(*, insurer_id: int, period_start: datetime.date, period_end: datetime.date) -> Iterator[Line]:
    """What we hold confirmed with the insurer for the period, signed the insurer's way."""
    rows = (
        EndorsementRequest.objects.filter(
            insurer_id=insurer_id,
            state__in=_CONFIRMED,
            effective_date__gte=period_start,
            effective_date__lte=period_end,
        )
        .order_by("pk")
        .values_list(
            "tracking_id",
            "member__member_index",
            "kind",
            "effective_date",
            "direction",
            "amount",
            "settled_amount",
            "currency",
        )
    )
    for tracking_id, index, kind, effective, direction, amount, settled, currency in rows.iterator(chunk_size=5000):
        value = settled if settled is not None else amount
        yield Line(
            amount=-value if direction == Direction.CREDIT else value,
            currency=currency,
            key=(index, kind),
            date=effective,
            reference=tracking_id,
            status="active",
            source=tracking_id,
        )


def insurer_statement_import(
    *,
    insurer: Organization,
    handle: IO[bytes],
    period_start: datetime.date,
    period_end: datetime.date,
    tolerance: Decimal | None = None,
    file_name: str = "",
    actor: str = "",
) -> tuple[ReconciliationRun, bool]:
    """Reconcile an insurer's monthly statement (CSV) for a period; the same file again returns its run."""
    if period_end < period_start:
        raise UnprocessableError("The period ends before it starts.", code="invalid_period")
    return ledger.reconciliation_run_record(
        kind=RunKind.INSURER_STATEMENT,
        business=Business.ENDORSEMENTS,
        counterparty=counterparty_of(insurer),
        counterparty_name=insurer.name,
        statement_key=_sha256(handle),
        statement_name=file_name,
        period_start=period_start,
        period_end=period_end,
        ours=confirmed_lines(insurer_id=insurer.pk, period_start=period_start, period_end=period_end),
        theirs=statement_lines(handle),
        tolerance=Decimal(settings.RECONCILIATION_TOLERANCE) if tolerance is None else tolerance,
        date_window_days=settings.RECONCILIATION_DATE_WINDOW_DAYS,
        actor=actor,
    )


def _audit_lines(handle: IO[bytes], currency: str) -> Iterator[Line]:
    try:
        for number, row in iter_x12(handle, census=True):
            refusal = next((why for value in row.values() if (why := text_refusal(str(value)))), None)
            if refusal:
                raise _refuse(number, f"a value {refusal}.")
            if row.get("maintenance"):
                raise _refuse(number, f"an audit file holds 030 lines only, not {row['maintenance']}.")
            try:
                start = datetime.date.fromisoformat(row.get("start_date", ""))
            except ValueError:
                raise _refuse(number, "the coverage date (DTP) is not CCYYMMDD.") from None
            yield Line(
                amount=Decimal(0),
                currency=currency,
                key=(member_index(row.get("member_id", "")),),
                date=start,
                status=row.get("plan", ""),
                source=f"member line {number}",
            )
    except FileFormatError as exc:
        raise UnprocessableError(str(exc), code="statement_unreadable") from None


def _covered_lines(insurer_id: int) -> Iterator[Line]:
    rows = (
        Coverage.objects.filter(policy__insurer_id=insurer_id, end_date__isnull=True, voided_at__isnull=True)
        .order_by("pk")
        .values_list("member__member_index", "member__public_id", "plan", "start_date", "policy__currency")
    )
    for index, public_id, plan, start, currency in rows.iterator(chunk_size=5000):
        yield Line(amount=Decimal(0), currency=currency, key=(index,), date=start, status=plan,
                   source=f"member {public_id}")  # fmt: skip


def insurer_audit_import(
    *, insurer: Organization, handle: IO[bytes], currency: str, file_name: str = "", actor: str = ""
) -> tuple[ReconciliationRun, bool]:
    """Reconcile an insurer's 834 full-file audit (030) with our open coverages."""
    return ledger.reconciliation_run_record(
        kind=RunKind.INSURER_834_AUDIT,
        business=Business.ENDORSEMENTS,
        counterparty=counterparty_of(insurer),
        counterparty_name=insurer.name,
        statement_key=_sha256(handle),
        statement_name=file_name,
        ours=_covered_lines(insurer.pk),
        theirs=_audit_lines(handle, currency),
        date_window_days=366,
        actor=actor,
    )
