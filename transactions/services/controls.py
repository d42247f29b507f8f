"""Operator controls: emergency pause (global or per transaction) and payee bank details."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from escrow_project.common.errors import PermissionDeniedError, UnprocessableError
from identity.models import Organization
from identity.selectors import organization_ids_for_user, user_is_operator
from transactions.models import EscrowTransaction, PayeeProfile, PlatformControl
from transactions.services import funds
from transactions.services._common import audit, live, logger, txn_lock
from transactions.states import FINAL


def _require_operator(user: Any) -> None:
    if user is not None and not user_is_operator(user):
        raise PermissionDeniedError("Only operators may pause or resume payouts.")


@transaction.atomic
def payouts_pause_all(*, actor: Any, paused: bool, reason: str = "") -> PlatformControl:
    """The emergency switch: no escrow money moves anywhere while it is on."""
    _require_operator(actor)
    row, _ = PlatformControl.objects.select_for_update().get_or_create(pk=1)
    row.payouts_paused = paused
    row.reason = reason[:300]
    row.changed_by = actor
    row.changed_at = timezone.now()
    row.save()
    logger.warning("escrow_payouts_paused" if paused else "escrow_payouts_resumed", reason=reason)
    if not paused:
        transaction.on_commit(funds.transactions_unblock_all)
    return row


@transaction.atomic
def escrow_pause(*, transaction_id: int, actor: Any, paused: bool, reason: str = "") -> EscrowTransaction:
    """Pause or resume one transaction's money."""
    _require_operator(actor)
    txn = txn_lock(transaction_id)
    txn.paused = paused
    txn.pause_reason = reason[:300] if paused else ""
    txn.save(update_fields=["paused", "pause_reason", "updated_at"])
    audit("escrow.paused" if paused else "escrow.resumed", txn, actor, reason=reason[:300])
    if not paused:
        transaction.on_commit(lambda: funds.transaction_unblock(transaction_id=txn.pk))
    return txn


@transaction.atomic
def payee_bank_details_set(*, organization: Organization, bank_details: dict[str, Any], actor: Any) -> PayeeProfile:
    """Set where an organization is paid; a change holds its payouts for the cooling-off period."""
    if actor is not None and not (user_is_operator(actor) or organization.pk in organization_ids_for_user(actor)):
        raise PermissionDeniedError("You may change only your own organization's bank details.")
    if not isinstance(bank_details, dict) or not bank_details.get("account_number"):
        raise UnprocessableError("Bank details need at least an account_number.", code="invalid_bank_details")
    profile, _ = PayeeProfile.objects.select_for_update().get_or_create(organization=organization)
    changed = bool(profile.bank_details) and profile.bank_details != bank_details
    profile.bank_details = bank_details  # type: ignore[assignment]  # an EncryptedJSONField holds a dict
    profile.bank_details_changed_at = timezone.now()
    if changed:
        profile.cooling_off_until = funds.cooling_off_until()
    profile.save()
    if changed:
        open_txns = (
            EscrowTransaction.objects.exclude(status__in=FINAL).filter(models_q_party(organization.pk)).distinct()
        )
        for txn in open_txns:
            audit("escrow.payee_bank_details_changed", txn, actor, organization=str(organization.public_id))
            # No notification kind exists for this yet (notifications owns the list): live event + audit.
            live(txn, "payee_bank_details_changed")
    return profile


def models_q_party(organization_id: int) -> Any:
    from django.db.models import Q

    return (
        Q(buyer_id=organization_id)
        | Q(seller_id=organization_id)
        | Q(buyer_agent_id=organization_id)
        | Q(seller_agent_id=organization_id)
        | Q(lender_id=organization_id)
        | Q(escrow_company_id=organization_id)
        | Q(milestones__payee_id=organization_id)
    )
