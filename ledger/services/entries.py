"""Posted money moves: transfers, multi-line entries, reversals, deposits and adjustments."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from escrow_project.common.errors import UnprocessableError
from ledger.errors import EntryAlreadyReversedError, EntryNotReversibleError, UnknownAccountError
from ledger.models import EntryKind, Hold, JournalEntry, PayoutIntent, Side
from ledger.rails import RailError, rail_get
from ledger.services._core import (
    ClaimRefused,
    Claims,
    Locked,
    amount_clean,
    currency_clean,
    entry_post,
    key_clean,
)
from ledger.services.accounts import CLEARING_PURPOSE, SYSTEM, adjustments_account, rail_clearing_account
from ledger.types import LineSpec


def _transfer(
    *,
    idempotency_key: str,
    debit_account_id: int,
    credit_account_id: int,
    amount: Any,
    currency: str,
    description: str = "",
    metadata: dict[str, Any] | None = None,
    batch_id: int | None = None,
    locked: dict[int, Locked] | None = None,
    claims: Claims | None = None,
) -> JournalEntry:
    amount = amount_clean(amount, currency)
    if debit_account_id == credit_account_id:
        raise UnprocessableError("A transfer needs two different accounts.", code="same_account")
    entry, _created = entry_post(
        key=idempotency_key,
        kind=EntryKind.TRANSFER,
        content={"debit": debit_account_id, "credit": credit_account_id, "amount": str(amount), "currency": currency},
        lines=[(debit_account_id, Side.DEBIT, amount, currency), (credit_account_id, Side.CREDIT, amount, currency)],
        description=description,
        metadata=metadata,
        batch_id=batch_id,
        locked=locked,
        claims=claims,
    )
    return entry


@transaction.atomic
def transfer_create(
    *,
    idempotency_key: str,
    debit_account_id: int,
    credit_account_id: int,
    amount: Decimal,
    currency: str,
    description: str = "",
    metadata: dict[str, Any] | None = None,
) -> JournalEntry:
    """Move `amount` from the debit account to the credit account now (one balanced entry)."""
    return _transfer(
        idempotency_key=idempotency_key,
        debit_account_id=debit_account_id,
        credit_account_id=credit_account_id,
        amount=amount,
        currency=currency,
        description=description,
        metadata=metadata,
    )


@transaction.atomic
def entry_create(
    *,
    idempotency_key: str,
    lines: Sequence[LineSpec],
    description: str = "",
    metadata: dict[str, Any] | None = None,
) -> JournalEntry:
    """Post one balanced entry with any number of lines (debits equal credits per currency)."""
    clean = [(line.account_id, line.side, amount_clean(line.amount, line.currency), line.currency) for line in lines]
    for _account, side, _amount, _currency in clean:
        if side not in (Side.DEBIT, Side.CREDIT):
            raise UnprocessableError(f"A line's side must be 'debit' or 'credit', not {side!r}.", code="invalid_side")
    entry, _created = entry_post(
        key=idempotency_key,
        kind=EntryKind.ENTRY,
        content={"lines": [[a, s, str(m), c] for a, s, m, c in clean]},
        lines=clean,
        description=description,
        metadata=metadata,
    )
    return entry


def _reverse(
    *, entry_id: int, idempotency_key: str, reason: str, allow_closed: bool = False, kind: str = EntryKind.REVERSAL
) -> JournalEntry:
    key_clean(idempotency_key)
    # Lock the original so two reversals (an operator's and a payout failure's, say) queue here and
    # the loser sees the winner's reversal below instead of hitting the unique index on reverses_id.
    # NO KEY UPDATE: rows merely referencing the entry (foreign keys take KEY SHARE) are not blocked.
    original = JournalEntry.objects.select_for_update(no_key=True).filter(pk=entry_id).first()
    if original is None:
        raise UnknownAccountError(f"No journal entry with id {entry_id}.", code="unknown_entry")
    earlier = JournalEntry.objects.filter(reverses_id=entry_id).only("idempotency_key").first()
    if earlier is not None and earlier.idempotency_key != idempotency_key:
        raise EntryAlreadyReversedError(
            f"Entry {entry_id} was already reversed by entry {earlier.pk} (key {earlier.idempotency_key!r})."
        )
    flipped = [
        (line.account_id, Side.CREDIT if line.side == Side.DEBIT else Side.DEBIT, line.amount, line.currency)
        for line in original.lines.order_by("id")
    ]
    entry, _created = entry_post(
        key=idempotency_key,
        kind=kind,
        content={"reverses": entry_id},
        lines=flipped,
        description=reason or f"Reversal of entry {entry_id}",
        metadata={"reason": reason, "reverses_key": original.idempotency_key},
        reverses_id=entry_id,
        allow_closed=allow_closed,
    )
    return entry


# What an operator may undo: moves that nothing else in the ledger tracks. A payout request, its
# settlement or failure, and a posted hold each belong to a lifecycle (payout intent, hold) that
# moves money again later; mirroring them by hand would pay twice or drive a system account negative.
REVERSIBLE_KINDS = frozenset({EntryKind.TRANSFER, EntryKind.ENTRY, EntryKind.ADJUSTMENT, EntryKind.DEPOSIT})


def _reversible_check(entry_id: int) -> None:
    entry = JournalEntry.objects.filter(pk=entry_id).only("kind").first()
    if entry is None:
        return  # _reverse names the missing entry
    linked = (
        PayoutIntent.objects.filter(request_entry_id=entry_id).exists()
        or PayoutIntent.objects.filter(outcome_entry_id=entry_id).exists()
        or Hold.objects.filter(post_entry_id=entry_id).exists()
    )
    if entry.kind not in REVERSIBLE_KINDS or linked:
        raise EntryNotReversibleError(
            f"Entry {entry_id} is a {entry.kind} entry"
            + (" linked to a payout or hold" if linked else "")
            + "; only transfers, multi-line entries, deposits and adjustments can be reversed by hand. "
            "Record the payout's outcome or post a new adjustment instead."
        )


@transaction.atomic
def entry_reverse(*, entry_id: int, idempotency_key: str, reason: str) -> JournalEntry:
    """Post the mirror of a transfer, entry, deposit or adjustment, referencing it; at most once."""
    _reversible_check(entry_id)
    return _reverse(entry_id=entry_id, idempotency_key=idempotency_key, reason=reason)


def rail_check(rail: str) -> None:
    try:
        rail_get(rail)
    except RailError as exc:
        raise UnprocessableError(str(exc), code="unknown_rail") from None


# (database, rail, currency) -> the clearing account's id. Opening it (find-or-create) cost four of a
# deposit's seven round trips; the id is only a hint, re-checked inside the posting statement.
_clearing_ids: dict[tuple[str, str, str], int] = {}


@transaction.atomic
def deposit_record(
    *,
    idempotency_key: str,
    account_id: int,
    amount: Decimal,
    currency: str,
    rail: str = "simulated",
    provider_reference: str = "",
) -> JournalEntry:
    """Record money that arrived from outside through a rail: debit its clearing account, credit the account."""
    amount = amount_clean(amount, currency)
    rail_check(rail)
    cache_key = (str(connection.settings_dict["NAME"]), rail, currency)
    cached = _clearing_ids.get(cache_key) if connection.vendor == "postgresql" else None
    if cached is not None:
        # The key is claimed only if the cached id still names this rail's clearing account (a test
        # database rolled back, say): otherwise nothing is written and the account is opened below.
        is_clearing = (
            "EXISTS (SELECT 1 FROM ledger_account WHERE id = %s AND owner_type = %s AND owner_id = %s "
            "AND purpose = %s AND currency = %s)",
            [cached, SYSTEM, f"rail:{rail}", CLEARING_PURPOSE, currency],
        )
        try:
            return _deposit_post(
                key=idempotency_key,
                clearing_id=cached,
                account_id=account_id,
                amount=amount,
                currency=currency,
                rail=rail,
                provider_reference=provider_reference,
                claim_if=is_clearing,
            )
        except ClaimRefused:
            _clearing_ids.pop(cache_key, None)
    clearing_id = rail_clearing_account(rail=rail, currency=currency).pk
    entry = _deposit_post(
        key=idempotency_key,
        clearing_id=clearing_id,
        account_id=account_id,
        amount=amount,
        currency=currency,
        rail=rail,
        provider_reference=provider_reference,
    )
    # Cached only once the posting worked: an id from a transaction that rolls back is re-checked anyway.
    _clearing_ids[cache_key] = clearing_id
    return entry


def _deposit_post(
    *,
    key: str,
    clearing_id: int,
    account_id: int,
    amount: Decimal,
    currency: str,
    rail: str,
    provider_reference: str,
    claim_if: tuple[str, list[Any]] | None = None,
) -> JournalEntry:
    entry, _created = entry_post(
        key=key,
        kind=EntryKind.DEPOSIT,
        content={
            "account": account_id,
            "amount": str(amount),
            "currency": currency,
            "rail": rail,
            "provider_reference": provider_reference,
        },
        lines=[(clearing_id, Side.DEBIT, amount, currency), (account_id, Side.CREDIT, amount, currency)],
        description=f"Deposit via {rail}",
        metadata={"rail": rail, "provider_reference": provider_reference},
        claim_if=claim_if,
    )
    return entry


@transaction.atomic
def adjustment_record(
    *,
    idempotency_key: str,
    account_id: int,
    amount: Decimal,
    currency: str,
    direction: str,
    reason: str,
    actor: str = "",
) -> JournalEntry:
    """An operator correction against the adjustments account; `direction` is 'credit' or 'debit' of the account."""
    amount = amount_clean(amount, currency)
    currency_clean(currency)
    if direction not in (Side.DEBIT, Side.CREDIT):
        raise UnprocessableError("direction must be 'credit' or 'debit'.", code="invalid_side")
    if not reason.strip():
        raise UnprocessableError("An adjustment needs a reason.", code="reason_required")
    counterpart = adjustments_account(currency=currency).pk
    if direction == Side.CREDIT:
        lines = [(counterpart, Side.DEBIT, amount, currency), (account_id, Side.CREDIT, amount, currency)]
    else:
        lines = [(account_id, Side.DEBIT, amount, currency), (counterpart, Side.CREDIT, amount, currency)]
    entry, _created = entry_post(
        key=idempotency_key,
        kind=EntryKind.ADJUSTMENT,
        content={"account": account_id, "amount": str(amount), "currency": currency, "direction": direction},
        lines=lines,
        description=reason,
        metadata={"reason": reason, "actor": actor},
    )
    return entry
