"""Opening and closing accounts, and the platform's own (system) accounts."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from ledger.errors import AccountConflictError, AccountNotEmptyError, UnknownAccountError
from ledger.models import Account, Hold, PayoutIntent, Side
from ledger.services._core import currency_clean, insert_unless_exists
from ledger.states import PAYOUT_OPEN, HoldStatus

SYSTEM = "system"
PLATFORM = "platform"
CLEARING_PURPOSE = "rail_clearing"


@transaction.atomic
def account_open(
    *,
    owner_type: str,
    owner_id: str,
    purpose: str,
    currency: str,
    normal_side: str,
    no_overdraft: bool = False,
    name: str = "",
) -> Account:
    """Open an account, or return the existing one for the same owner, purpose and currency."""
    currency_clean(currency)
    if normal_side not in (Side.DEBIT, Side.CREDIT):
        raise AccountConflictError(f"normal_side must be 'debit' or 'credit', not {normal_side!r}.", status=422)
    owner_id = str(owner_id)
    # The guard matching the normal side: a credit-normal wallet must not be debited below zero.
    debits_guard = no_overdraft and normal_side == Side.CREDIT
    credits_guard = no_overdraft and normal_side == Side.DEBIT
    insert_unless_exists(
        Account,
        {
            "public_id": uuid.uuid4(),
            "currency": currency,
            "normal_side": normal_side,
            "owner_type": owner_type,
            "owner_id": owner_id,
            "purpose": purpose,
            "name": name[:200],
            "debits_must_not_exceed_credits": debits_guard,
            "credits_must_not_exceed_debits": credits_guard,
            "created_at": timezone.now(),
            "posted_debits": Decimal(0),
            "posted_credits": Decimal(0),
            "pending_debits": Decimal(0),
            "pending_credits": Decimal(0),
        },
        conflict_fields=("owner_type", "owner_id", "purpose", "currency"),
    )
    account = Account.objects.get(owner_type=owner_type, owner_id=owner_id, purpose=purpose, currency=currency)
    if (
        account.normal_side != normal_side
        or account.debits_must_not_exceed_credits != debits_guard
        or account.credits_must_not_exceed_debits != credits_guard
    ):
        raise AccountConflictError(
            f"Account {owner_type}:{owner_id}/{purpose} ({currency}) already exists as {account.normal_side}-normal "
            f"with no_overdraft={account.debits_must_not_exceed_credits or account.credits_must_not_exceed_debits}."
        )
    return account


@transaction.atomic
def account_close(*, account_id: int) -> Account:
    """Close an empty account: it then refuses new postings (voids still pass)."""
    account = Account.objects.select_for_update().filter(pk=account_id).first()
    if account is None:
        raise UnknownAccountError(f"No account with id {account_id}.")
    if account.closed_at is not None:
        return account
    if account.posted_debits != account.posted_credits or account.pending_debits or account.pending_credits:
        raise AccountNotEmptyError(
            f"Account {account_id} still has a balance or pending holds; move the money out before closing it."
        )
    if Hold.objects.filter(status=HoldStatus.PENDING, debit_account_id=account_id).exists() or (
        PayoutIntent.objects.filter(account_id=account_id, status__in=PAYOUT_OPEN).exists()
    ):
        raise AccountNotEmptyError(f"Account {account_id} has holds or payouts still in flight.")
    account.closed_at = timezone.now()
    account.save(update_fields=["closed_at"])
    return account


def system_account(*, purpose: str, currency: str, owner_id: str = PLATFORM, normal_side: str = Side.DEBIT) -> Account:
    """The platform's own account for a purpose (rail clearing, payouts in flight, adjustments)."""
    return account_open(
        owner_type=SYSTEM,
        owner_id=owner_id,
        purpose=purpose,
        currency=currency,
        normal_side=normal_side,
        name=f"{purpose.replace('_', ' ')} {owner_id} {currency}",
    )


def rail_clearing_account(*, rail: str, currency: str) -> Account:
    """Cash the platform holds at a rail (debit-normal asset): deposits debit it, payouts credit it."""
    return system_account(purpose=CLEARING_PURPOSE, currency=currency, owner_id=f"rail:{rail}")


def payouts_in_flight_account(*, currency: str) -> Account:
    """Money promised to beneficiaries but not yet confirmed by the rail (credit-normal liability)."""
    return system_account(purpose="payouts_in_flight", currency=currency, normal_side=Side.CREDIT)


def adjustments_account(*, currency: str) -> Account:
    """The counterpart of operator adjustments (debit-normal), so every correction stays balanced."""
    return system_account(purpose="adjustments", currency=currency)
