"""Credits-first tumbling windows per insurer, delivery through the gateway, retries, dead letters."""

from __future__ import annotations

import datetime
import uuid

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from endorsements import funds, hooks
from endorsements.gateway import GatewayConfigError, GatewayItem, GatewayResult, gateway_for
from endorsements.models import Dispatch, EndorsementKind, EndorsementRequest, InsurerProfile, Member
from endorsements.services.funding import ea_drain, ea_lock
from endorsements.services.persist import requests_save
from endorsements.states import RequestState
from escrow_project.common.enqueue import enqueue_on_commit
from escrow_project.common.errors import NotFoundError
from ledger.types import HoldVoidOp

logger = structlog.get_logger(__name__)

DISPATCH_MAX_ITEMS = 1000
STALE_DISPATCH_SECONDS = 300


def callback_url(insurer_public_id: uuid.UUID) -> str:
    base = (settings.ENDORSEMENTS_CALLBACK_BASE_URL or settings.PUBLIC_BASE_URL).rstrip("/")
    return f"{base}/api/v1/webhooks/insurers/{insurer_public_id}/batch-notify"


@transaction.atomic
def scheduler_tick(*, now: datetime.datetime | None = None, force: bool = False) -> list[int]:
    """Close every insurer window that is due: its ready requests become dispatches, credits first."""
    now = now or timezone.now()
    created: list[int] = []
    # skip_locked: two beat ticks never build the same window twice.
    for profile in InsurerProfile.objects.select_for_update(skip_locked=True).order_by("pk"):
        due = profile.last_window_at is None or now >= profile.last_window_at + datetime.timedelta(
            seconds=profile.window_seconds
        )
        if not (due or force):
            continue
        ready = EndorsementRequest.objects.filter(
            insurer_id=profile.insurer_id, state=RequestState.FUND_LOCKED, dispatch__isnull=True
        )
        # "credit" sorts before "debit": refunds reach the insurer first and free funds first.
        ids = list(ready.order_by("direction", "effective_date", "pk").values_list("pk", flat=True))
        profile.last_window_at = now
        profile.save(update_fields=["last_window_at"])
        for start in range(0, len(ids), DISPATCH_MAX_ITEMS):
            dispatch = Dispatch.objects.create(
                insurer_id=profile.insurer_id, idempotency_key=f"dispatch:{uuid.uuid4()}"
            )
            EndorsementRequest.objects.filter(
                pk__in=ids[start : start + DISPATCH_MAX_ITEMS], state=RequestState.FUND_LOCKED, dispatch__isnull=True
            ).update(dispatch=dispatch)
            created.append(dispatch.pk)
    # Sweeper: a delivery whose task was lost (worker killed between commit and enqueue, or a
    # retry countdown dropped) is enqueued again; the insurer's idempotency key makes that safe.
    stale_before = now - datetime.timedelta(seconds=STALE_DISPATCH_SECONDS)
    stale = list(
        Dispatch.objects.filter(status=Dispatch.Status.PENDING, created_at__lt=stale_before)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=stale_before))
        .values_list("pk", flat=True)[:100]
    )
    if stale or created:
        from endorsements.tasks import dispatch_send_task

        for dispatch_id in stale:
            enqueue_on_commit(dispatch_send_task, dispatch_id)

        for dispatch_id in created:
            enqueue_on_commit(dispatch_send_task, dispatch_id)
        logger.info("endorsement_windows_closed", dispatches=len(created))
    return created


_ITEM_COLUMNS = (
    "tracking_id",
    "kind",
    "direction",
    "amount",
    "currency",
    "policy__policy_number",
    "member__member_id",
    "member__relationship",
    "plan",
    "new_plan",
    "effective_date",
)


def _items(dispatch: Dispatch) -> list[GatewayItem]:
    # Only the columns the insurer gets: a model row would also decrypt each member's name and birth date.
    rows = (
        EndorsementRequest.objects.filter(dispatch=dispatch, state=RequestState.FUND_LOCKED)
        .order_by("direction", "effective_date", "pk")
        .values_list(*_ITEM_COLUMNS)
    )
    return [
        GatewayItem(
            tracking_id=tracking_id,
            kind=kind,
            direction=direction,
            amount=str(amount),
            currency=currency,
            policy_number=policy_number,
            member_id=member_id,
            relationship=relationship,
            plan=plan,
            new_plan=new_plan,
            effective_date=effective_date.isoformat(),
        )
        for (
            tracking_id,
            kind,
            direction,
            amount,
            currency,
            policy_number,
            member_id,
            relationship,
            plan,
            new_plan,
            effective_date,
        ) in rows
    ]


def dispatch_send(*, dispatch_id: int) -> int | None:
    """Deliver one dispatch (no locks held during the HTTP call); returns a retry delay if transient."""
    dispatch = Dispatch.objects.select_related("insurer").filter(pk=dispatch_id).first()
    if dispatch is None:
        raise NotFoundError("No such dispatch.", code="dispatch_not_found")
    if dispatch.status != Dispatch.Status.PENDING:
        return None
    items = _items(dispatch)
    if not items:
        dispatch_record_result(dispatch_id=dispatch_id, result=GatewayResult(accepted=True))
        return None
    profile = InsurerProfile.objects.get(insurer_id=dispatch.insurer_id)
    try:
        gateway = gateway_for(profile)
    except GatewayConfigError as exc:
        # Nothing can be sent until an operator fixes the profile: dead letter now, so the
        # requests can be cancelled (holds released) or retried, instead of staying locked.
        return dispatch_record_result(
            dispatch_id=dispatch_id, result=GatewayResult(accepted=False, error=f"Insurer not configured: {exc}")
        )
    result = gateway.submit(
        idempotency_key=dispatch.idempotency_key,
        items=items,
        callback_url=callback_url(dispatch.insurer.public_id),
        dispatch_id=dispatch.pk,
    )
    return dispatch_record_result(dispatch_id=dispatch_id, result=result)


DISPATCH_SWEEP_AFTER = datetime.timedelta(minutes=5)


def dispatches_sweep(*, now: datetime.datetime | None = None) -> list[int]:
    """Hand again to a worker every pending delivery whose next attempt is overdue by
    DISPATCH_SWEEP_AFTER: its task was lost (broker down, worker killed). Sending twice is safe: the
    insurer dedupes by our idempotency key (SFTP: by file name and BGN reference) and only the first
    answer is applied."""
    from endorsements.tasks import dispatch_send_task

    cutoff = (now or timezone.now()) - DISPATCH_SWEEP_AFTER
    stale = list(
        Dispatch.objects.filter(status=Dispatch.Status.PENDING)
        .filter(Q(next_attempt_at__lt=cutoff) | Q(next_attempt_at__isnull=True, created_at__lt=cutoff))
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    for dispatch_id in stale:
        enqueue_on_commit(dispatch_send_task, dispatch_id)
    if stale:
        logger.info("endorsement_dispatches_swept", count=len(stale))
    return stale


def dispatch_stop(*, dispatch_id: int, actor: str) -> Dispatch:
    """An operator gives up on a delivery that is still being retried: it dead-letters now.

    Its requests can then be cancelled (holds voided) or retried in the next window, after the
    operator fixed or changed the insurer's route. A delivery already answered is left alone.
    """
    dispatch_record_result(
        dispatch_id=dispatch_id, result=GatewayResult(accepted=False, error=f"Delivery stopped by {actor}.")
    )
    dispatch = Dispatch.objects.get(pk=dispatch_id)
    logger.warning("endorsement_dispatch_stopped", dispatch=dispatch_id, actor=actor, status=dispatch.status)
    return dispatch


def backoff_seconds(attempt: int) -> int:
    base: int = settings.ENDORSEMENTS_RETRY_BASE_SECONDS
    return int(min(base * (2 ** max(attempt - 1, 0)), 3600))


@transaction.atomic
def dispatch_record_result(*, dispatch_id: int, result: GatewayResult) -> int | None:
    """Apply the insurer's answer to a delivery: sent, retry later, failed (invalid), or dead letter."""
    dispatch = Dispatch.objects.select_for_update().get(pk=dispatch_id)
    if dispatch.status != Dispatch.Status.PENDING:
        return None
    dispatch.attempts += 1
    if result.invalid:
        _record_invalid(dispatch, result)
        return None
    requests = list(
        EndorsementRequest.objects.select_for_update(of=("self",))
        .filter(dispatch=dispatch, state=RequestState.FUND_LOCKED)
        .order_by("pk")
    )
    if result.accepted:
        dispatch.acknowledge()
        dispatch.save()
        now = timezone.now()
        for request in requests:
            request.mark_sent()  # the FSM checks each one; the shared new values go in one UPDATE
            request.attempts = dispatch.attempts
            request.sent_at = now
        requests_save(requests, transitions=("mark_sent",), also=("attempts",))
        hooks.requests_step(requests, "endorsement.sent", actor="system:dispatch")
        return None
    max_attempts = InsurerProfile.objects.get(insurer_id=dispatch.insurer_id).max_attempts
    dispatch.last_error = result.error[:2000]
    if result.transient and dispatch.attempts < max_attempts:
        delay = backoff_seconds(dispatch.attempts)
        dispatch.next_attempt_at = timezone.now() + datetime.timedelta(seconds=delay)
        dispatch.save()
        EndorsementRequest.objects.filter(pk__in=[r.pk for r in requests]).update(
            attempts=dispatch.attempts, last_error=dispatch.last_error
        )
        logger.warning("endorsement_dispatch_retry", dispatch=dispatch.pk, attempt=dispatch.attempts, delay=delay)
        return delay
    dispatch.dead_letter()
    dispatch.save()
    for request in requests:
        request.attempts = dispatch.attempts
        request.dead_letter(result.error or "The insurer refused the delivery.")
    requests_save(requests, transitions=("dead_letter",), also=("attempts",))
    hooks.requests_step(requests, "endorsement.dead_letter", actor="system:dispatch")
    logger.error("endorsement_dispatch_dead_letter", dispatch=dispatch.pk, attempts=dispatch.attempts)
    return None


def _record_invalid(dispatch: Dispatch, result: GatewayResult) -> None:
    """The insurer refused the content for good: the named requests (or all) fail, their holds are
    voided and HR is told; requests it did not object to go back to the queue for the next window."""
    mine = EndorsementRequest.objects.filter(dispatch=dispatch, state=RequestState.FUND_LOCKED)
    # Lock order of every funding path: EA rows (sorted), then the requests, then the ledger.
    accounts = sorted(set(mine.values_list("employer_id", "currency")))
    for employer_id, currency in accounts:
        ea_lock(employer_id=employer_id, currency=currency)
    requests = list(mine.select_for_update(of=("self",)).order_by("pk"))
    named = {r.tracking_id for r in requests} & set(result.item_errors)
    failing = [r for r in requests if not named or r.tracking_id in named]
    innocent = [r.pk for r in requests if named and r.tracking_id not in named]
    dispatch.refuse(result.error)
    dispatch.save()
    if innocent:
        EndorsementRequest.objects.filter(pk__in=innocent).update(dispatch=None, updated_at=timezone.now())
    voids = []
    for request in failing:
        reason = result.item_errors.get(request.tracking_id) or result.error or "The insurer refused the endorsement."
        request.attempts = dispatch.attempts
        request.fail(f"Refused by the insurer as invalid: {reason}")
        if request.hold_id:
            voids.append(
                HoldVoidOp(
                    hold_id=int(request.hold_id),
                    reason="refused by the insurer as invalid",
                    idempotency_key=f"endorsement:{request.tracking_id}:void",
                )
            )
    if voids:
        funds.ledger_batch(voids)
    additions = [r.member_id for r in failing if r.kind == EndorsementKind.ADDITION]
    if additions:
        Member.objects.filter(pk__in=additions, status=Member.Status.PENDING).update(status=Member.Status.NOT_COVERED)
    requests_save(failing, transitions=("fail",), also=("attempts",))
    hooks.requests_step(failing, "endorsement.failed", actor="system:dispatch")
    logger.error("endorsement_dispatch_invalid", dispatch=dispatch.pk, failed=len(failing), requeued=len(innocent))
    for employer_id, currency in accounts:
        ea_drain(employer_id=employer_id, currency=currency, actor="system:dispatch")
