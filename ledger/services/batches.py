"""Linked batches: several transfers and holds that succeed or fail together."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from escrow_project.common.errors import DomainError, UnprocessableError
from ledger.models import Batch, Hold, JournalEntry
from ledger.services._core import (
    Claimed,
    Claims,
    Locked,
    accounts_lock,
    claims_insert,
    conflict,
    fingerprint,
    insert_unless_exists,
    key_clean,
    writes_flush,
)
from ledger.services.entries import _transfer
from ledger.services.holds import _hold_create, _hold_post, _hold_release
from ledger.states import HoldStatus
from ledger.types import BatchResult, HoldOp, HoldPostOp, HoldVoidOp, Operation, TransferOp

MAX_OPERATIONS = 1000


def _describe(op: Operation) -> dict[str, object]:
    # Field by field rather than dataclasses.asdict, which deep-copies every value (a tenth of a
    # 500-operation batch's Python time); description and metadata are not part of the promise.
    data: dict[str, object] = {"type": type(op).__name__}
    for name in _PROMISED[type(op)]:
        value = getattr(op, name)
        data[name] = str(value) if value is not None else None
    return data


# The fields an operation's key promises, per operation type (dataclasses.fields walks the class each call).
_PROMISED: dict[type, tuple[str, ...]] = {
    op_type: tuple(f.name for f in dataclasses.fields(op_type) if f.name not in ("description", "metadata"))
    for op_type in (TransferOp, HoldOp, HoldPostOp, HoldVoidOp)
}


def _replay(batch: Batch) -> BatchResult:
    entries = JournalEntry.objects.in_bulk([ref for kind, ref in batch.results if kind == "entry"])
    holds = Hold.objects.in_bulk([ref for kind, ref in batch.results if kind == "hold"])
    results: list[JournalEntry | Hold] = [
        entries[ref] if kind == "entry" else holds[ref] for kind, ref in batch.results
    ]
    return BatchResult(batch_id=batch.pk, idempotency_key=batch.idempotency_key, results=results, replayed=True)


@transaction.atomic
def batch_execute(*, idempotency_key: str, operations: Sequence[Operation]) -> BatchResult:
    """Run the operations in order in one transaction: all of them take effect, or none."""
    key_clean(idempotency_key)
    if not operations:
        raise UnprocessableError("A batch needs at least one operation.", code="empty_batch")
    if len(operations) > MAX_OPERATIONS:
        raise UnprocessableError(f"A batch holds at most {MAX_OPERATIONS} operations.", code="batch_too_large")
    print_ = fingerprint({"ops": [_describe(op) for op in operations]})
    batch_id = insert_unless_exists(
        Batch,
        {
            "public_id": uuid.uuid4(),
            "idempotency_key": idempotency_key,
            "fingerprint": print_,
            "results": [],
            "created_at": timezone.now(),
        },
    )
    if batch_id is None:
        existing = Batch.objects.get(idempotency_key=idempotency_key)
        if existing.fingerprint != print_:
            raise conflict(idempotency_key, "batch")
        return _replay(existing)

    # Order of locks, the same as single postings (see _core): holds (as hold_post/hold_void lock their
    # hold first), then every operation's idempotency key, then every account, each in id order. Keys
    # before accounts: a concurrent single call that claimed one of our keys and now waits for an account
    # must not find that account locked by us while we wait for its key (a deadlock). Accounts all at
    # once: two batches touching the same accounts in different orders then queue instead of deadlocking.
    hold_ids = sorted({op.hold_id for op in operations if isinstance(op, HoldPostOp | HoldVoidOp)})
    holds = {h.pk: h for h in Hold.objects.select_for_update().filter(pk__in=hold_ids).order_by("pk")}
    account_ids: set[int] = set()
    for op in operations:
        if isinstance(op, TransferOp | HoldOp):
            account_ids.update((op.debit_account_id, op.credit_account_id))
    for hold in holds.values():
        account_ids.update((hold.debit_account_id, hold.credit_account_id))
    locked: dict[int, Locked] = {}
    claims = Claims()

    for index, op in enumerate(operations):  # pass 1: claim the keys; nothing is locked or moved yet
        claims.index = index
        with contextlib.suppress(Claimed):
            _run(op, index, idempotency_key, batch_id, holds, locked, claims)
    claims_insert(claims)
    claims.claiming = False
    accounts_lock(account_ids, locked)

    results: list[JournalEntry | Hold] = []
    refs: list[tuple[str, int]] = []
    for index, op in enumerate(operations):  # pass 2: move the money under the claimed keys
        claims.index = index
        result = _run(op, index, idempotency_key, batch_id, holds, locked, claims)
        if isinstance(op, HoldPostOp):
            hold = holds[op.hold_id]
            hold.status = HoldStatus.POSTED  # a second op on the same hold in this batch sees it resolved
            hold.resolution_key = op.idempotency_key or f"{idempotency_key}#{index}"
        results.append(result)
        refs.append(("entry" if isinstance(result, JournalEntry) else "hold", result.pk))
    writes_flush(claims.writes, locked)
    Batch.objects.filter(pk=batch_id).update(results=refs)
    return BatchResult(batch_id=batch_id, idempotency_key=idempotency_key, results=results)


def _run(
    op: Operation,
    index: int,
    batch_key: str,
    batch_id: int,
    holds: dict[int, Hold],
    locked: dict[int, Locked],
    claims: Claims,
) -> JournalEntry | Hold:
    key = op.idempotency_key or f"{batch_key}#{index}"
    try:
        if isinstance(op, TransferOp):
            return _transfer(
                idempotency_key=key,
                debit_account_id=op.debit_account_id,
                credit_account_id=op.credit_account_id,
                amount=op.amount,
                currency=op.currency,
                description=op.description,
                metadata=op.metadata,
                batch_id=batch_id,
                locked=locked,
                claims=claims,
            )
        if isinstance(op, HoldOp):
            return _hold_create(
                idempotency_key=key,
                debit_account_id=op.debit_account_id,
                credit_account_id=op.credit_account_id,
                amount=op.amount,
                currency=op.currency,
                expires_at=op.expires_at,
                description=op.description,
                metadata=op.metadata,
                batch_id=batch_id,
                locked=locked,
                claims=claims,
            )
        hold = _batch_hold(holds, op.hold_id)
        if isinstance(op, HoldPostOp):
            return _hold_post(
                hold=hold, idempotency_key=key, amount=op.amount, batch_id=batch_id, locked=locked, claims=claims
            )
        if claims.claiming:
            return hold  # a void claims no key of its own: it writes the hold's resolution key after the accounts
        return _hold_release(
            hold=hold,
            idempotency_key=key,
            status=HoldStatus.VOIDED,
            reason=op.reason,
            locked=locked,
            writes=claims.writes,
        )
    except DomainError as exc:
        exc.detail = f"Operation {index} ({type(op).__name__}): {exc.detail}"
        exc.args = (exc.detail,)
        raise


def _batch_hold(holds: dict[int, Hold], hold_id: int) -> Hold:
    try:
        return holds[hold_id]
    except KeyError:
        from escrow_project.common.errors import NotFoundError

        raise NotFoundError(f"No hold with id {hold_id}.", code="unknown_hold") from None
