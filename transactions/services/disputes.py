"""Disputes: any party raises one and funds freeze; the escrow officer resolves it through the ledger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from escrow_project.common.errors import ConflictError, NotFoundError, UnprocessableError
from escrow_project.common.fsm import transition_run
from identity.selectors import user_is_operator
from transactions.models import Dispute, DisputeResolution, DisputeStatus
from transactions.services import funds
from transactions.services._common import (
    audit,
    control,
    notify,
    require_officer_or_operator,
    require_party,
    transitioned,
    txn_lock,
)
from transactions.services.lifecycle import _wind_down, escrow_catch_up


@transaction.atomic
def dispute_raise(*, transaction_id: int, raised_by: Any, reason: str, evidence: list[Any] | None = None) -> Dispute:
    """A party disputes the deal: the transaction freezes until the officer resolves it."""
    txn = txn_lock(transaction_id)
    require_party(raised_by, txn)
    if not reason.strip():
        raise UnprocessableError("Say why you dispute the transaction.", code="reason_required")
    transition_run(txn, "raise_dispute", code="not_disputable")
    txn.save()
    transitioned(txn)
    dispute = Dispute.objects.create(
        transaction=txn, raised_by=raised_by, reason=reason.strip(), evidence=evidence or []
    )
    audit("escrow.dispute_raised", txn, raised_by, dispute=str(dispute.public_id))
    notify("dispute_raised", txn, reason=dispute.reason[:500], dedupe=str(dispute.public_id))
    return dispute


def _lock_dispute(dispute_id: int) -> Dispute:
    dispute = Dispute.objects.select_for_update().filter(pk=dispute_id).first()
    if dispute is None:
        raise NotFoundError("No such dispute.")
    return dispute


@transaction.atomic
def dispute_resolve(
    *,
    dispute_id: int,
    actor: Any,
    resolution: str,
    seller_share_pct: Any = None,
    note: str = "",
) -> Dispute:
    """Release to the seller, refund to the buyer, or split; agents keep fees already earned."""
    dispute = _lock_dispute(dispute_id)
    txn = txn_lock(dispute.transaction_id)
    require_officer_or_operator(actor, txn, "resolve a dispute")
    if dispute.status != DisputeStatus.OPEN:
        raise ConflictError(f"The dispute is already {dispute.status}.", code="dispute_closed")
    if resolution not in DisputeResolution.values:
        raise UnprocessableError("Resolve by release, refund or split.", code="invalid_resolution")
    if control().payouts_paused or txn.paused:
        raise ConflictError("Payouts are paused; lift the pause to execute the resolution.", code="payouts_paused")
    share: Decimal | None = None
    if resolution == DisputeResolution.SPLIT:
        try:
            share = Decimal(str(seller_share_pct))
        except Exception:  # noqa: BLE001 - any unparsable value is the same user error
            share = None
        if share is None or not share.is_finite() or share <= 0 or share >= 100:
            raise UnprocessableError(
                "A split needs the seller's share, above 0 and below 100 percent.", code="invalid_split"
            )
    elif seller_share_pct not in (None, ""):
        raise UnprocessableError("Only a split takes a seller share.", code="invalid_split")
    transition_run(txn, "resolve_dispute")
    txn.save()
    transitioned(txn)
    if resolution == DisputeResolution.RELEASE:
        split = [(txn.seller_id, "Released to the seller", Decimal(100))]
    elif resolution == DisputeResolution.REFUND:
        split = [(txn.buyer_id, "Refunded to the buyer", Decimal(100))]
    else:
        assert share is not None
        split = [(txn.seller_id, "Seller's share", share), (txn.buyer_id, "Buyer's share", Decimal(100) - share)]
    moved = _wind_down(txn, purpose="dispute", split=split)
    dispute.resolve(
        resolution=resolution,
        seller_share_pct=share,
        note=note,
        by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    dispute.save()
    audit("escrow.dispute_resolved", txn, actor, dispute=str(dispute.public_id), resolution=resolution, moved=moved)
    notify("dispute_resolved", txn, resolution=resolution, dedupe=str(dispute.public_id))
    return dispute


@transaction.atomic
def dispute_dismiss(*, dispute_id: int, actor: Any, note: str = "") -> Dispute:
    """The dispute has no merit or was withdrawn: the transaction resumes and frozen payouts go."""
    dispute = _lock_dispute(dispute_id)
    txn = txn_lock(dispute.transaction_id)
    require_officer_or_operator(actor, txn, "dismiss a dispute")
    if dispute.status != DisputeStatus.OPEN:
        raise ConflictError(f"The dispute is already {dispute.status}.", code="dispute_closed")
    transition_run(txn, "dismiss_dispute")
    txn.save()
    transitioned(txn)
    escrow_catch_up(txn)
    dispute.dismiss(note=note, by=actor if getattr(actor, "is_authenticated", False) else None)
    dispute.save()
    audit("escrow.dispute_dismissed", txn, actor, dispute=str(dispute.public_id))
    notify("dispute_resolved", txn, resolution="dismissed", dedupe=str(dispute.public_id))
    funds.unblock_after_commit(txn.pk)
    return dispute


def user_may_resolve(user: Any, txn_officer_id: int) -> bool:
    return user_is_operator(user) or getattr(user, "pk", None) == txn_officer_id
