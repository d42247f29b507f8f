"""Money an operator records by hand: four eyes above `LEDGER_FOUR_EYES_ABOVE`.

A wire seen on the bank statement (`deposit`) or a correction (`adjustment`) up to the threshold is
posted at once, as before. Above it, the request is kept and nothing moves until a second operator
approves it; the one who asked can never approve (a database CHECK agrees). This is the ledger-level
twin of the escrow's manual-deposit confirmation (docs/decisions/0102).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction

from escrow_project.common.errors import UnprocessableError
from escrow_project.common.four_eyes import decision_record, second_person_check
from ledger.models import Account, JournalEntry, OperatorEntryRequest, OperatorEntryStatus, Side
from ledger.services._core import amount_clean, conflict, key_clean
from ledger.services.entries import adjustment_record, deposit_record, rail_check


def _check(*, kind: str, account_id: int, currency: str, details: dict[str, Any]) -> None:
    """What posting would refuse later (another currency, an unknown rail, no reason), refused before
    a second operator is asked to approve something that cannot be posted."""
    account = Account.objects.filter(pk=account_id).first()
    if account is None or account.currency != currency:
        raise UnprocessableError("The account does not hold this currency.", code="currency_mismatch")
    if kind == "deposit":
        rail_check(str(details.get("rail", "simulated")))
    elif details.get("direction") not in (Side.DEBIT, Side.CREDIT) or not str(details.get("reason", "")).strip():
        raise UnprocessableError("A correction needs a direction and a reason.", code="reason_required")


def _post(
    *, kind: str, key: str, account_id: int, amount: Decimal, currency: str, details: dict[str, Any], actor: str
) -> JournalEntry:
    if kind == "deposit":
        return deposit_record(idempotency_key=key, account_id=account_id, amount=amount, currency=currency, **details)
    return adjustment_record(
        idempotency_key=key, account_id=account_id, amount=amount, currency=currency, actor=actor, **details
    )


@transaction.atomic
def operator_entry_request(
    *,
    kind: str,
    idempotency_key: str,
    account_id: int,
    amount: Decimal,
    currency: str,
    details: dict[str, Any],
    actor: str,
) -> tuple[JournalEntry | None, OperatorEntryRequest | None]:
    """Post at once up to the threshold; above it keep a pending request. Returns (entry, None) or (None, request)."""
    key = key_clean(idempotency_key)
    value = amount_clean(amount, currency)
    what: dict[str, Any] = {
        "kind": kind,
        "account_id": account_id,
        "amount": value,
        "currency": currency,
        "details": details,
    }
    if value <= Decimal(settings.LEDGER_FOUR_EYES_ABOVE):
        return _post(key=key, actor=actor, **what), None
    existing = OperatorEntryRequest.objects.filter(idempotency_key=key).first()
    if existing is not None:
        if (existing.kind, existing.account_id, existing.amount, existing.currency, existing.details) != tuple(
            what.values()
        ):
            raise conflict(key, "operator entry")
        return None, existing
    _check(kind=kind, account_id=account_id, currency=currency, details=details)
    return None, OperatorEntryRequest.objects.create(idempotency_key=key, requested_by=actor, **what)


def _pending(request_id: int, actor: str) -> OperatorEntryRequest:
    request = OperatorEntryRequest.objects.select_for_update().get(pk=request_id)
    second_person_check(
        row=request, first_person=request.requested_by, actor=actor, closed_code="operator_entry_closed"
    )
    return request


@transaction.atomic
def operator_entry_approve(*, request_id: int, actor: str) -> JournalEntry:
    """A second operator approves: the entry is posted under the requester's key (so only once)."""
    request = _pending(request_id, actor)
    entry = _post(
        kind=request.kind,
        key=request.idempotency_key,
        account_id=request.account_id,
        amount=request.amount,
        currency=request.currency,
        details=request.details,
        actor=request.requested_by,
    )
    request.entry = entry
    decision_record(request, status=OperatorEntryStatus.APPROVED, actor=actor, also=("entry",))
    return entry


@transaction.atomic
def operator_entry_reject(*, request_id: int, actor: str, reason: str) -> OperatorEntryRequest:
    """A second operator refuses: nothing is posted."""
    request = _pending(request_id, actor)
    decision_record(request, status=OperatorEntryStatus.REJECTED, actor=actor, reason=reason)
    return request
