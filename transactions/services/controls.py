"""Operator controls: emergency pause (global or per transaction) and payee bank details."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services import event_record
from escrow_project.common.errors import PermissionDeniedError, UnprocessableError
from escrow_project.common.four_eyes import decision_record, second_person_check
from identity.models import Membership, Organization, Role
from identity.selectors import user_is_operator
from transactions.models import (
    BankDetailsChange,
    BankDetailsChangeStatus,
    EscrowTransaction,
    PayeeProfile,
    PlatformControl,
)
from transactions.services import funds
from transactions.services._common import actor_ref, audit, live, logger, txn_lock
from transactions.states import FINAL

# The audit subject of the emergency switch; nobody registers access to it, so only operators and
# auditors read its trail (GET /api/v1/audit/escrow_platform_control/payouts/events).
CONTROL_SUBJECT_TYPE = "escrow_platform_control"
CONTROL_SUBJECT_ID = "payouts"


def _require_operator(user: Any) -> None:
    if user is not None and not user_is_operator(user):
        raise PermissionDeniedError("Only operators may pause or resume payouts.")


@transaction.atomic
def payouts_pause_all(*, actor: Any, paused: bool, reason: str = "") -> PlatformControl:
    """The emergency switch: no escrow money moves anywhere while it is on."""
    _require_operator(actor)
    row, _ = PlatformControl.objects.select_for_update().get_or_create(pk=1)
    was_paused = row.payouts_paused
    row.payouts_paused = paused
    row.reason = reason[:300]
    row.changed_by = actor
    row.changed_at = timezone.now()
    row.save()
    # On the control's own chain: the switch stops every case's money, so who flipped it, when and
    # why must be as tamper-evident as what it stopped.
    event_record(
        kind="escrow.payouts_paused_all" if paused else "escrow.payouts_resumed_all",
        subject_type=CONTROL_SUBJECT_TYPE,
        subject_id=CONTROL_SUBJECT_ID,
        actor=actor_ref(actor),
        payload={"paused": paused, "was_paused": was_paused, "reason": row.reason},
    )
    logger.warning("escrow_payouts_paused" if paused else "escrow_payouts_resumed", reason=reason)
    if not paused:
        funds.unblock_all_after_commit()
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
        funds.unblock_after_commit(txn.pk)
    return txn


def _may_administer(user: Any, organization: Organization) -> bool:
    return (
        user_is_operator(user)
        or Membership.objects.filter(user=user, organization=organization, role=Role.ORG_ADMIN).exists()
    )


def _clean_bank_details(bank_details: Any) -> dict[str, Any]:
    if not isinstance(bank_details, dict) or not bank_details.get("account_number"):
        raise UnprocessableError(
            "Bank details need at least an account_number.",
            code="invalid_bank_details",
            errors=[{"field": "bank_details.account_number", "code": "required", "message": "Required."}],
        )
    return bank_details


def _audit_on_open_transactions(organization: Organization, event: str, actor: Any, **payload: Any) -> None:
    open_txns = EscrowTransaction.objects.exclude(status__in=FINAL).filter(models_q_party(organization.pk)).distinct()
    for txn in open_txns:
        audit(event, txn, actor, organization=str(organization.public_id), **payload)
        # No notification kind exists for this yet (notifications owns the list): live event + audit.
        live(txn, event.removeprefix("escrow."))


@transaction.atomic
def payee_bank_details_propose(*, organization: Organization, bank_details: Any, actor: Any) -> BankDetailsChange:
    """An organization admin (or operator) proposes new payout details; a second person must confirm."""
    if not _may_administer(actor, organization):
        raise PermissionDeniedError(
            "Only an administrator of this organization (or an operator) may change its bank details.",
            code="org_admin_required",
        )
    details = _clean_bank_details(bank_details)
    # One open proposal per organization: a newer one replaces it (and needs its own confirmation).
    BankDetailsChange.objects.select_for_update().filter(
        organization=organization, status=BankDetailsChangeStatus.PENDING
    ).update(status=BankDetailsChangeStatus.SUPERSEDED, decided_at=timezone.now())
    change = BankDetailsChange.objects.create(
        organization=organization,
        bank_details=details,
        proposed_by=actor,
    )
    _audit_on_open_transactions(organization, "escrow.payee_bank_details_proposed", actor, change=str(change.public_id))
    return change


def _pending_change(change_id: int, actor: Any) -> BankDetailsChange:
    change = BankDetailsChange.objects.select_for_update().select_related("organization").get(pk=change_id)
    if not _may_administer(actor, change.organization):
        raise PermissionDeniedError(
            "Only another administrator of this organization (or an operator) may decide this change.",
            code="org_admin_required",
        )
    second_person_check(
        row=change, first_person=change.proposed_by_id, actor=actor.pk, closed_code="bank_details_change_closed"
    )
    return change


@transaction.atomic
def payee_bank_details_confirm(*, change_id: int, actor: Any) -> PayeeProfile:
    """A second person confirms: the details apply, and a change of existing ones starts the cooling-off."""
    change = _pending_change(change_id, actor)
    decision_record(change, status=BankDetailsChangeStatus.CONFIRMED, actor=actor)
    return _bank_details_apply(organization=change.organization, bank_details=change.bank_details, actor=actor)


@transaction.atomic
def payee_bank_details_reject(*, change_id: int, actor: Any, reason: str = "") -> BankDetailsChange:
    """A second person refuses the proposal; nothing about payouts changes."""
    change = _pending_change(change_id, actor)
    decision_record(change, status=BankDetailsChangeStatus.REJECTED, actor=actor, reason=reason)
    _audit_on_open_transactions(
        change.organization, "escrow.payee_bank_details_rejected", actor, change=str(change.public_id)
    )
    return change


def _bank_details_apply(*, organization: Organization, bank_details: Any, actor: Any) -> PayeeProfile:
    """Apply confirmed payout details; a change of existing ones starts the cooling-off."""
    details = _clean_bank_details(bank_details)
    profile, _ = PayeeProfile.objects.select_for_update().get_or_create(organization=organization)
    changed = bool(profile.bank_details) and profile.bank_details != details
    profile.bank_details = details
    profile.bank_details_changed_at = timezone.now()
    if changed:
        profile.cooling_off_until = funds.cooling_off_until()
    profile.save()
    if changed:
        _audit_on_open_transactions(organization, "escrow.payee_bank_details_changed", actor)
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


@transaction.atomic
def payee_rail_account_updated(*, account_id: str, payouts_enabled: bool) -> int:
    """Stripe says whether a payee's Connect account can receive payouts; waiting payments move on."""
    updated = PayeeProfile.objects.filter(stripe_account_id=account_id).update(stripe_payouts_enabled=payouts_enabled)
    if updated and payouts_enabled:
        funds.unblock_all_after_commit()
    return updated
