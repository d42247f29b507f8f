"""Celery tasks: take ids, call one service. Each is idempotent (re-checks state first)."""

from __future__ import annotations

from celery import shared_task

from endorsements.models import Batch
from endorsements.services import batches, dispatch, funding


@shared_task(acks_late=True, time_limit=900, soft_time_limit=840)
def batch_process_task(batch_id: int) -> None:
    done = batches.batch_process(batch_id=batch_id, after_chunk=_drain_after_chunk)
    if not done:
        batch_process_task.delay(batch_id)  # hand over: a fresh task continues after the last committed row


def _drain_after_chunk(batch: Batch) -> None:
    # Lock funds for what this chunk accepted; one EA per currency of the employer's policies.
    from endorsements.models import EndorsementRequest
    from endorsements.states import RequestState

    currencies = set(
        EndorsementRequest.objects.filter(batch=batch, state=RequestState.VALIDATED)
        .values_list("currency", flat=True)
        .distinct()
    )
    for currency in currencies:
        funding.ea_drain(employer_id=batch.employer_id, currency=currency)


@shared_task(acks_late=True)
def ea_drain_task(employer_id: int, currency: str) -> None:
    funding.ea_drain(employer_id=employer_id, currency=currency)


@shared_task(acks_late=True)
def scheduler_tick_task() -> None:
    dispatch.scheduler_tick()


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100)
def dispatch_send_task(dispatch_id: int) -> None:
    delay = dispatch.dispatch_send(dispatch_id=dispatch_id)
    if delay is not None:
        dispatch_send_task.apply_async((dispatch_id,), countdown=delay)
