"""Two-phase transfers: a hold reserves money (pending counters), then exactly one of post, void or expiry."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import structlog
from django.db import connection, transaction
from django.utils import timezone

from escrow_project.common.errors import NotFoundError, UnprocessableError
from ledger.errors import HoldAlreadyResolvedError, HoldExpiredError, InvalidAmountError
from ledger.models import EntryKind, Hold, JournalEntry, Side
from ledger.services._core import (
    POSTINGS,
    Claims,
    Locked,
    Plan,
    Writes,
    accounts_lock,
    accounts_validate,
    amount_clean,
    conflict,
    entry_post,
    fingerprint,
    insert_unless_exists,
    key_clean,
    plan_apply,
    post_combined,
    written,
)
from ledger.states import HoldStatus

logger = structlog.get_logger(__name__)


def _hold_create(
    *,
    idempotency_key: str,
    debit_account_id: int,
    credit_account_id: int,
    amount: Any,
    currency: str,
    expires_at: datetime.datetime | None = None,
    description: str = "",
    metadata: dict[str, Any] | None = None,
    batch_id: int | None = None,
    locked: dict[int, Locked] | None = None,
    claims: Claims | None = None,
) -> Hold:
    key_clean(idempotency_key)
    amount = amount_clean(amount, currency)
    if debit_account_id == credit_account_id:
        raise UnprocessableError("A hold needs two different accounts.", code="same_account")
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        raise UnprocessableError("expires_at must be in the future.", code="invalid_expiry")
    print_ = fingerprint(
        {
            "op": "hold",
            "debit": debit_account_id,
            "credit": credit_account_id,
            "amount": str(amount),
            "currency": currency,
        }
    )
    values: dict[str, Any] = {
        "public_id": uuid.uuid4(),
        "idempotency_key": idempotency_key,
        "fingerprint": print_,
        "debit_account": debit_account_id,
        "credit_account": credit_account_id,
        "amount": amount,
        "currency": currency,
        "status": HoldStatus.PENDING,
        "expires_at": expires_at,
        "description": description[:500],
        "metadata": metadata or {},
        "batch": batch_id,
        "created_at": now,
        "void_reason": "",
    }
    plan = Plan()
    plan.delta(debit_account_id).pending_debits += amount
    plan.delta(credit_account_id).pending_credits += amount
    fast = locked is None and connection.vendor == "postgresql"
    if fast:
        # One statement: claim the key with the hold row itself, lock, reserve.
        currencies = {debit_account_id: currency, credit_account_id: currency}
        hold_id = post_combined(
            plan=plan, currencies=currencies, allow_closed=False, entry_values=values, claim_model=Hold
        )
    elif claims is not None:
        if claims.claiming:
            claims.claim(Hold, values)  # raises Claimed; the batch inserts every claim at once
        hold_id, values = claims.take()  # the row the claim pass inserted (its public id and time)
    else:
        hold_id = insert_unless_exists(Hold, values)
    if hold_id is None:
        existing = Hold.objects.get(idempotency_key=idempotency_key)
        if existing.fingerprint != print_:
            raise conflict(idempotency_key, "hold")
        existing.replayed = True
        return existing
    if not fast:
        locked = accounts_lock([debit_account_id, credit_account_id], locked)
        accounts_validate(locked, [debit_account_id, credit_account_id], currency)
        plan_apply(plan, locked, entry_id=None, writes=None if claims is None else claims.writes)
    POSTINGS.labels(kind="hold").inc()
    hold = written(Hold, hold_id, values)
    return hold


@transaction.atomic
def hold_create(
    *,
    idempotency_key: str,
    debit_account_id: int,
    credit_account_id: int,
    amount: Decimal,
    currency: str,
    expires_at: datetime.datetime | None = None,
    description: str = "",
    metadata: dict[str, Any] | None = None,
) -> Hold:
    """Reserve `amount` (pending debit and credit) until it is posted, voided or expires."""
    return _hold_create(
        idempotency_key=idempotency_key,
        debit_account_id=debit_account_id,
        credit_account_id=credit_account_id,
        amount=amount,
        currency=currency,
        expires_at=expires_at,
        description=description,
        metadata=metadata,
    )


def hold_lock(hold_id: int) -> Hold:
    hold = Hold.objects.select_for_update().filter(pk=hold_id).first()
    if hold is None:
        raise NotFoundError(f"No hold with id {hold_id}.", code="unknown_hold")
    return hold


def _resolved_replay(hold: Hold, key: str, status: str) -> bool:
    """True when this exact resolution already happened under this key; raises on any other resolution."""
    if hold.status == HoldStatus.PENDING:
        return False
    if hold.resolution_key == key:
        if hold.status == status:
            return True
        raise conflict(key, f"resolution of hold {hold.pk} (it was {hold.status})")
    raise HoldAlreadyResolvedError(f"Hold {hold.pk} was already {hold.status}; a hold resolves once.")


def _hold_post(
    *,
    hold: Hold,
    idempotency_key: str,
    amount: Any = None,
    batch_id: int | None = None,
    locked: dict[int, Locked] | None = None,
    claims: Claims | None = None,
) -> JournalEntry:
    key_clean(idempotency_key)
    post_amount = hold.amount if amount is None else amount_clean(amount, hold.currency)
    if _resolved_replay(hold, idempotency_key, HoldStatus.POSTED):
        if hold.posted_amount != post_amount:
            raise conflict(idempotency_key, f"post of hold {hold.pk} (posted {hold.posted_amount})")
        assert hold.post_entry is not None
        hold.post_entry.replayed = True
        return hold.post_entry
    now = timezone.now()
    if hold.expires_at is not None and hold.expires_at <= now:
        raise HoldExpiredError(f"Hold {hold.pk} expired at {hold.expires_at.isoformat()}; it can only be voided.")
    if post_amount > hold.amount:
        raise InvalidAmountError(f"Cannot post {post_amount}: hold {hold.pk} reserves only {hold.amount}.")
    release = Plan()
    release.delta(hold.debit_account_id).pending_debits -= hold.amount
    release.delta(hold.credit_account_id).pending_credits -= hold.amount
    fast = locked is None and connection.vendor == "postgresql"
    # On PostgreSQL the hold's own update rides in the posting statement (one round trip fewer).
    then = (
        (
            "t AS (UPDATE ledger_hold SET status = 'posted', resolution_key = %s, resolved_at = %s, "
            "posted_amount = %s, post_entry_id = (SELECT id FROM e) WHERE id = %s "
            "AND (SELECT count(*) FROM u) = %s RETURNING id)",
            [idempotency_key, now, post_amount, hold.pk],
        )
        if fast
        else None
    )
    entry, created = entry_post(
        key=idempotency_key,
        kind=EntryKind.HOLD_POST,
        content={"hold": hold.pk, "amount": str(post_amount)},
        lines=[
            (hold.debit_account_id, Side.DEBIT, post_amount, hold.currency),
            (hold.credit_account_id, Side.CREDIT, post_amount, hold.currency),
        ],
        description=hold.description or f"Hold {hold.pk} posted",
        metadata=hold.metadata,
        batch_id=batch_id,
        locked=locked,
        extra=release,
        then=then,
        claims=claims,
    )
    if not created:
        # The key already names another entry with identical content: only possible for this very post.
        raise conflict(idempotency_key, "entry")
    if claims is not None:
        claims.writes.holds.append((hold.pk, HoldStatus.POSTED, idempotency_key, now, post_amount, entry.pk, ""))
    elif not fast:
        Hold.objects.filter(pk=hold.pk).update(
            status=HoldStatus.POSTED,
            resolution_key=idempotency_key,
            resolved_at=now,
            posted_amount=post_amount,
            post_entry=entry,
        )
    return entry


@transaction.atomic
def hold_post(*, hold_id: int, idempotency_key: str, amount: Decimal | None = None) -> JournalEntry:
    """Post a pending hold in full or in part; the unposted rest is released."""
    return _hold_post(hold=hold_lock(hold_id), idempotency_key=idempotency_key, amount=amount)


def _hold_release(
    *,
    hold: Hold,
    idempotency_key: str,
    status: str,
    reason: str,
    locked: dict[int, Locked] | None = None,
    writes: Writes | None = None,
) -> Hold:
    key_clean(idempotency_key)
    if _resolved_replay(hold, idempotency_key, status):
        hold.replayed = True
        return hold
    if (
        (writes is not None and any(row[2] == idempotency_key for row in writes.holds))
        or Hold.objects.filter(resolution_key=idempotency_key).exists()
        or JournalEntry.objects.filter(idempotency_key=idempotency_key).exists()
    ):
        raise conflict(idempotency_key, "operation")
    plan = Plan()
    plan.delta(hold.debit_account_id).pending_debits -= hold.amount
    plan.delta(hold.credit_account_id).pending_credits -= hold.amount
    # voids pass on closed accounts: they only give money back
    if locked is None and connection.vendor == "postgresql":
        currencies = {hold.debit_account_id: hold.currency, hold.credit_account_id: hold.currency}
        post_combined(plan=plan, currencies=currencies, allow_closed=True)
    else:
        locked = accounts_lock([hold.debit_account_id, hold.credit_account_id], locked)
        plan_apply(plan, locked, entry_id=None, writes=writes)
    now = timezone.now()
    if writes is not None:
        writes.holds.append((hold.pk, status, idempotency_key, now, None, None, reason[:500]))
    else:
        Hold.objects.filter(pk=hold.pk).update(
            status=status, resolution_key=idempotency_key, resolved_at=now, void_reason=reason[:500]
        )
    hold.status = status
    hold.resolution_key = idempotency_key
    hold.resolved_at = now
    hold.void_reason = reason[:500]
    return hold


@transaction.atomic
def hold_void(*, hold_id: int, idempotency_key: str, reason: str = "") -> Hold:
    """Release a pending hold entirely; nothing is posted."""
    if connection.vendor == "postgresql":
        return _hold_void_combined(hold_id=hold_id, key=key_clean(idempotency_key), reason=reason[:500])
    return _hold_release(
        hold=hold_lock(hold_id), idempotency_key=idempotency_key, status=HoldStatus.VOIDED, reason=reason
    )


# One statement for a void (it was five): lock the hold, check its key is not spent elsewhere, lock
# both accounts in id order, release the reservation and resolve the hold, only if the hold is still
# pending and the key is free. The engine's lock order holds: the hold, then the accounts.
# The hold as it was before the statement comes back (plus `key_used`, `resolved`) so the caller
# names a refusal or a replay exactly as `_hold_release` does.
_VOID_SQL = """
WITH h AS MATERIALIZED (SELECT * FROM ledger_hold WHERE id = %s FOR UPDATE),
k AS MATERIALIZED (SELECT (
    EXISTS (SELECT 1 FROM ledger_hold WHERE resolution_key = %s AND id <> %s)
    OR EXISTS (SELECT 1 FROM ledger_journalentry WHERE idempotency_key = %s)) AS used),
ok AS MATERIALIZED (SELECT h.id, h.debit_account_id, h.credit_account_id, h.amount FROM h, k
    WHERE h.status = 'pending' AND NOT k.used),
v(id, qd, qc) AS (SELECT debit_account_id, amount, 0::numeric FROM ok
    UNION ALL SELECT credit_account_id, 0::numeric, amount FROM ok),
l AS MATERIALIZED (SELECT a.id FROM ledger_account a WHERE a.id IN (SELECT id FROM v) ORDER BY a.id FOR UPDATE),
u AS (UPDATE ledger_account a SET pending_debits = a.pending_debits - v.qd, pending_credits = a.pending_credits - v.qc
    FROM v WHERE a.id = v.id AND a.id IN (SELECT id FROM l) RETURNING a.id),
t AS (UPDATE ledger_hold SET status = %s, resolution_key = %s, resolved_at = %s, void_reason = %s
    WHERE id IN (SELECT id FROM ok) AND (SELECT count(*) FROM u) = 2 RETURNING id)
SELECT h.*, (SELECT used FROM k) AS key_used, (SELECT count(*) FROM t) AS resolved FROM h
"""


def _hold_void_combined(*, hold_id: int, key: str, reason: str) -> Hold:
    now = timezone.now()
    params = [hold_id, key, hold_id, key, HoldStatus.VOIDED, key, now, reason]
    found = list(Hold.objects.raw(_VOID_SQL, params))
    if not found:
        raise NotFoundError(f"No hold with id {hold_id}.", code="unknown_hold")
    hold = found[0]
    if _resolved_replay(hold, key, HoldStatus.VOIDED):
        hold.replayed = True
        return hold
    if hold.key_used:  # type: ignore[attr-defined]
        raise conflict(key, "operation")
    if hold.resolved != 1:  # type: ignore[attr-defined]  # pragma: no cover -- accounts are foreign keys
        raise AssertionError(f"ledger: hold {hold_id} was pending and free but its accounts did not move")
    hold.status = HoldStatus.VOIDED
    hold.resolution_key = key
    hold.resolved_at = now
    hold.void_reason = reason
    return hold


def holds_expire(*, now: datetime.datetime | None = None, limit: int = 1000) -> int:
    """Release pending holds past their expiry (one short transaction each); returns how many."""
    now = now or timezone.now()
    ids = list(
        Hold.objects.filter(status=HoldStatus.PENDING, expires_at__lte=now)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    expired = 0
    for hold_id in ids:
        with transaction.atomic():
            hold = Hold.objects.select_for_update(skip_locked=True).filter(pk=hold_id).first()
            if hold is None or hold.status != HoldStatus.PENDING:
                continue  # resolved or being resolved by someone else right now
            _hold_release(
                hold=hold, idempotency_key=f"expire:{hold.public_id}", status=HoldStatus.EXPIRED, reason="expired"
            )
            expired += 1
    if expired:
        logger.info("ledger_holds_expired", count=expired)
    return expired
