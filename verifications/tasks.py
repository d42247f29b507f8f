"""Celery tasks of verifications: take ids, call one service."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from verifications import services
from verifications.agents.base import TransientAgentError

# A deadlock or serialization failure between concurrent deliveries is transient; the services
# re-check state first, so a retried run never has a second effect.
TRANSIENT = (TransientAgentError, OperationalError)


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=1,
    retry_backoff_max=30,
    max_retries=8,
    soft_time_limit=60,
    time_limit=90,
)
def task_execute(task_id: int) -> str:
    return services.task_execute(task_id=task_id)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=False,
    max_retries=settings.VERIFICATION_MAX_EXECUTION_ATTEMPTS,
    soft_time_limit=60,
    time_limit=90,
)
def sandbox_report_deliver(self: object, task_id: int, attempt: int) -> str:
    return services.sandbox_report_deliver(task_id=task_id, attempt=attempt)


@shared_task(soft_time_limit=120, time_limit=150)
def tasks_escalate_overdue() -> int:
    return services.tasks_escalate_overdue()


@shared_task(soft_time_limit=120, time_limit=150)
def tasks_sweep_task() -> int:
    return len(services.tasks_sweep())
