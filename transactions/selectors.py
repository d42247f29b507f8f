"""Reads of the escrow lifecycle, scoped by who asks: what you may not see is a 404."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet

from escrow_project.common import readcache
from escrow_project.common.errors import NotFoundError
from identity.models import Organization
from identity.selectors import user_is_operator
from transactions.models import BankDetailsChange, Dispute, EscrowTransaction, PayeeProfile, Payment, PlatformControl
from transactions.services import parties

_PEOPLE = ("buyer", "seller", "buyer_agent", "seller_agent", "lender", "escrow_company", "escrow_officer")


def escrow_list_for_user(*, user: Any) -> QuerySet[EscrowTransaction]:
    """Operators see all; parties see the transactions they are party to; nobody else sees any."""
    qs = EscrowTransaction.objects.select_related(*_PEOPLE)
    if user_is_operator(user):
        return qs
    return qs.filter(parties.escrow_party_q(user))


def escrow_list_for_viewer(*, user: Any) -> QuerySet[EscrowTransaction]:
    """What the party pages list: as escrow_list_for_user, plus the deals an assigned verifier works on."""
    qs = EscrowTransaction.objects.select_related(*_PEOPLE)
    if user_is_operator(user):
        return qs
    return qs.filter(parties.escrow_party_q(user, verifiers=True))


def escrow_get_for_viewer(*, user: Any, public_id: Any) -> tuple[EscrowTransaction, list[str]]:
    """The transaction and the viewer's roles on it (operator: ["operator"]); 404 for anyone else."""
    txn = escrow_list_for_viewer(user=user).filter(public_id=public_id).first()
    if txn is None:
        raise NotFoundError("No such escrow transaction.")
    roles = parties.party_roles(user, txn)
    if not roles and user_is_operator(user):
        roles = ["operator"]
    return txn, roles


def escrow_get_for_party(*, user: Any, public_id: Any) -> EscrowTransaction:
    txn = escrow_list_for_user(user=user).filter(public_id=public_id).first()
    if txn is None:
        raise NotFoundError("No such escrow transaction.")
    return txn


def escrow_pk_for_party(*, user: Any, public_id: Any) -> int:
    """The primary key of a transaction the user may see (one small query), else 404."""
    pk = escrow_list_for_user(user=user).filter(public_id=public_id).values_list("pk", flat=True).first()
    if pk is None:
        raise NotFoundError("No such escrow transaction.")
    return int(pk)


# Transaction state as the API renders it: 5 minutes, retired on commit of any write to the
# transaction or its milestones (transactions.handlers).
STATE_CACHE_SPACE = "escrow_state"
STATE_CACHE_TTL = 300


def escrow_state_cached(*, transaction_id: int, render: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The rendered state of one transaction, from the cache when it is warm."""
    return escrow_state_cached_versioned(transaction_id=transaction_id, render=render)[0]


def escrow_state_cached_versioned(
    *, transaction_id: int, render: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], str | None]:
    """`escrow_state_cached` and the version of that state (None when the cache is not in use:
    then there is nothing a later read could be compared with)."""
    return readcache.cached_versioned(
        space=STATE_CACHE_SPACE, key=str(transaction_id), ttl=STATE_CACHE_TTL, load=render
    )


def escrow_state_wait(*, transaction_id: int, seen: str, timeout: float) -> bool:
    """Wait up to `timeout` s for a committed write to the transaction (True) or not (False)."""
    return readcache.wait_for_change(space=STATE_CACHE_SPACE, key=str(transaction_id), seen=seen, timeout=timeout)


def escrow_state_invalidate(*, transaction_id: int) -> None:
    readcache.invalidate_on_commit(space=STATE_CACHE_SPACE, key=str(transaction_id), ttl=STATE_CACHE_TTL)


def escrow_user_is_party(*, user: Any, subject_id: str) -> bool:
    """For the audit trail and live pages: may this user see this transaction?"""
    return escrow_list_for_user(user=user).filter(public_id=subject_id).exists()


def payment_get_for_party(*, user: Any, public_id: Any) -> Payment:
    payment = (
        Payment.objects.select_related("transaction", "payee")
        .filter(public_id=public_id, transaction__in=escrow_list_for_user(user=user))
        .first()
    )
    if payment is None:
        raise NotFoundError("No such payment.")
    return payment


def dispute_get_for_party(*, user: Any, public_id: Any) -> Dispute:
    dispute = (
        Dispute.objects.select_related("transaction")
        .filter(public_id=public_id, transaction__in=escrow_list_for_user(user=user))
        .first()
    )
    if dispute is None:
        raise NotFoundError("No such dispute.")
    return dispute


def payee_bank_details_state(*, organization: Organization) -> dict[str, Any]:
    """The details in force and the ten latest proposed changes (the caller may see the organization)."""
    profile = PayeeProfile.objects.filter(organization=organization).first()
    return {
        "account": masked_account(profile.bank_details if profile else None),
        "cooling_off_until": profile.cooling_off_until if profile else None,
        "changes": list(
            BankDetailsChange.objects.filter(organization=organization).select_related("proposed_by", "decided_by")[:10]
        ),
    }


def bank_details_change_get(*, organization: Organization, public_id: Any) -> BankDetailsChange:
    change = BankDetailsChange.objects.filter(organization=organization, public_id=public_id).first()
    if change is None:
        raise NotFoundError("No such bank-details change.")
    return change


def masked_account(bank_details: Any) -> str:
    """An account number as its last four digits ("\u2022\u2022\u2022\u20224321"), '' when there is none."""
    number = str(bank_details.get("account_number", "")) if isinstance(bank_details, dict) else ""
    return f"\u2022\u2022\u2022\u2022{number[-4:]}" if number else ""


def payouts_pause_state() -> PlatformControl:
    """The emergency switch as it stands (an unsaved default when nobody has ever touched it)."""
    return PlatformControl.objects.select_related("changed_by").filter(pk=1).first() or PlatformControl(pk=1)
