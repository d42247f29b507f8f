"""Insurer answers and operator actions: confirm, activate, reject, cancel, retry."""

from __future__ import annotations

import datetime
from decimal import Decimal

import structlog
from django.db import transaction
from django_fsm import TransitionNotAllowed

from endorsements import funds, hooks, metrics
from endorsements.models import Coverage, Direction, EndorsementKind, EndorsementRequest, Member
from endorsements.services.funding import ea_drain, ea_lock
from escrow_project.common.errors import InvalidTransitionError, NotFoundError

logger = structlog.get_logger(__name__)


def _locked(request_id: int) -> EndorsementRequest:
    # Lock order everywhere: the employer's EA row, then request rows, then (inside the ledger) accounts.
    found = EndorsementRequest.objects.filter(pk=request_id).values_list("employer_id", "currency").first()
    if found is None:
        raise NotFoundError("No such endorsement request.", code="endorsement_not_found")
    ea_lock(employer_id=found[0], currency=found[1])
    return (
        EndorsementRequest.objects.select_for_update(of=("self",))
        .select_related("employer", "policy")
        .get(pk=request_id)
    )


def _not_allowed(request: EndorsementRequest, step: str) -> InvalidTransitionError:
    return InvalidTransitionError(
        f"Endorsement {request.tracking_id} is {request.get_state_display()}; it cannot be {step}.",
        code="endorsement_invalid_transition",
    )


@transaction.atomic
def request_confirm(
    *, request_id: int, claim_reported: bool = False, reference: str = "", actor: str
) -> EndorsementRequest:
    """The insurer accepted: post the debit's hold, or book the refund and wake parked requests."""
    request = _locked(request_id)
    try:
        request.confirm()
    except TransitionNotAllowed:
        raise _not_allowed(request, "confirmed") from None
    request.insurer_reference = reference or request.insurer_reference
    ea = ea_lock(employer_id=request.employer_id, currency=request.currency)
    if request.direction == Direction.DEBIT and request.hold_id:
        funds.hold_post(key=f"endorsement:{request.tracking_id}:post", hold_id=request.hold_id)
        request.settled_amount = request.amount
    elif request.direction == Direction.CREDIT:
        # A claim in the term forfeits the refund of a leaving member (the insurer tells us).
        forfeited = claim_reported and request.kind == EndorsementKind.DELETION
        request.claim_reported = claim_reported
        request.settled_amount = Decimal(0) if forfeited else request.amount
        if request.settled_amount > 0:
            funds.refund_credit(
                key=f"endorsement:{request.tracking_id}:refund",
                ea=ea,
                insurer_id=request.insurer_id,
                amount=request.settled_amount,
                currency=request.currency,
            )
    else:
        request.settled_amount = Decimal(0)
    request.save()
    hooks.request_step(
        request,
        "endorsement.confirmed",
        actor=actor,
        payload={"settled_amount": str(request.settled_amount), "claim_reported": claim_reported},
    )
    if request.direction == Direction.CREDIT and request.settled_amount:
        ea_drain(employer_id=request.employer_id, currency=request.currency, actor=actor)
    return request


@transaction.atomic
def request_activate(*, request_id: int, actor: str) -> EndorsementRequest:
    """The change is in force: the member and coverage rows follow."""
    request = _locked(request_id)
    try:
        request.activate()
    except TransitionNotAllowed:
        raise _not_allowed(request, "activated") from None
    member = Member.objects.select_for_update().get(pk=request.member_id)
    open_coverage = Coverage.objects.filter(member=member, end_date__isnull=True).first()
    if request.kind == EndorsementKind.ADDITION:
        member.status = Member.Status.COVERED
        Coverage.objects.create(
            member=member, policy_id=request.policy_id, plan=request.plan, start_date=request.effective_date
        )
    elif request.kind == EndorsementKind.DELETION:
        member.status = Member.Status.REMOVED
        if open_coverage is not None:
            open_coverage.end_date = request.effective_date
            open_coverage.save(update_fields=["end_date"])
    else:
        member.plan = request.new_plan
        if open_coverage is not None:
            open_coverage.end_date = request.effective_date - datetime.timedelta(days=1)
            open_coverage.save(update_fields=["end_date"])
        Coverage.objects.create(
            member=member, policy_id=request.policy_id, plan=request.new_plan, start_date=request.effective_date
        )
    member.save()
    request.save()
    hooks.request_step(request, "endorsement.activated", actor=actor)
    metrics.RECEIVED_TO_ACTIVE.observe((request.activated_at - request.created_at).total_seconds())  # type: ignore[operator]
    return request


def _release(request: EndorsementRequest, *, reason: str) -> None:
    if request.hold_id:
        funds.hold_void(key=f"endorsement:{request.tracking_id}:void", hold_id=request.hold_id, reason=reason[:200])
    if request.kind == EndorsementKind.ADDITION:
        Member.objects.filter(pk=request.member_id, status=Member.Status.PENDING).update(
            status=Member.Status.NOT_COVERED
        )


@transaction.atomic
def request_reject(*, request_id: int, reason: str, actor: str) -> EndorsementRequest:
    """The insurer refused: void the hold, undo a pending addition, wake parked requests."""
    request = _locked(request_id)
    try:
        request.reject(reason or "Rejected by the insurer.")
    except TransitionNotAllowed:
        raise _not_allowed(request, "rejected") from None
    _release(request, reason=reason)
    request.save()
    hooks.request_step(request, "endorsement.rejected", actor=actor, payload={"reason": request.rejection_reason})
    if request.hold_id:
        ea_drain(employer_id=request.employer_id, currency=request.currency, actor=actor)
    return request


@transaction.atomic
def request_cancel(*, request_id: int, reason: str, actor: str) -> EndorsementRequest:
    """An operator withdraws a request the insurer has not seen; any hold is voided."""
    request = _locked(request_id)
    try:
        request.cancel(reason or "Cancelled by an operator.")
    except TransitionNotAllowed:
        raise _not_allowed(request, "cancelled") from None
    _release(request, reason=reason or "cancelled")
    request.save()
    hooks.request_step(request, "endorsement.cancelled", actor=actor, payload={"reason": request.rejection_reason})
    ea_drain(employer_id=request.employer_id, currency=request.currency, actor=actor)
    return request


@transaction.atomic
def request_retry(*, request_id: int, actor: str) -> EndorsementRequest:
    """An operator sends a dead-lettered request again in the next window."""
    request = _locked(request_id)
    try:
        request.requeue()
    except TransitionNotAllowed:
        raise _not_allowed(request, "retried") from None
    request.dispatch = None
    request.next_attempt_at = None
    request.save()
    hooks.request_step(request, "endorsement.requeued", actor=actor)
    return request
