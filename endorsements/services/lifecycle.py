"""Operator actions on single requests: cancel and retry. (Insurer answers: services/callbacks.py.)"""

from __future__ import annotations

import structlog
from django.db import transaction
from django_fsm import TransitionNotAllowed

from endorsements import funds, hooks
from endorsements.models import EndorsementKind, EndorsementRequest, Member
from endorsements.services.funding import ea_drain, ea_lock
from endorsements.states import RequestState
from escrow_project.common.errors import ConflictError, InvalidTransitionError, NotFoundError

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


def _release(request: EndorsementRequest, *, reason: str) -> None:
    if request.hold_id:
        funds.hold_void(key=f"endorsement:{request.tracking_id}:void", hold_id=request.hold_id, reason=reason[:200])
    if request.kind == EndorsementKind.ADDITION:
        Member.objects.filter(pk=request.member_id, status=Member.Status.PENDING).update(
            status=Member.Status.NOT_COVERED
        )


@transaction.atomic
def request_cancel(*, request_id: int, reason: str, actor: str) -> EndorsementRequest:
    """An operator withdraws a request the insurer has not seen; any hold is voided."""
    request = _locked(request_id)
    if request.dispatch_id is not None and request.state == RequestState.FUND_LOCKED:
        # The insurer may be receiving it right now: wait for the delivery's outcome (or dead letter).
        raise ConflictError(
            f"Endorsement {request.tracking_id} is being delivered to the insurer; it cannot be cancelled now.",
            code="endorsement_in_delivery",
        )
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
