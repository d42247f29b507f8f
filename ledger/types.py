"""Small public value types of the ledger: batch operations, balances, results, invariant reports."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.models import Hold, JournalEntry


@dataclass(frozen=True, slots=True)
class TransferOp:
    """A posted transfer inside a batch; the key defaults to `<batch key>#<index>`."""

    debit_account_id: int
    credit_account_id: int
    amount: Decimal
    currency: str
    description: str = ""
    metadata: dict[str, Any] | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class HoldOp:
    """A hold (pending transfer) inside a batch."""

    debit_account_id: int
    credit_account_id: int
    amount: Decimal
    currency: str
    expires_at: datetime.datetime | None = None
    description: str = ""
    metadata: dict[str, Any] | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class HoldPostOp:
    """Post an existing hold (all, or `amount` of it) inside a batch."""

    hold_id: int
    amount: Decimal | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class HoldVoidOp:
    """Void an existing hold inside a batch."""

    hold_id: int
    reason: str = ""
    idempotency_key: str | None = None


Operation = TransferOp | HoldOp | HoldPostOp | HoldVoidOp


@dataclass(frozen=True, slots=True)
class LineSpec:
    """One line of a multi-line entry (`ledger.services.entry_create`)."""

    account_id: int
    side: str  # "debit" | "credit"
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class BatchResult:
    """One result per operation, in order: a JournalEntry for transfers and posts, a Hold otherwise."""

    batch_id: int
    idempotency_key: str
    results: list[JournalEntry | Hold]
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Balance:
    account_id: int
    currency: str
    normal_side: str
    posted_debits: Decimal
    posted_credits: Decimal
    pending_debits: Decimal
    pending_credits: Decimal
    # Posted, signed by the normal side (positive is the usual state).
    balance: Decimal
    # Posted balance minus pending outflows (pending debits on a credit-normal account).
    available: Decimal
    # Posted balance plus pending inflows minus pending outflows.
    projected: Decimal


@dataclass(frozen=True, slots=True)
class InvariantReport:
    ok: bool
    breaches: list[str] = field(default_factory=list)
    checked_at: datetime.datetime | None = None
    accounts_checked: int = 0
    lines_checked: int = 0
