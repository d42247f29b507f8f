"""Celery tasks: take ids, call one service. Each is idempotent (re-checks state first)."""

from __future__ import annotations

from celery import shared_task

from endorsements.services import batches, dispatch, forecast, funding, inbox, onboarding
from escrow_project.common.enqueue import enqueue_on_commit


@shared_task(acks_late=True, time_limit=900, soft_time_limit=840)
def batch_process_task(batch_id: int) -> None:
    done = batches.batch_process(batch_id=batch_id)
    if not done:
        enqueue_on_commit(batch_process_task, batch_id)  # hand over: a fresh task continues after the last row
        return
    # A file is the largest change to what waits for funds: warn HR now, not at the next sweep.
    from endorsements.models import Batch

    employer_id = Batch.objects.filter(pk=batch_id).values_list("employer_id", flat=True).first()
    if employer_id is not None:
        forecast.ea_forecast_alerts(employer_id=employer_id)


@shared_task(acks_late=True, time_limit=300, soft_time_limit=280)
def ea_forecast_alerts_task() -> int:
    return forecast.ea_forecast_alerts()


@shared_task(acks_late=True, time_limit=60, soft_time_limit=50)
def dispatches_sweep_task() -> int:
    return len(dispatch.dispatches_sweep())


@shared_task(acks_late=True, time_limit=60, soft_time_limit=50)
def batches_sweep_task() -> int:
    return batches.batches_sweep()


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
        enqueue_on_commit(dispatch_send_task, dispatch_id, countdown=delay)


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1700)
def census_import_task(census_id: int) -> None:
    onboarding.census_process(census_id=census_id)


@shared_task(acks_late=True, time_limit=300, soft_time_limit=280)
def inbox_poll_task(insurer_id: int) -> None:
    inbox.insurer_inbox_poll(insurer_id=insurer_id)


@shared_task(acks_late=True)
def inbox_poll_all_task() -> None:
    """Every SFTP insurer's outbox, each in its own task (one slow server holds up no other)."""
    from endorsements.models import InsurerProfile

    for insurer_id in InsurerProfile.objects.filter(protocol=InsurerProfile.Protocol.SFTP).values_list(
        "insurer_id", flat=True
    ):
        enqueue_on_commit(inbox_poll_task, insurer_id)


@shared_task(acks_late=True)
def metrics_refresh_task() -> None:
    """Requests by state and parked amounts per employer, for Prometheus (gauges, not counters)."""
    from django.db.models import Count, Sum

    from endorsements import metrics
    from endorsements.models import EndorsementRequest
    from endorsements.states import RequestState

    counts = dict(EndorsementRequest.objects.values_list("state").annotate(n=Count("pk")))
    for state in RequestState.values:
        metrics.REQUESTS_BY_STATE.labels(state=state).set(counts.get(state, 0))
    parked = (
        EndorsementRequest.objects.filter(state=RequestState.ON_HOLD_FUNDS)
        .values_list("employer_id", "currency")
        .annotate(total=Sum("amount"))
    )
    for employer_id, currency, total in parked:
        metrics.PARKED_AMOUNT.labels(employer=str(employer_id), currency=currency).set(float(total))
